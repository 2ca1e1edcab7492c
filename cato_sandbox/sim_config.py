"""The model simulator's knobs (latency and fault rates per tier), its fault dice and counters.

Schema (GET/PUT /admin/config; PUT merges what it is given and re-seeds the dice):

    {"seed": 0, "hidden_size": 64, "hidden_layer": -1, "default_tier": "shadow_self",
     "invocations_model": "shadow-self", "endpoint_faults": {},
     "tiers": {"bedrock_haiku": {"ttft_ms": 0, "per_token_ms": 0, "error_rate": 0,
                                 "throttle_rate": 0, "timeout_rate": 0,
                                 "content_filter_rate": 0, "timeout_hang_s": 30}, ...}}

`"route_faults"` are faults per API route and model, for planting a fault on one stack only
(the drill `cato-migrate sandbox fault`): both stacks end here, through different routes:
`{"<api>" or "<api>/<model glob>": {"error_rate": F, "latency_ms": MS}}`, api one of openai,
bedrock, sagemaker; a PUT replaces the whole object. Whether a request fails is decided by a hash
of its last user turn (see `route_fault`), not by dice, so the tries a stack makes for one user
request (retries, fallback to another tier) all fail alike and the stack's error rate is F.

`"tiers": {"*": {...}}` applies to every tier. The four rates are probabilities of one draw
per request (they must add up to at most 1). Each tier has its own `random.Random` seeded by
(seed, tier), so the same seed and the same request sequence give the same faults, however
other tiers' traffic interleaves.
"""
from __future__ import annotations

import copy
import fnmatch
import hashlib
import random
from collections import Counter
from typing import Any

from cato_sandbox.sim_responder import TIERS

RATES = ("throttle_rate", "error_rate", "timeout_rate", "content_filter_rate")
FAULT_OF_RATE = {"throttle_rate": "throttle", "error_rate": "error", "timeout_rate": "timeout",
                 "content_filter_rate": "content_filter"}
TIER_DEFAULTS: dict[str, float] = {"ttft_ms": 0.0, "per_token_ms": 0.0, "error_rate": 0.0,
                                   "throttle_rate": 0.0, "timeout_rate": 0.0,
                                   "content_filter_rate": 0.0, "timeout_hang_s": 30.0}
TOP_DEFAULTS: dict[str, Any] = {"seed": 0, "hidden_size": 64, "hidden_layer": -1,
                                "default_tier": "shadow_self", "invocations_model": "shadow-self",
                                "endpoint_faults": {}, "route_faults": {}}
# Planted per-endpoint answer faults (SageMaker invocations only): {"<endpoint>": {"mode": M,
# "remaining": N or null}}; "remaining" counts the invocations still to fault (null: until cleared).
ENDPOINT_FAULT_MODES = ("no_hidden_states", "constant_hidden_states", "nan_hidden_states",
                        "empty_text", "nli_flip")


class ConfigError(ValueError):
    """A config update the simulator refuses (answered with 400)."""


