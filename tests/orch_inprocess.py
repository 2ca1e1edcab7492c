"""An OrchestratorApi over an in-process CatoOrchestrator (tests only): the probes' logic
runs against the real core, real simulator, Redis and moto, without Ray."""
from __future__ import annotations

import asyncio
import threading

from orchestrator.openai_format import completion_payload
from orchestrator.ports import ModelTier


class InProcessApi:
    def __init__(self, orchestrator):
        self.orch = orchestrator
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)

    def health(self) -> dict:
        return {"ok": True, "breakers": {t.value: b.state for t, b in self.orch.circuit_breakers.items()}}

    def chat(self, query, *, session_id=None, domain="general") -> dict:
        return completion_payload(self._run(self.orch.route_query(query, session_id=session_id, domain=domain)))

    def breakers(self) -> dict:
        return {t.value: b.snapshot() for t, b in self.orch.circuit_breakers.items()}

    def reset_breakers(self) -> None:
        from orchestrator.breaker import BreakerBoard

        kw = self.orch.config.breaker.model_dump() if self.orch.config else {}
        self.orch.circuit_breakers = BreakerBoard(list(ModelTier), **kw)

    # -- memory admin: the same functions the Serve app's /admin/memory/* endpoints call --------
    def _admin(self, fn, *args):
        from cato_migrate.errors import ExternalError
        from orchestrator.memory.admin import AdminError

        try:
            return self._run(fn(self.orch, *args))
        except AdminError as exc:  # what OrchestratorHttp raises for the HTTP error answer
            raise ExternalError(f"orchestrator admin answered {exc.status}: {exc.message}") from exc

    def add_episode(self, episode: dict) -> dict:
        from orchestrator.memory import admin

        return self._admin(admin.add_episode, episode)

    def search_episodes(self, query, *, k=5, user_id=None) -> dict:
        from orchestrator.memory import admin

        return self._admin(admin.search_episodes, {"query": query, "k": k, "user_id": user_id})

    def consolidate(self, *, session_id=None, interaction=None, domain="general", principal=None) -> dict:
        from orchestrator.memory import admin

        body = {"domain": domain, **({"session_id": session_id} if session_id else {}),
                **({"interaction": interaction} if interaction else {}),
                **({"principal": principal} if principal else {})}
        return self._admin(admin.consolidate, body)

    def facts(self, domain: str) -> dict:
        from orchestrator.memory import admin

        return self._admin(admin.facts, domain)

    def delete_fact(self, domain: str, fact_id: str) -> None:
        from orchestrator.memory import admin

        self._admin(admin.delete_fact, {"domain": domain, "fact_id": fact_id})

    def read_latency(self, n: int = 200) -> dict:
        from orchestrator.memory import admin

        return self._admin(admin.read_latency, {"n": n})

    def close(self) -> None:
        self._run(self.orch.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
