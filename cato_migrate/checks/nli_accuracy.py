"""Exit criterion "NLI classifying correctly".

A labelled probe set (`evals/nli_probes.jsonl`: id, premise, hypothesis, label; balanced over
entailment / neutral / contradiction) goes through the endpoint one pair per invocation.
measured = accuracy; the runbook's threshold (>= 0.9) is applied by the engine. An invocation
that fails or answers no valid label counts as wrong. Evidence lists the misclassified ids.
An endpoint that does not exist or is not InService is "waiting", never "pass".
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check
from cato_migrate.core.model import CoreModel
from cato_migrate.errors import BadInput, ExternalError

LABELS = ("entailment", "neutral", "contradiction")
DEFAULT_PROBES = "evals/nli_probes.jsonl"
_ROOT = Path(__file__).resolve().parents[2]


class NliParams(CoreModel):
    endpoint: str = Field(description="NLI endpoint name.")
    probes: str = Field(default=DEFAULT_PROBES, description="Labelled probe set (JSONL), relative to the working directory or the project.")
    min_probes: int = Field(default=30, ge=3, description="Refuse a probe set smaller than this.")


class Probe(CoreModel):
    id: str = Field(description="Stable probe id.")
    premise: str = Field(description="Premise text.")
    hypothesis: str = Field(description="Hypothesis text.")
    label: str = Field(description="Expected label: entailment, neutral or contradiction.")


def load_probes(path: str, min_probes: int = 30) -> list[Probe]:
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        p = _ROOT / path
    if not p.exists():
        raise BadInput(f"NLI probe set {path} not found", hint=f"restore {DEFAULT_PROBES} from the repository")
    probes = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            probe = Probe.model_validate(json.loads(line))
        except ValueError as exc:
            raise BadInput(f"{p}:{n}: not a probe: {exc}") from exc
        if probe.label not in LABELS:
            raise BadInput(f"{p}:{n}: label {probe.label!r} is not one of {', '.join(LABELS)}")
        probes.append(probe)
    missing = set(LABELS) - {pr.label for pr in probes}
    if len(probes) < min_probes or missing:
        raise BadInput(f"{p}: {len(probes)} probes (need >= {min_probes})"
                       + (f", no {', '.join(sorted(missing))} examples" if missing else ""))
    return probes


def nli_request(probe: Probe) -> dict:
    return {"premise": probe.premise, "hypothesis": probe.hypothesis}


def answer_label(answer: Any) -> str | None:
    """The label of an NLI answer ({"label", "scores"}), or None if it has none we know."""
    if isinstance(answer, list) and answer:
        answer = answer[0]
    label = answer.get("label") if isinstance(answer, dict) else None
    label = label.lower() if isinstance(label, str) else None
    return label if label in LABELS else None


def score(probes: list[Probe], answers: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """(accuracy, evidence) for answers by probe id (an exception message where it failed)."""
    wrong, errors = [], []
    per_label = {lab: [0, 0] for lab in LABELS}
    for probe in probes:
        got = answers.get(probe.id)
        per_label[probe.label][1] += 1
        if isinstance(got, str):
            errors.append({"id": probe.id, "error": got[:160]})
            continue
        label = answer_label(got)
        if label == probe.label:
            per_label[probe.label][0] += 1
        else:
            wrong.append({"id": probe.id, "expected": probe.label, "got": label})
    correct = sum(c for c, _ in per_label.values())
    accuracy = correct / len(probes) if probes else 0.0
    return accuracy, {"probes": len(probes), "correct": correct, "misclassified": wrong, "errors": errors,
                      "accuracy_by_label": {lab: round(c / t, 3) if t else None for lab, (c, t) in per_label.items()}}


@register_check
class NliAccuracy(CheckKind):
    name = "nli_accuracy"
    Params = NliParams

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        probes = load_probes(params.probes, params.min_probes)
        port = ctx.services.model_endpoints()
        state = port.describe_endpoint(params.endpoint)
        if state.status != "InService":
            return CheckResult("waiting", f"endpoint {params.endpoint} is {state.status or 'absent'}: deploy it with "
                               "`cato-migrate phase run 1` (the sagemaker_model step), then validate again",
                               evidence={"endpoint": params.endpoint, "status": state.status})
        answers: dict[str, Any] = {}
        latencies = []
        for probe in probes:
            try:
                answers[probe.id], ms = port.invoke(params.endpoint, nli_request(probe))
                latencies.append(ms)
            except ExternalError as exc:
                answers[probe.id] = exc.message
        accuracy, evidence = score(probes, answers)
        latencies.sort()
        evidence.update(endpoint=params.endpoint, config=state.config,
                        latency_p50_ms=round(latencies[len(latencies) // 2], 1) if latencies else None)
        ids = [w["id"] for w in evidence["misclassified"]] + [e["id"] for e in evidence["errors"]]
        message = f"{evidence['correct']}/{len(probes)} probes classified correctly" + (
            f"; wrong: {', '.join(ids)}" if ids else "")
        # The accuracy is judged by the runbook's threshold (>= 0.9), not by "every probe right";
        # without a threshold, any miss fails.
        verdict = "pass" if (criterion.threshold is not None or not ids) else "fail"
        return CheckResult(verdict, message, accuracy, evidence)
