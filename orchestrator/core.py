"""CatoOrchestrator: route a query to a model tier with context, cache, breakers and fallback.

Framework-free asyncio; `serve_app.py` wraps it for Ray Serve. Names follow the runbook's
snippets (`route_query`, `_determine_routing`, `circuit_breakers`).
"""
from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from dataclasses import dataclass

from orchestrator.cache_policy import cache_scope_for, is_shared
from orchestrator.chat_request import ChatRequest, Sampling
from orchestrator.faults import FaultSwitch
from orchestrator.identity import scoped
from orchestrator.ports import BackendError, CacheHit, Message, ModelTier, RoutingDecision, StreamUsage
from orchestrator.routing import FALLBACKS
from orchestrator.write_behind import WriteBehind

LOCAL_PRINCIPAL = "local"   # callers inside the process (tests, the runbook's route_query)
_ZERO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


@dataclass(frozen=True)
class _Turn:
    session_key: str | None
    messages: list[Message]
    decision: RoutingDecision
    cache_scope: str | None
    hit: CacheHit | None


def _single_turn(query, session_id, domain, user_id, max_tokens) -> ChatRequest:
    return ChatRequest(model="cato", messages=(Message("user", query),), sampling=Sampling(max_tokens=max_tokens),
                       user=user_id, domain=domain, session_id=session_id)


def _store_key(scope: str, query: str) -> str:
    """The write-behind key of a cache store: one question in one scope."""
    from orchestrator.cache.service import normalise

    return f"cache|{scope}|{normalise(query)}"


def _usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _hit_info(hit: CacheHit) -> dict:
    return {"similarity": round(hit.similarity, 4), "matched": hit.matched_query, "usage_saved": hit.usage}


class NoTierAvailable(Exception):
    """Every tier in the decision's chain is open or failed; carries the last error."""

    def __init__(self, message: str, tried: list[str], last: BackendError | None = None):
        super().__init__(message)
        self.tried, self.last = tried, last


