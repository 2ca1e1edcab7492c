"""Steps and checks ask the environment profile wiring builds (core/environment.py), never the
environment's name: the sandbox's values on local, real AWS's elsewhere, and the same plans and
messages as when each step branched on `env == "local"` itself."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from cato_migrate.adapters.orchestrator_faults import OrchestratorFaults
from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.environment import SANDBOX_KMS_ARN, SANDBOX_ROLE
from cato_migrate.errors import BadInput
from cato_migrate.settings import Settings
from cato_migrate.steps.opensearch_collection import CollectionParams, OpenSearchCollection, encryption_policy
from cato_migrate.steps.orchestrator_probe import OrchestratorProbe, ProbeParams
from cato_migrate.steps.sagemaker_model import SageMakerModelParams, fallback_for
from cato_migrate.wiring import Services, environment_profile
from tests.fakes import make_ctx

ROOT = Path(__file__).resolve().parents[2]
# An environment named in a step or a check: a string literal, or ctx.env / settings.env compared.
NAMED = re.compile(r"""["'](local|staging|production)["']|\benv\s*[!=]=""")


def test_no_step_or_check_names_an_environment():
    files = sorted((ROOT / "cato_migrate/steps").glob("*.py")) + sorted((ROOT / "cato_migrate/checks").glob("*.py"))
    offenders = [f"{f.relative_to(ROOT)}:{n}: {line.strip()}" for f in files
                 for n, line in enumerate(f.read_text().splitlines(), 1) if NAMED.search(line)]
    assert not offenders, offenders


def test_the_sandbox_profile_carries_its_stand_ins(tmp_path):
    p = environment_profile(Settings(env="local", work_dir=tmp_path, sandbox_minute_seconds=0.05))
    assert p.sandbox_overrides and p.register_unbuilt_images and not p.dax_required
    assert p.default_kms_arn == SANDBOX_KMS_ARN and p.default_sagemaker_role == SANDBOX_ROLE
    assert p.minute_seconds == 0.05 and p.poll_seconds(5.0) == 0.2 and p.sagemaker_fallback == "recreate"
    assert p.legacy_url is None and "sandbox up" in p.legacy_hint  # no sandbox running in tmp_path


@pytest.mark.parametrize("env", ["staging", "production"])
def test_a_cloud_profile_keeps_every_guard_on(env, tmp_path):
    p = environment_profile(Settings(env=env, work_dir=tmp_path, legacy_url="http://litellm:4000/"))
    assert not p.sandbox_overrides and not p.register_unbuilt_images and p.dax_required
    assert p.require_reachable_collections and p.default_kms_arn == "" and p.default_sagemaker_role == ""
    assert p.minute_seconds == 60.0 and p.poll_seconds(5.0) == 5.0 and p.sagemaker_fallback == "none"
    assert p.model_backends == f"the {env} model backends" and p.control_plane == "AWS"
    assert p.legacy_url == "http://litellm:4000" and "CATO_LEGACY_URL" in p.legacy_hint


def test_plans_read_the_profile(tmp_path):
    store = SqliteStateStore(tmp_path / "s.db")
    local, staging = make_ctx(store), make_ctx(store, env="staging")
    osc = CollectionParams(collection="episodic-memory", vpc_endpoints=["vpce-1"])
    assert "sandbox placeholder KMS ARN (moto requires one)" in OpenSearchCollection().plan(None, osc, local)
    assert "AWS-owned key" in OpenSearchCollection().plan(None, osc, staging)
    assert encryption_policy(osc, staging.services.environment()) == {
        "Rules": [{"ResourceType": "collection", "Resource": ["collection/episodic-memory"]}], "AWSOwnedKey": True}
    assert fallback_for(local.settings, local.services.environment()) == "recreate"
    assert fallback_for(staging.settings, staging.services.environment()) == "none"
    breaker = ProbeParams(probe="circuit_breaker")
    assert "at the model simulator" in OrchestratorProbe().plan(None, breaker, local)
    assert "admin fault switch" in OrchestratorProbe().plan(None, breaker, staging)
    sm = SageMakerModelParams(model="nli", endpoint="cato-nli", image="cato-nli", instance_type="ml.g5.xlarge",
                              sandbox={"instance_type": "ml.m5.large"})
    from cato_migrate.steps.sagemaker_model import SageMakerModel

    assert "(sandbox: control plane = moto, invocations = model simulator)" in SageMakerModel().plan(None, sm, local)
    assert "1 x ml.m5.large" in SageMakerModel().plan(None, sm, local)
    staged = SageMakerModel().plan(None, sm, staging)
    assert "sandbox" not in staged and "1 x ml.g5.xlarge" in staged


def test_wiring_picks_the_fault_injector(tmp_path):
    staging = Services(Settings(env="staging", work_dir=tmp_path, orchestrator_url="http://orch:8000"))
    assert isinstance(staging.fault_injector(), OrchestratorFaults)
    with pytest.raises(BadInput, match="model simulator"):
        Services(Settings(env="local", work_dir=tmp_path)).fault_injector()  # no sandbox running here
