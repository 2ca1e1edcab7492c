"""Fakes for orchestrator unit tests only."""
from __future__ import annotations

from orchestrator.ports import BackendError, CacheHit, Completion, Message, ModelTier


class FakeBackend:
    def __init__(self, tier: ModelTier, fail_with: str | None = None):
        self.tier, self.fail_with, self.calls = tier, fail_with, []

    async def complete(self, messages, *, max_tokens=256, temperature=0.0, top_p=None, stop=()) -> Completion:
        self.calls.append(list(messages))
        self.params = {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p, "stop": stop}
        if self.fail_with:
            raise BackendError(self.fail_with, f"planted {self.fail_with}", tier=self.tier)
        seen = " | ".join(m.content for m in messages)
        return Completion(text=f"[{self.tier.value}] {seen}", tier=self.tier, model_id=self.tier.value)

    async def stream(self, messages, *, max_tokens=256, temperature=0.0, top_p=None, stop=()):
        completion = await self.complete(messages, max_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=stop)
        for i, word in enumerate(completion.text.split(" ")):
            yield word if i == 0 else " " + word

    async def close(self) -> None:
        pass


class FakeWorking:
    def __init__(self):
        self.sessions: dict[str, list[Message]] = {}
        self.exchanges = 0   # how many exchanges were stored with one append_exchange call

    async def append(self, session_id, message):
        self.sessions.setdefault(session_id, []).append(message)

    async def append_exchange(self, session_id, user, assistant):
        self.exchanges += 1
        await self.append(session_id, user)
        await self.append(session_id, assistant)

    async def history(self, session_id, limit=20):
        return self.sessions.get(session_id, [])[-limit:]


class ExactCache:
    """Exact-text cache per scope: enough to test scoping in the core."""

    def __init__(self):
        self.scopes: dict[str, dict[str, str]] = {}

    async def lookup(self, query, *, scope="global", exact_only=False):
        ans = self.scopes.get(scope, {}).get(query)
        return CacheHit(ans, 1.0, query, scope) if ans is not None else None

    async def store(self, query, answer, *, scope="global", usage=None, exact_only=False):
        self.scopes.setdefault(scope, {})[query] = answer