class CatoOrchestrator:
    def __init__(self, config=None, *, backends=None, router=None, breakers=None, cache=None,
                 working=None, memory=None, metrics=None, startup=()):
        self._startup = list(startup)
        self._shutdown: list = []
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
            self._shutdown += built.shutdown or []
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
        self.faults = FaultSwitch()  # the admin fault switch (orchestrator/faults.py): off until POST /admin/faults
        self.cache = cache
        self.working = working
        self.memory = memory
        self.consolidation_pipeline = getattr(memory, "consolidation", None)
        self.metrics = metrics
        serve = getattr(config, "serve", None)
        self.writes = (WriteBehind(serve.write_concurrency, serve.max_pending_writes) if serve is not None
                       else WriteBehind())
        from orchestrator.models_catalog import LEGACY_ALIASES, ModelCatalog

        self.catalog = (ModelCatalog(config.model_aliases, config.routed_models) if config
                        else ModelCatalog(LEGACY_ALIASES))

    def pins(self, model: str) -> bool:
        """Whether a model name pins a tier (the answer then carries that name, as LiteLLM's does)."""
        return self.catalog.resolve(model) is not None

    def _determine_routing(self, query: str, domain: str = "general") -> RoutingDecision:
        return self.router.decide(query, domain)

    async def route_query(self, query: str, session_id: str | None = None, domain: str = "general",
                          user_id: str | None = None, max_tokens: int = 256, *, principal: str = LOCAL_PRINCIPAL) -> dict:
        """One new user turn (the runbook's entry point): session memory fills in the history.
        Memory and cache are written before it returns (the HTTP path writes them behind the reply)."""
        return await self.chat(_single_turn(query, session_id, domain, user_id, max_tokens), principal,
                               write_behind=False)

    async def stream_query(self, query: str, session_id: str | None = None, domain: str = "general",
                           user_id: str | None = None, max_tokens: int = 256, *, principal: str = LOCAL_PRINCIPAL):
        async for ev in self.chat_stream(_single_turn(query, session_id, domain, user_id, max_tokens), principal,
                                         write_behind=False):
            yield ev

    async def chat(self, request: ChatRequest, principal: str, *, write_behind: bool = True) -> dict:
        """Answer a chat request as the client sent it (see `_prepare` for what the model sees).
        With `write_behind`, the session turn and the cache store run after the reply
        (orchestrator/write_behind.py)."""
        t0 = time.perf_counter()
        turn = await self._prepare(request, principal)
        if turn.hit is not None:
            await self._remember(turn.session_key, request.query, turn.hit.answer, write_behind)
            return self._result(turn.hit.answer, turn.decision.primary_model, turn.decision, True, None,
                                request, principal, t0, usage=_ZERO_USAGE, cache=_hit_info(turn.hit))
        completion, fallback_from = await self._complete(turn.decision, turn.messages, request.sampling)
        usage = _usage(completion.input_tokens, completion.output_tokens)
        if turn.cache_scope is not None and fallback_from is None:
            await self._store(turn.cache_scope, request.query, completion.text, usage, write_behind)
        await self._remember(turn.session_key, request.query, completion.text, write_behind)
        return self._result(completion.text, completion.tier, turn.decision, False, fallback_from, request,
                            principal, t0, usage=usage, finish_reason=completion.finish_reason,
                            hidden_states=completion.hidden_states)

    async def chat_stream(self, request: ChatRequest, principal: str, *, write_behind: bool = True):
        """Like `chat`, but yields events as the model produces text:
        {"type": "start", model, cached, route_reason, fallback_from, session_id}, then
        {"type": "delta", "text"}..., then {"type": "end", "result": <chat's dict>}.
        A tier that fails before its first token falls back like `chat`; once text has
        been sent, a failure ends the stream with the error (a half answer cannot switch tiers)."""
        t0 = time.perf_counter()
        turn = await self._prepare(request, principal)
        decision = turn.decision
        if turn.hit is not None:
            yield {"type": "start", "model": decision.primary_model.value, "cached": True,
                   "route_reason": decision.reason, "fallback_from": None, "session_id": request.session_id}
            yield {"type": "delta", "text": turn.hit.answer}
            await self._remember(turn.session_key, request.query, turn.hit.answer, write_behind)
            yield {"type": "end", "result": self._result(turn.hit.answer, decision.primary_model, decision, True,
                                                         None, request, principal, t0, usage=_ZERO_USAGE,
                                                         cache=_hit_info(turn.hit))}
            return
        tier, first, chunks, fallback_from = await self._first_token(decision, turn.messages, request.sampling)
        yield {"type": "start", "model": tier.value, "cached": False, "route_reason": decision.reason,
               "fallback_from": fallback_from.value if fallback_from else None, "session_id": request.session_id}
        parts, reported = [], None
        for piece in [first]:
            if isinstance(piece, str) and piece:
                parts.append(piece)
                yield {"type": "delta", "text": piece}
            elif isinstance(piece, StreamUsage):
                reported = piece
        try:
            async for piece in chunks:
                if isinstance(piece, StreamUsage):
                    reported = piece
                    continue
                parts.append(piece)
                yield {"type": "delta", "text": piece}
        except BackendError as exc:
            self.circuit_breakers[tier].record_failure(exc.kind)
            self._count_error(tier, exc.kind)
            raise
        self.circuit_breakers[tier].record_success()
        text = "".join(parts)
        usage = _usage(reported.input_tokens, reported.output_tokens) if reported else None
        if turn.cache_scope is not None and fallback_from is None:
            await self._store(turn.cache_scope, request.query, text, usage, write_behind)
        await self._remember(turn.session_key, request.query, text, write_behind)
        yield {"type": "end", "result": self._result(
            text, tier, decision, False, fallback_from, request, principal, t0, usage=usage,
            finish_reason=reported.finish_reason if reported else "stop")}

    async def _prepare(self, request: ChatRequest, principal: str) -> "_Turn":
        """What the model will see, the routing decision, the cache scope and any cache hit.

        The rule (README, "Conversation and session memory"): the client's messages are the
        conversation. When the client sent earlier turns, the model sees exactly those; when it
        sent only its new turn (system messages aside) with a session, the session's stored
        history fills in between the system messages and the new turn. Session ids and users
        are namespaced by the caller's principal, so another caller's id reads nothing.
        """
        if not self._started:
            await self._start()
        session_key = scoped(principal, request.session_id)
        pinned = self.catalog.resolve(request.model) if self.catalog is not None else None
        history: list[Message] = list(request.client_history)
        early: tuple[str, asyncio.Task] | None = None
        if not history and session_key:
            await self.writes.settle(session_key)  # the previous turn's write-behind, if still running
            cached = getattr(self.working, "cached_history", None)
            stored = await cached(session_key, self._turns()) if cached is not None else None
            if stored is None:
                # Redis does not hold it (a new session, or an evicted one): while the durable copy is
                # read, the lookup the question gets if the history is empty runs alongside, so a new
                # session's first turn waits for the slower of the two, not for both in a row.
                scope = self._cache_scope(request, principal, pinned, [])
                if cached is not None and scope is not None and is_shared(scope):
                    early = scope, asyncio.ensure_future(self._lookup(scope, request.query))
                try:
                    stored = await self.working.history(session_key, self._turns())
                except BaseException:
                    if early is not None:
                        early[1].cancel()
                    raise
            history = list(stored)
        messages = [*request.system, *history, request.messages[-1]]
        if pinned is not None:
            # a pinned model is not scored: the router's features were ~5% of the replica's event loop
            # at 200 concurrent sessions, for a score nothing read
            decision = RoutingDecision(pinned, FALLBACKS[pinned], f"pinned: model '{request.model}'")
        else:
            decision = self._determine_routing(request.query, request.domain)
        scope = self._cache_scope(request, principal, pinned, history)
        hit = None
        if early is not None and early[0] == scope:
            hit = await early[1]
        else:
            if early is not None:
                early[1].cancel()  # there was history: that answer is not this question's
            if scope is not None:
                hit = await self._lookup(scope, request.query)
        return _Turn(session_key, messages, decision, scope, hit)

    def _cache_scope(self, request: ChatRequest, principal: str, pinned: ModelTier | None,
                     history: list[Message]) -> str | None:
        if self.cache is None:
            return None
        max_temp = self.config.cache.max_temperature if self.config else 1.0
        return cache_scope_for(request, principal, pinned, history, max_temperature=max_temp)

    async def _lookup(self, scope: str, query: str) -> CacheHit | None:
        # the same question's store, still behind its reply, lands first (only that one: waiting for
        # every pending store of a shared scope queued each lookup behind all of them under load)
        await self.writes.settle(_store_key(scope, query))
        # Private scopes are keyed by the whole context, so a paraphrase hit there is unlikely:
        # exact match only, no embedding (~5 ms of CPU saved on every session turn).
        return await self.cache.lookup(query, scope=scope, exact_only=not is_shared(scope))

    async def _first_token(self, decision: RoutingDecision, messages: list[Message], sampling: Sampling):
        tried: list[str] = []
        last: BackendError | None = None
        for tier in [decision.primary_model, *decision.fallbacks]:
            breaker = self.circuit_breakers[tier]
            if tier not in self.backends or not breaker.can_execute():
                tried.append(f"{tier.value}: {'no backend' if tier not in self.backends else 'breaker open'}")
                continue
            chunks = self.backends[tier].stream(messages, **sampling.backend_kwargs())
            try:
                self.faults.check(tier)  # while its admin fault switch is on, the tier fails here as its backend would
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
        if not hasattr(self, "_start_lock"):
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if not self._started:
                for hook in self._startup:
                    await hook()
                self._started = True

    async def _complete(self, decision: RoutingDecision, messages: list[Message], sampling: Sampling):
        chain = [decision.primary_model, *decision.fallbacks]
        tried: list[str] = []
        last: BackendError | None = None
        for tier in chain:
            breaker = self.circuit_breakers[tier]
            if tier not in self.backends or not breaker.can_execute():
                tried.append(f"{tier.value}: {'no backend' if tier not in self.backends else 'breaker open'}")
                continue
            try:
                self.faults.check(tier)  # while its admin fault switch is on, the tier fails here as its backend would
                completion = await self.backends[tier].complete(messages, **sampling.backend_kwargs())
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

    async def _remember(self, session_key: str | None, query: str, answer: str, write_behind: bool) -> None:
        if not session_key:
            return

        async def write() -> None:
            exchange = getattr(self.working, "append_exchange", None)
            if exchange is not None:   # one durable write and one Redis call for both turns
                await exchange(session_key, Message("user", query), Message("assistant", answer))
                return
            await self.working.append(session_key, Message("user", query))
            await self.working.append(session_key, Message("assistant", answer))

        if write_behind:
            self.writes.submit(session_key, write, "session turn")
        else:
            await write()

    async def _store(self, scope: str, query: str, answer: str, usage: dict | None, write_behind: bool) -> None:
        async def write() -> None:
            await self.cache.store(query, answer, scope=scope, usage=usage, exact_only=not is_shared(scope))

        if write_behind:
            self.writes.submit(_store_key(scope, query), write, "cache store")
        else:
            await write()

    def _turns(self) -> int:
        return self.config.history_turns if self.config else 20

    def _count_error(self, tier: ModelTier, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.error(tier.value, kind)

    def _result(self, text, tier, decision, cached, fallback_from, request: ChatRequest, principal: str, t0,
                *, usage=None, finish_reason: str = "stop", **extra) -> dict:
        latency_ms = (time.perf_counter() - t0) * 1000
        if self.metrics is not None:
            self.metrics.request(tier.value, cached, latency_ms / 1000)
        extra.update(self._cost(tier, cached, usage, extra.get("cache")))
        return {"response": text, "model": tier.value, "tier": tier, "cached": cached,
                "route_reason": decision.reason, "fallback_from": fallback_from.value if fallback_from else None,
                "session_id": request.session_id, "principal": principal, "requested_model": request.model,
                "display_model": request.model if self.pins(request.model) else tier.value,
                "usage": usage, "finish_reason": finish_reason, "dropped_params": list(request.dropped),
                "latency_ms": round(latency_ms, 3), **extra}

    def _cost(self, tier: ModelTier, cached: bool, usage: dict | None, cache: dict | None) -> dict:
        """{"cost_usd"} (0 for a cache hit, whose `cache.cost_saved_usd` says what it saved), counted in the
        cost series; {} when no prices are configured (cost not measured)."""
        table = getattr(self.config, "pricing", None)
        if table is None:
            return {}
        from orchestrator.pricing import answer_cost

        if cached:
            saved = answer_cost(table, tier, (cache or {}).get("usage_saved"))
            if cache is not None:
                cache["cost_saved_usd"] = None if saved is None else round(saved, 8)
            usd, counted = 0.0, saved
        else:
            usd = counted = answer_cost(table, tier, usage)
        if self.metrics is not None:
            self.metrics.cost(tier.value, cached, counted)
        return {"cost_usd": None if usd is None else round(usd, 8)}

    async def close(self) -> None:
        await self.writes.flush()  # nothing answered is lost on a graceful shutdown
        for b in self.backends.values():
            await b.close()
        for hook in self._shutdown:
            await hook()


def new_session_id() -> str:
    return uuid.uuid4().hex
