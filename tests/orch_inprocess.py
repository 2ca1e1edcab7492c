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

    def close(self) -> None:
        self._run(self.orch.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
