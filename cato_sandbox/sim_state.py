"""The model simulator's running state: config, fault dice, counters, and turning a `Turn` into
an `Answer` (or a fault) with the configured latency.

Shared by the API handlers (`sim_routes`) and the admin API (`model_simulator`).
"""
from __future__ import annotations

import asyncio
import re
from typing import Any, AsyncIterator

from aiohttp import web

from cato_sandbox import sim_config, sim_responder
from cato_sandbox.sim_wire import Answer, Turn

# "SIM_FAULT:content_filter" in the last user turn forces that fault for this one request, so an
# end-to-end test can trigger one refusal without changing the config for everyone else.
_FORCED = re.compile(r"\bSIM_FAULT:(throttle|error|timeout|content_filter)\b")


class Simulator:
    def __init__(self, config: dict[str, Any] | None = None):
        self.initial = sim_config.default_config(**(config or {}))
        self.closing = asyncio.Event()  # set on shutdown: wakes requests hanging on a timeout fault
        self.reset()

    def reset(self) -> None:
        """Back to the start-up config, a fresh seed sequence and zero counters."""
        self.config = sim_config.merge(self.initial, {})
        self.dice = sim_config.Dice(self.config["seed"])
        self.stats = sim_config.Stats()

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge `changes` (ConfigError if invalid) and re-seed, so a test that sets rates and
        then sends N requests always sees the same faults."""
        self.config = sim_config.merge(self.config, changes)
        self.dice = sim_config.Dice(self.config["seed"])
        return self.config

    def take_endpoint_fault(self, endpoint: str) -> str | None:
        """The answer fault planted for this endpoint, if any (counting one use of it)."""
        fault = self.config["endpoint_faults"].get(endpoint)
        if fault is None:
            return None
        if fault["remaining"] is not None:
            fault["remaining"] -= 1
            if fault["remaining"] <= 0:
                del self.config["endpoint_faults"][endpoint]
        return fault["mode"]

    def tier_of(self, model: str) -> str:
        return sim_responder.tier_for(model, self.config["default_tier"])

    async def admit(self, turn: Turn) -> tuple[str, str | None, dict[str, float]]:
        """Count the request and roll for a fault: (tier, fault or None, tier settings).
        A timeout fault returns only after hanging for the tier's `timeout_hang_s`."""
        tier = self.tier_of(turn.model)
        settings = self.config["tiers"][tier]
        self.stats.record(tier, turn.api, turn.model)
        fault = self.dice.draw(tier, settings)  # drawn before any await: arrival order decides
        last_user = next((m["content"] for m in reversed(turn.messages) if m["role"] == "user"), "")
        forced = _FORCED.search(last_user)
        if forced:
            fault = forced.group(1)
        if fault is None:  # a drill's fault planted on the routes one stack uses (route_faults)
            failed, latency_ms = sim_config.route_fault(self.config, turn.api, turn.model, last_user)
            if latency_ms > 0:
                await asyncio.sleep(latency_ms / 1000)
            if failed:
                fault = "error"
        if fault is not None:
            self.stats.fault(tier, fault)
            if fault == "timeout":
                await self.hang(settings["timeout_hang_s"])
        return tier, fault, settings

    async def hang(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.closing.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    def answer(self, turn: Turn, tier: str) -> Answer:
        text = sim_responder.respond(turn.messages, turn.model, tier)
        toks = sim_responder.tokens(text)
        finish = "stop"
        if len(toks) > turn.max_tokens:
            toks, finish = toks[:turn.max_tokens], "length"
            text = "".join(toks)
        prompt = [m["content"] for m in turn.messages]
        return Answer(text, toks, finish, sim_responder.count_tokens(prompt), tier,
                      self.shadow_fields("\n".join(prompt)) if sim_responder.is_shadow(turn.model) else None)

    def shadow_fields(self, prompt: str) -> dict[str, Any]:
        """Shadow Self's extra output: the prompt's pooled hidden state and where it came from."""
        size = self.config["hidden_size"]
        return {"hidden_states": sim_responder.hidden_states(prompt, size),
                "hidden_state_layers": {"layer": self.config["hidden_layer"], "pooling": "mean",
                                        "size": size, "source": "prompt"}}


SIM = web.AppKey("simulator", Simulator)


async def pace(settings: dict[str, float], n_tokens: int) -> None:
    """The latency of a whole (non-streamed) answer: time to first token, then per token."""
    delay = settings["ttft_ms"] + settings["per_token_ms"] * max(n_tokens - 1, 0)
    if delay > 0:
        await asyncio.sleep(delay / 1000)


async def paced(settings: dict[str, float], items: list[str]) -> AsyncIterator[str]:
    """Yield streamed tokens: the first after ttft_ms, each next one after per_token_ms."""
    for i, item in enumerate(items):
        delay = settings["ttft_ms"] if i == 0 else settings["per_token_ms"]
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        yield item
