"""Exit criterion "Shadow Self responding with hidden states".

One invocation through the SageMaker runtime must return non-empty text AND a hidden-state
vector of the configured size, made of finite floats that are not all equal (a constant or
zero vector is what a broken extraction path returns). The configured size is the check's
`hidden_size`, else the deployed model's `HIDDEN_STATE_SIZE` environment variable.
An endpoint that does not exist or is not InService is "waiting", never "pass".

`judge_shadow_answer` is also the deploy step's smoke test, so the two cannot drift apart.
"""
from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check
from cato_migrate.core.model import CoreModel
from cato_migrate.errors import ExternalError

SIZE_ENV = "HIDDEN_STATE_SIZE"
DEFAULT_PROMPT = "Hello, Cato!"  # the runbook's own validation request


class HiddenStatesParams(CoreModel):
    endpoint: str = Field(description="Shadow Self endpoint name.")
    hidden_size: int | None = Field(default=None, ge=1, description=f"Expected vector size; default: the deployed model's {SIZE_ENV}.")
    prompt: str = Field(default=DEFAULT_PROMPT, description="Prompt sent in the probe invocation.")
    max_new_tokens: int = Field(default=32, ge=1, description="Generation budget of the probe.")


def shadow_request(prompt: str, max_new_tokens: int = 32) -> dict:
    return {"inputs": prompt, "parameters": {"max_new_tokens": max_new_tokens}}


def judge_shadow_answer(answer: Any, expected_size: int) -> tuple[list[str], dict[str, Any]]:
    """(problems, evidence) for one Shadow Self answer; no problems means it passes."""
    if not isinstance(answer, dict):
        return [f"the answer is not a JSON object: {str(answer)[:120]}"], {}
    problems: list[str] = []
    text = answer.get("generated_text")
    if not isinstance(text, str) or not text.strip():
        problems.append("no generated text")
    hidden = answer.get("hidden_states")
    evidence: dict[str, Any] = {"text_chars": len(text) if isinstance(text, str) else 0,
                                "layer": answer.get("layer"), "pooling": answer.get("pooling")}
    if hidden is None:
        return problems + ["no hidden_states in the answer"], {**evidence, "shape": None}
    if not isinstance(hidden, list):
        return problems + [f"hidden_states is a {type(hidden).__name__}, not a list"], {**evidence, "shape": None}
    evidence["shape"] = [len(hidden)]
    if len(hidden) != expected_size:
        problems.append(f"hidden_states has {len(hidden)} values, expected {expected_size}")
    numbers = [v for v in hidden if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) != len(hidden):
        problems.append(f"{len(hidden) - len(numbers)} hidden-state values are not numbers")
    bad = sum(1 for v in numbers if not math.isfinite(v))
    if bad:
        problems.append(f"{bad} hidden-state values are NaN or infinite")
    if numbers and len(set(numbers)) == 1:
        problems.append(f"all hidden-state values are equal ({numbers[0]}): extraction is broken")
    return problems, evidence


def expected_size(params_size: int | None, environment: dict[str, str]) -> tuple[int | None, str]:
    """(size, where it came from); a disagreement between the two is reported by the caller."""
    if params_size is not None:
        return params_size, "check params"
    raw = environment.get(SIZE_ENV, "")
    return (int(raw), f"model env {SIZE_ENV}") if raw.isdigit() and int(raw) > 0 else (None, "")


@register_check
class SageMakerHiddenStates(CheckKind):
    name = "sagemaker_hidden_states"
    Params = HiddenStatesParams

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        port = ctx.services.model_endpoints()
        deployed = port.deployed_model(params.endpoint)
        if deployed is None or deployed.endpoint.status != "InService":
            status = deployed.endpoint.status if deployed else "absent"
            return CheckResult("waiting", f"endpoint {params.endpoint} is {status}: deploy it with "
                               f"`cato-migrate phase run 1` (the sagemaker_model step), then validate again",
                               evidence={"endpoint": params.endpoint, "status": status})
        size, source = expected_size(params.hidden_size, deployed.environment)
        base = {"endpoint": params.endpoint, "config": deployed.endpoint.config, "image": deployed.image}
        if size is None:
            return CheckResult("fail", f"no hidden-state size is configured: set {SIZE_ENV} in the model's "
                               "environment (sagemaker_model params) or hidden_size in the check", evidence=base)
        env_size = deployed.environment.get(SIZE_ENV)
        if params.hidden_size is not None and env_size and env_size != str(params.hidden_size):
            return CheckResult("fail", f"the check expects {params.hidden_size} values but the deployed model "
                               f"is configured with {SIZE_ENV}={env_size}", evidence=base)
        try:
            answer, latency_ms = port.invoke(params.endpoint, shadow_request(params.prompt, params.max_new_tokens))
        except ExternalError as exc:
            return CheckResult("fail", f"endpoint {params.endpoint} is InService but the invocation failed: "
                               f"{exc.message}", evidence={**base, "hint": exc.hint or ""})
        problems, evidence = judge_shadow_answer(answer, size)
        evidence = {**base, **evidence, "expected_size": size, "size_from": source,
                    "latency_ms": round(latency_ms, 1)}
        if problems:
            shape = evidence.get("shape")
            return CheckResult("fail", "; ".join(problems), float(shape[0]) if shape else None, evidence)
        return CheckResult("pass", f"text and {size} finite hidden-state values (layer {evidence['layer']}, "
                           f"{evidence['pooling']} pooling) in {latency_ms:.0f} ms", float(size), evidence)
