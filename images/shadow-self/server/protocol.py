"""Shadow Self wire contract (pure: no torch, no vLLM; unit-tested outside the image).

Request (POST /invocations, application/json), either form:

    {"inputs": "Hello, Cato!", "parameters": {"max_new_tokens": 64, "temperature": 0.0}}
    {"messages": [{"role": "user", "content": "..."}, ...], "parameters": {...}}

Response (the model simulator serves the same shape; see images/README.md):

    {"generated_text": "...", "model": "cato-shadow-self", "finish_reason": "stop" | "length",
     "usage": {"input_tokens": N, "output_tokens": M},
     "hidden_states": [float] * HIDDEN_STATE_SIZE, "layer": -1, "pooling": "mean",
     "hidden_state_layers": {"layer": -1, "pooling": "mean", "size": 4096, "source": "prompt"}}

Errors: HTTP 400 {"error": "...", "code": "bad_request"}; 500 {"error": ..., "code": "error"}.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

MAX_NEW_TOKENS_DEFAULT = 256
MAX_NEW_TOKENS_CAP = 4096
POOLINGS = ("mean", "last")
ROLES = ("system", "user", "assistant")


class BadRequest(ValueError):
    """The body does not follow the contract (answered 400)."""


@dataclass(frozen=True)
class Config:
    """The container's settings, from its environment (set by the sagemaker_model step)."""
    model_path: str
    model_name: str
    hidden_size: int
    layer: int = -1
    pooling: str = "mean"
    gpu_memory_utilization: float = 0.55
    max_model_len: int = 8192

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Config":
        env = dict(os.environ if env is None else env)
        try:
            size = int(env["HIDDEN_STATE_SIZE"])
            layer = int(env.get("HIDDEN_STATE_LAYER", "-1"))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"HIDDEN_STATE_SIZE (and HIDDEN_STATE_LAYER) must be integers: {exc}") from None
        pooling = env.get("HIDDEN_STATE_POOLING", "mean")
        if pooling not in POOLINGS or size < 1:
            raise ValueError(f"HIDDEN_STATE_POOLING must be one of {POOLINGS} and HIDDEN_STATE_SIZE >= 1")
        return cls(model_path=env.get("MODEL_PATH", "/opt/model"),
                   model_name=env.get("SERVED_MODEL_NAME", "cato-shadow-self"), hidden_size=size, layer=layer,
                   pooling=pooling, gpu_memory_utilization=float(env.get("VLLM_GPU_MEMORY_UTILIZATION", "0.55")),
                   max_model_len=int(env.get("VLLM_MAX_MODEL_LEN", "8192")))


@dataclass(frozen=True)
class Request:
    prompt: str | None
    messages: list[dict[str, str]] | None
    max_new_tokens: int = MAX_NEW_TOKENS_DEFAULT
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    hidden_states: bool = True


def _number(params: dict, key: str, default: float, lo: float, hi: float) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise BadRequest(f"parameters.{key} must be a number from {lo} to {hi}, got {value!r}")
    return float(value)


def parse_request(body: Any) -> Request:
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise BadRequest("'parameters' must be an object")
    prompt, messages = None, None
    if "messages" in body:
        raw = body["messages"]
        if not isinstance(raw, list) or not raw:
            raise BadRequest("'messages' must be a non-empty list")
        messages = []
        for m in raw:
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise BadRequest("each message needs a role (system, user, assistant) and string content")
            messages.append({"role": m["role"], "content": m["content"]})
    elif isinstance(body.get("inputs"), str) and body["inputs"].strip():
        prompt = body["inputs"]
    else:
        raise BadRequest("body needs 'inputs' (a non-empty string) or 'messages'")
    max_new = params.get("max_new_tokens", body.get("max_tokens", MAX_NEW_TOKENS_DEFAULT))
    if isinstance(max_new, bool) or not isinstance(max_new, int) or not 1 <= max_new <= MAX_NEW_TOKENS_CAP:
        raise BadRequest(f"max_new_tokens must be an integer from 1 to {MAX_NEW_TOKENS_CAP}, got {max_new!r}")
    stop = params.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise BadRequest("parameters.stop must be a string or a list of strings")
    return Request(prompt=prompt, messages=messages, max_new_tokens=max_new,
                   temperature=_number(params, "temperature", 0.0, 0.0, 2.0),
                   top_p=_number(params, "top_p", 1.0, 0.01, 1.0), stop=stop,
                   hidden_states=bool(params.get("return_hidden_states", True)))


def layer_index(n_hidden_states: int, layer: int) -> int:
    """HF returns num_layers + 1 hidden states (index 0 = embeddings); -1 = the last layer."""
    idx = layer if layer >= 0 else n_hidden_states + layer
    if not 0 <= idx < n_hidden_states:
        raise ValueError(f"HIDDEN_STATE_LAYER {layer} is outside the model's {n_hidden_states} hidden states")
    return idx


def pool(rows: Sequence[Sequence[float]], mask: Sequence[int] | None = None, how: str = "mean") -> list[float]:
    """Pool one layer's per-token vectors ([tokens][hidden], plain lists) into one vector:
    "mean" = the average over the tokens whose mask is 1 (padding excluded), "last" = the last such token."""
    keep = [r for r, m in zip(rows, mask if mask is not None else [1] * len(rows)) if m]
    if not keep:
        raise ValueError("no tokens to pool")
    width = len(keep[0])
    if any(len(r) != width for r in keep):
        raise ValueError("token vectors differ in size")
    if how == "last":
        return [float(v) for v in keep[-1]]
    if how != "mean":
        raise ValueError(f"unknown pooling {how!r}")
    n = len(keep)
    return [math.fsum(col) / n for col in zip(*keep)]


def check_vector(vector: Sequence[float], size: int) -> list[float]:
    """The pooled vector as JSON-safe floats of the configured size (else an error, never a bad answer)."""
    if len(vector) != size:
        raise ValueError(f"pooled hidden state has {len(vector)} values, HIDDEN_STATE_SIZE is {size}")
    out = [float(v) for v in vector]
    if not all(math.isfinite(v) for v in out):
        raise ValueError("pooled hidden state contains NaN or infinity")
    return out


def response(cfg: Config, text: str, finish_reason: str | None, input_tokens: int, output_tokens: int,
             hidden: Sequence[float] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"generated_text": text, "model": cfg.model_name,
                            "finish_reason": "length" if finish_reason == "length" else "stop",
                            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}}
    if hidden is not None:
        vector = check_vector(hidden, cfg.hidden_size)
        layers = {"layer": cfg.layer, "pooling": cfg.pooling, "size": cfg.hidden_size, "source": "prompt"}
        body.update(hidden_states=vector, layer=cfg.layer, pooling=cfg.pooling, hidden_state_layers=layers)
    return body


def error(message: str, code: str = "bad_request") -> dict[str, str]:
    return {"error": message, "code": code}
