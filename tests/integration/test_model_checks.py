"""Phase 1 model exit checks on real local servers: each passes on a healthy endpoint and fails on
the fault it guards against, planted at the model simulator; an endpoint that is not there is
"waiting". Criteria are evaluated through the engine so the runbook's thresholds apply."""
from __future__ import annotations

import pytest

from cato_migrate.core.engine import evaluate_criterion
from tests.integration.test_sagemaker_endpoints import (admin, aws_env, build_image, deploy,  # noqa: F401 - fixtures
                                                        make_context, simulator, ROOT)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def criterion(ctx, crit_id: str):
    return next(c for c in ctx.runbook.phase(1).exit_criteria if c.id == crit_id)


def check(ctx, crit_id: str):
    return evaluate_criterion(ctx, criterion(ctx, crit_id), record=False)


@pytest.fixture
def shadow(aws_env):
    ctx = make_context(aws_env)
    build_image(ctx)
    deploy(ctx)
    return ctx


@pytest.fixture
def nli(aws_env):
    ctx = make_context(aws_env)
    build_image(ctx, context=ROOT / "images" / "nli", image="cato-nli")
    deploy(ctx, "p1.w2.deploy-nli")
    return ctx


def plant(aws_env, mode: str, endpoint: str = "cato-shadow-self") -> None:
    admin(aws_env["sim"], "PUT", "/admin/config", {"endpoint_faults": {endpoint: {"mode": mode}}})


# --- Shadow Self hidden states -------------------------------------------------------------------

def test_hidden_states_pass_on_a_healthy_endpoint(shadow):
    out = check(shadow, "p1.exit.shadow-self-hidden-states")
    assert out.status == "pass", out.message
    assert out.measured == 64 and out.evidence["shape"] == [64] and out.evidence["size_from"] == "model env HIDDEN_STATE_SIZE"
    assert out.evidence["latency_ms"] >= 0 and out.evidence["pooling"] == "mean"


@pytest.mark.parametrize("mode, why", [
    ("no_hidden_states", "no hidden_states in the answer"),
    ("constant_hidden_states", "all hidden-state values are equal"),
    ("nan_hidden_states", "NaN or infinite"),
    ("empty_text", "no generated text"),
])
def test_hidden_states_fail_on_a_planted_fault(shadow, aws_env, mode, why):
    plant(aws_env, mode)
    out = check(shadow, "p1.exit.shadow-self-hidden-states")
    assert out.status == "fail" and why in out.message


def test_hidden_states_fail_on_the_wrong_shape(shadow, aws_env):
    admin(aws_env["sim"], "PUT", "/admin/config", {"hidden_size": 32})  # the model answers 32, configured 64
    out = check(shadow, "p1.exit.shadow-self-hidden-states")
    assert out.status == "fail" and "has 32 values, expected 64" in out.message and out.measured == 32


def test_hidden_states_fail_when_the_endpoint_errors(shadow, aws_env):
    admin(aws_env["sim"], "PUT", "/admin/config", {"tiers": {"shadow_self": {"error_rate": 1}}})
    out = check(shadow, "p1.exit.shadow-self-hidden-states")
    assert out.status == "fail" and "the container answered 500" in out.message


def test_checks_wait_while_the_endpoints_do_not_exist(aws_env):
    ctx = make_context(aws_env)
    for crit_id in ("p1.exit.shadow-self-hidden-states", "p1.exit.nli-classifying"):
        out = check(ctx, crit_id)
        assert out.status == "waiting" and "is absent" in out.message and "phase run 1" in out.message


# --- NLI --------------------------------------------------------------------------------------------

def test_nli_accuracy_passes_on_the_probe_set(nli):
    out = check(nli, "p1.exit.nli-classifying")
    assert out.status == "pass", out.message
    assert out.measured == 1.0 and out.evidence["probes"] >= 30 and out.evidence["misclassified"] == []
    assert set(out.evidence["accuracy_by_label"]) == {"entailment", "neutral", "contradiction"}


def test_nli_accuracy_fails_when_the_model_misclassifies(nli, aws_env):
    plant(aws_env, "nli_flip", "cato-nli")  # entailment <-> contradiction
    out = check(nli, "p1.exit.nli-classifying")
    assert out.status == "fail" and out.measured < 0.9 and "does not meet nli_accuracy >= 0.9" in out.message
    wrong = {w["id"] for w in out.evidence["misclassified"]}
    assert "ent-01" in wrong and "con-01" in wrong and not any(i.startswith("neu-") for i in wrong)


def test_nli_accuracy_counts_failed_invocations_as_wrong(nli, aws_env):
    admin(aws_env["sim"], "PUT", "/admin/config", {"tiers": {"shadow_self": {"error_rate": 1}}})
    out = check(nli, "p1.exit.nli-classifying")
    assert out.status == "fail" and out.measured == 0.0 and len(out.evidence["errors"]) >= 30
