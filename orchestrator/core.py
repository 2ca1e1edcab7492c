"""CatoOrchestrator: route a query to a model tier with context, cache, breakers and fallback.

Framework-free asyncio; `serve_app.py` wraps it for Ray Serve. Names follow the runbook's
snippets (`route_query`, `_determine_routing`, `circuit_breakers`).
"""
from __future__ import annotations

import time
import uuid
from typing import Any

from orchestrator.context_scope import cache_scope
from orchestrator.ports import BackendError, Message, ModelTier, RoutingDecision


class NoTierAvailable(Exception):
    """Every tier in the decision's chain is open or failed; carries the last error."""

    def __init__(self, message: str, tried: list[str], last: BackendError | None = None):
        super().__init__(message)
        self.tried, self.last = tried, last


class CatoOrchestrator:
    def __init__(self, config=None, *, backends=None, router=None, breakers=None, cache=None,
                 working=None, memory=None, metrics=None, startup=()):
        self._startup = list(startup)
        self._started = False
        if backends is None or working is None:
            from orchestrator.wiring import build_components

            built = build_components(config)
            config = built.config
            backends = backends if backends is not None else built.backends
            working = working if working is not None else built.working
            cache = cache if cache is not None else built.cache
            memory = memory if memory is not None else built.memory
            self._startup += built.startup or []
        self.config = config
        self.backends: dict[ModelTier, Any] = backends
        if router is None:
            from orchestrator.routing import ComplexityRouter

            domains = frozenset(config.shadow_self_domains) if config else frozenset()
            router = ComplexityRouter(shadow_self_domains=domains)
        self.router = router
        if breakers is None:
            from orchestrator.breaker import BreakerBoard

            kw = config.breaker.model_dump() if config else {}
            breakers = BreakerBoard(list(ModelTier), **kw)
        self.circuit_breakers = breakers
        self.cache = cache
        self.working = working
        self.memory = memory
        self.consolidation_pipeline = getattr(memory, "consolidation", None)
        self.metrics = metrics

    def _determine_routing(self, query: str, domain: str = "general") -> RoutingDecision:
        return self.router.decide(query, domain)

    async def route_query(self, query: str, session_id: str | None = None, domain: str = "general",
                          user_id: str | None = None, max_tokens: int = 256) -> dict:
        t0 = time.perf_counter()
        history, decision, scope, hit = await self._prepare(query, session_id, domain, user_id)
        if hit is not None:
            await self._remember(session_id, query, hit.answer)
            return self._result(hit.answer, decision.primary_model, decision, True, None, session_id, t0,
                                cache={"similarity": round(hit.similarity, 4), "matched": hit.matched_query,
                                       "scope": hit.scope})
        messages = history + [Message("user", query)]
        completion, fallback_from = await self._complete(decision, messages, max_tokens)
        if self.cache is not None and scope is not None:
            await self.cache.store(query, completion.text, scope=scope)
        await self._remember(session_id, query, completion.text)
        return self._result(completion.text, completion.tier, decision, False, fallback_from, session_id, t0,
                            hidden_states=completion.hidden_states)

    async def stream_query(self, query: str, session_id: str | None = None, domain: str = "general",
                           user_id: str | None = None, max_tokens: int = 256):
        """Like route_query, but yields events as the model produces text:
        {"type": "start", model, cached, route_reason, fallback_from, session_id}, then
        {"type": "delta", "text"}..., then {"type": "end", "result": <route_query's dict>}.
        A tier that fails before its first token falls back like route_query; once text has
        been sent, a failure ends the stream with the error (a half answer cannot switch tiers)."""
        t0 = time.perf_counter()
        history, decision, scope, hit = await self._prepare(query, session_id, domain, user_id)
        if hit is not None:
            yield {"type": "start", "model": decision.primary_model.value, "cached": True,
                   "route_reason": decision.reason, "fallback_from": None, "session_id": session_id}
            yield {"type": "delta", "text": hit.answer}
            await self._remember(session_id, query, hit.answer)
            yield {"type": "end", "result": self._result(hit.answer, decision.primary_model, decision, True,
                                                         None, session_id, t0)}
            return
        messages = history + [Message("user", query)]
        tier, first, chunks, fallback_from = await self._first_token(decision, messages, max_tokens)
        yield {"type": "start", "model": tier.value, "cached": False, "route_reason": decision.reason,
               "fallback_from": fallback_from.value if fallback_from else None, "session_id": session_id}
        parts = [first]
        yield {"type": "delta", "text": first}
        try:
            async for delta in chunks:
                parts.append(delta)
                yield {"type": "delta", "text": delta}
        except BackendError as exc:
            self.circuit_breakers[tier].record_failure(exc.kind)
            self._count_error(tier, exc.kind)
            raise
        self.circuit_breakers[tier].record_success()
        text = "".join(parts)
        if self.cache is not None and scope is not None:
            await self.cache.store(query, text, scope=scope)
        await self._remember(session_id, query, text)
        yield {"type": "end", "result": self._result(text, tier, decision, False, fallback_from, session_id, t0)}

    async def _prepare(self, query, session_id, domain, user_id):
        """History, routing decision, cache scope and any cache hit for a query."""
        if not self._started:
            await self._start()
        history = await self.working.history(session_id, self._turns()) if session_id else []
        decision = self._determine_routing(query, domain)
        scope = cache_scope(query, user_id=user_id, session_id=session_id)
        hit = None
        if self.cache is not None and scope is not None:
            hit = await self.cache.lookup(query, scope=scope)
        return history, decision, scope, hit

    async def _first_token(self, decision: RoutingDecision, messages: list[Message], max_tokens: int):
        tried: list[str] = []
        last: BackendError | None = None
        for tier in [decision.primary_model, *decision.fallbacks]:
            breaker = self.circuit_breakers[tier]
            if tier not in self.backends or not breaker.can_execute():
                tried.append(f"{tier.value}: {'no backend' if tier not in self.backends else 'breaker open'}")
                continue
            chunks = self.backends[tier].stream(messages, max_tokens=max_tokens)
            try:
                first = await chunks.__anext__()
            except StopAsyncIteration:
                first = ""
            except BackendError as exc:
                breaker.record_failure(exc.kind)
                self._count_error(tier, exc.kind)
                tried.append(f"{tier.value}: {exc.kind}")
                last = exc
                if not exc.counts_for_breaker:
                    raise
                continue
            return tier, first, chunks, (decision.primary_model if tier != decision.primary_model else None)
        raise NoTierAvailable("no model tier could answer: " + "; ".join(tried), tried, last)

    async def _start(self) -> None:
        import asyncio

        if not hasattr(self, "_start_lock"):
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if not self._started:
                for hook in self._startup:
                    await hook()
                self._started = True

    async def _complete(self, decision: RoutingDecision, messages: list[Message], max_tokens: int):
        chain = [decision.primary_model, *decision.fallbacks]
        tried: list[str] = []
        last: BackendError | None = None
        for tier in chain:
            breaker = self.circuit_breakers[tier]
            if tier not in self.backends or not breaker.can_execute():
                tried.append(f"{tier.value}: {'no backend' if tier not in self.backends else 'breaker open'}")
                continue
            try:
                completion = await self.backends[tier].complete(messages, max_tokens=max_tokens)
            except BackendError as exc:
                breaker.record_failure(exc.kind)
                self._count_error(tier, exc.kind)
                tried.append(f"{tier.value}: {exc.kind}")
                last = exc
                if not exc.counts_for_breaker:
                    raise  # a refusal or a bad request would fail the same way on every tier
                continue
            breaker.record_success()
            fallback_from = decision.primary_model if tier != decision.primary_model else None
            return completion, fallback_from
        raise NoTierAvailable("no model tier could answer: " + "; ".join(tried), tried, last)

    async def _remember(self, session_id: str | None, query: str, answer: str) -> None:
        if session_id:
            await self.working.append(session_id, Message("user", query))
            await self.working.append(session_id, Message("assistant", answer))

    def _turns(self) -> int:
        return self.config.history_turns if self.config else 20

    def _count_error(self, tier: ModelTier, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.error(tier.value, kind)

    def _result(self, text, tier, decision, cached, fallback_from, session_id, t0, **extra) -> dict:
        latency_ms = (time.perf_counter() - t0) * 1000
        if self.metrics is not None:
            self.metrics.request(tier.value, cached, latency_ms / 1000)
        return {"response": text, "model": tier.value, "tier": tier, "cached": cached,
                "route_reason": decision.reason, "fallback_from": fallback_from.value if fallback_from else None,
                "session_id": session_id, "latency_ms": round(latency_ms, 3), **extra}

    async def close(self) -> None:
        for b in self.backends.values():
            await b.close()


def new_session_id() -> str:
    return uuid.uuid4().hex