def default_config(**overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {**TOP_DEFAULTS, "tiers": {t: dict(TIER_DEFAULTS) for t in TIERS}}
    return merge(cfg, overrides) if overrides else cfg


def merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A new, validated config: `update` merged over `current` (neither is modified)."""
    if not isinstance(update, dict):
        raise ConfigError("config must be a JSON object")
    cfg = copy.deepcopy(current)
    for key, value in update.items():
        if key == "tiers":
            _merge_tiers(cfg["tiers"], value)
        elif key in TOP_DEFAULTS:
            cfg[key] = _top_value(key, value)
        else:
            raise ConfigError(f"unknown config key {key!r}; known: tiers, {', '.join(TOP_DEFAULTS)}")
    return cfg


def _merge_tiers(tiers: dict[str, dict[str, float]], update: Any) -> None:
    if not isinstance(update, dict):
        raise ConfigError("'tiers' must be an object of tier -> settings")
    for name, settings in update.items():
        targets = list(tiers) if name == "*" else [name]
        if name != "*" and name not in tiers:
            raise ConfigError(f"unknown tier {name!r}; known: {', '.join(tiers)} (or '*')")
        if not isinstance(settings, dict):
            raise ConfigError(f"settings of tier {name!r} must be an object")
        for target in targets:
            for key, value in settings.items():
                if key not in TIER_DEFAULTS:
                    raise ConfigError(f"unknown tier setting {key!r}; known: {', '.join(TIER_DEFAULTS)}")
                tiers[target][key] = _tier_value(key, value)
            if sum(tiers[target][r] for r in RATES) > 1.0 + 1e-9:
                raise ConfigError(f"tier {target!r}: {' + '.join(RATES)} must not exceed 1")


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    return float(value)


def _tier_value(key: str, value: Any) -> float:
    number = _number(key, value)
    if key in RATES and not 0.0 <= number <= 1.0:
        raise ConfigError(f"{key} must be between 0 and 1, got {number}")
    if number < 0:
        raise ConfigError(f"{key} must not be negative, got {number}")
    return number


def _endpoint_faults(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise ConfigError("endpoint_faults must be an object of endpoint name -> fault")
    out: dict[str, dict[str, Any]] = {}
    for name, fault in value.items():
        fault = {"mode": fault} if isinstance(fault, str) else fault
        if not isinstance(fault, dict) or fault.get("mode") not in ENDPOINT_FAULT_MODES:
            raise ConfigError(f"endpoint_faults[{name!r}]: mode must be one of {', '.join(ENDPOINT_FAULT_MODES)}")
        remaining = fault.get("remaining")
        if remaining is not None and (isinstance(remaining, bool) or not isinstance(remaining, int)
                                      or remaining < 1):
            raise ConfigError(f"endpoint_faults[{name!r}]: remaining must be a positive integer or null")
        if set(fault) - {"mode", "remaining"}:
            raise ConfigError(f"endpoint_faults[{name!r}]: only 'mode' and 'remaining' are known")
        out[str(name)] = {"mode": fault["mode"], "remaining": remaining}
    return out


APIS = ("openai", "bedrock", "sagemaker")


def _route_faults(value: Any) -> dict[str, dict[str, float]]:
    if not isinstance(value, dict):
        raise ConfigError("route_faults must be an object of '<api>[/<model glob>]' -> fault")
    out: dict[str, dict[str, float]] = {}
    for selector, fault in value.items():
        api = str(selector).split("/", 1)[0]
        if api not in APIS:
            raise ConfigError(f"route_faults[{selector!r}]: the api must be one of {', '.join(APIS)}")
        if not isinstance(fault, dict) or set(fault) - {"error_rate", "latency_ms"}:
            raise ConfigError(f"route_faults[{selector!r}]: an object with error_rate and/or latency_ms")
        rate = _number("error_rate", fault.get("error_rate", 0.0))
        latency = _number("latency_ms", fault.get("latency_ms", 0.0))
        if not 0.0 <= rate <= 1.0:
            raise ConfigError(f"route_faults[{selector!r}]: error_rate must be between 0 and 1, got {rate}")
        if latency < 0:
            raise ConfigError(f"route_faults[{selector!r}]: latency_ms must not be negative, got {latency}")
        out[str(selector)] = {"error_rate": rate, "latency_ms": latency}
    return out


def route_fault(config: dict[str, Any], api: str, model: str, last_user: str) -> tuple[bool, float]:
    """(fail this request?, added latency in ms) from the route faults matching api and model.

    Several matching selectors: the highest rate and the longest latency apply. The failure draw is
    a hash of (seed, last user turn) in [0, 1): the same request fails on every route it is tried on.
    """
    rate = latency = 0.0
    for selector, fault in config.get("route_faults", {}).items():
        sel_api, _, glob = selector.partition("/")
        if sel_api == api and (not glob or fnmatch.fnmatchcase(model, glob)):
            rate, latency = max(rate, fault["error_rate"]), max(latency, fault["latency_ms"])
    if rate <= 0.0:
        return False, latency
    digest = hashlib.sha256(f"{config['seed']}:{last_user}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < rate, latency


def _top_value(key: str, value: Any) -> Any:
    if key == "endpoint_faults":
        return _endpoint_faults(value)
    if key == "route_faults":
        return _route_faults(value)
    if key in ("default_tier", "invocations_model"):
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key} must be a non-empty string")
        if key == "default_tier" and value not in TIERS:
            raise ConfigError(f"default_tier must be one of {', '.join(TIERS)}")
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    if key == "hidden_size" and not 1 <= value <= 8192:
        raise ConfigError("hidden_size must be between 1 and 8192")
    return value


class Dice:
    """One reproducible fault draw per request, per tier."""

    def __init__(self, seed: int):
        self._seed = seed
        self._rngs: dict[str, random.Random] = {}

    def draw(self, tier: str, settings: dict[str, float]) -> str | None:
        """"throttle", "error", "timeout", "content_filter" or None (serve normally)."""
        rng = self._rngs.setdefault(tier, random.Random(f"{self._seed}:{tier}"))
        u = rng.random()  # always drawn, so changing one rate keeps the others' sequence
        edge = 0.0
        for rate in RATES:
            edge += settings[rate]
            if u < edge:
                return FAULT_OF_RATE[rate]
        return None


class Stats:
    """Requests per tier, API and model, and the faults served."""

    def __init__(self) -> None:
        self.by_tier: Counter[str] = Counter()
        self.by_api: Counter[str] = Counter()
        self.by_model: Counter[str] = Counter()
        self.faults: dict[str, Counter[str]] = {}

    def record(self, tier: str, api: str, model: str) -> None:
        self.by_tier[tier] += 1
        self.by_api[api] += 1
        self.by_model[model] += 1

    def fault(self, tier: str, kind: str) -> None:
        self.faults.setdefault(tier, Counter())[kind] += 1

    def as_json(self) -> dict[str, Any]:
        return {"requests": sum(self.by_tier.values()), "by_tier": dict(self.by_tier),
                "by_api": dict(self.by_api), "by_model": dict(self.by_model),
                "faults": {t: dict(c) for t, c in self.faults.items()}}
