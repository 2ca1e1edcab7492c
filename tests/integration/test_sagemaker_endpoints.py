"""The SageMaker deploy path on real local servers: the moto server over HTTP as the control
plane (SageMaker + ECR) and the model simulator as the runtime, driven through the real adapters,
the container_image and sagemaker_model steps and the engine's journal."""
from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from cato_migrate.core.clock import SystemClock
from cato_migrate.core.context import RunContext
from cato_migrate.core.endpoint_rollout import UpdateUnsupported
from cato_migrate.core.kinds import step_kind
from cato_migrate.core.loader import load_runbook
from cato_migrate.errors import BadInput, ExternalError
from cato_sandbox.model_simulator import SimulatorServer
from cato_migrate.settings import Settings
from cato_migrate.wiring import Services
from tests.integration.conftest import reset_moto

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with SimulatorServer() as srv:
        yield srv.url


def admin(url: str, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(url + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture
def aws_env(moto_server, simulator, monkeypatch, tmp_path) -> dict:
    reset_moto(moto_server)
    admin(simulator, "POST", "/admin/reset")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return {"moto": moto_server, "sim": simulator, "tmp": tmp_path}


def make_context(aws_env: dict, env: str = "local", **settings_kw) -> RunContext:
    from cato_migrate.adapters.sqlite_store import SqliteStateStore

    settings = Settings(env=env, work_dir=aws_env["tmp"], sagemaker_endpoint_url=aws_env["moto"],
                        sagemaker_runtime_endpoint_url=aws_env["sim"], ecr_endpoint_url=aws_env["moto"],
                        sagemaker_poll_seconds=0.05, **settings_kw)
    return RunContext(env=env, actor="tester@host", run_id="r1", store=SqliteStateStore(str(aws_env["tmp"] / "s.db")),
                      clock=SystemClock(), services=Services(settings), runbook=load_runbook(), settings=settings)


def sagemaker(aws_env: dict):
    return boto3.client("sagemaker", endpoint_url=aws_env["moto"], region_name="us-east-1")


def step(step_id: str):
    rb = load_runbook()
    s = next(s for p in rb.phases for _, s in p.steps() if s.id == step_id)
    kind = step_kind(s.kind)
    return s, kind, kind.Params.model_validate(s.params)


def with_params(step_id: str, **changes):
    s, kind, params = step(step_id)
    return s, kind, kind.Params.model_validate({**params.model_dump(), **changes})


def build_image(ctx: RunContext, context: Path | None = None, image: str = "cato-shadow-self") -> dict:
    s, kind, params = step("p1.w1.build-shadow-self-image")
    params = kind.Params.model_validate({**params.model_dump(), "image": image,
                                         **({"context": str(context)} if context else {})})
    out = kind.apply(s, params, ctx)
    assert kind.verify(s, params, ctx).ok
    return out


def deploy(ctx: RunContext, step_id: str = "p1.w1.deploy-shadow-self", **changes) -> dict:
    s, kind, params = with_params(step_id, **changes)
    out = kind.apply(s, params, ctx)
    check = kind.verify(s, params, ctx)
    assert check.ok, check.message
    return out


# --- container_image ---------------------------------------------------------------------------

def test_container_image_registers_the_context_digest_without_pretending_a_build(aws_env):
    ctx = make_context(aws_env)
    context = aws_env["tmp"] / "ctx"
    shutil.copytree(ROOT / "images" / "shadow-self", context)
    s, kind, params = step("p1.w1.build-shadow-self-image")
    params = kind.Params.model_validate({**params.model_dump(), "context": str(context)})
    assert "NO docker build" in kind.plan(s, params, ctx)
    first = kind.apply(s, params, ctx)
    assert first["mode"] == "sandbox-register" and first["built"] is False and first["changed"] is True
    v = kind.verify(s, params, ctx)
    assert v.ok and "no docker build ran" in v.message and v.evidence["image_digest"].startswith("sha256:")
    again = kind.apply(s, params, ctx)
    assert again["changed"] is False and again["image_digest"] == first["image_digest"]  # idempotent
    (context / "server" / "extra.py").write_text("# a change to the build context\n")
    assert not kind.verify(s, params, ctx).ok  # ECR holds an older context: not done
    moved = kind.apply(s, params, ctx)
    assert moved["changed"] and moved["image_digest"] != first["image_digest"] and kind.verify(s, params, ctx).ok


def test_container_image_outside_the_sandbox_needs_a_docker_daemon(aws_env, monkeypatch):
    from cato_migrate.steps import container_image

    class NoDaemon:
        def available(self):
            return False

    monkeypatch.setattr(container_image, "_docker", lambda ctx: NoDaemon())
    ctx = make_context(aws_env, env="staging")
    s, kind, params = step("p1.w1.build-shadow-self-image")
    with pytest.raises(ExternalError) as exc:
        kind.apply(s, params, ctx)
    assert "cannot be built; nothing was pushed" in exc.value.message and "docker version" in exc.value.hint


# --- sagemaker_model -----------------------------------------------------------------------------

def test_deploy_then_rerun_is_a_noop(aws_env):
    ctx = make_context(aws_env)
    build_image(ctx)
    first = deploy(ctx)
    assert first["kind"] == "create" and first["smoke"]["ok"] and first["smoke"]["shape"] == [64]
    assert "@sha256:" in first["image"] and first["instance_type"] == "ml.g4dn.xlarge"  # sandbox override
    sm = sagemaker(aws_env)
    ep = sm.describe_endpoint(EndpointName="cato-shadow-self")
    assert ep["EndpointStatus"] == "InService" and ep["EndpointConfigName"] == first["config"]
    models = sm.list_models()["Models"]
    again = deploy(ctx)
    assert again["kind"] == "noop" and again["config"] == first["config"]
    assert sm.list_models()["Models"] == models


def test_update_is_blue_green_and_a_failing_smoke_rolls_back(aws_env):
    ctx = make_context(aws_env)
    build_image(ctx)
    v1 = deploy(ctx)
    env2 = {"MODEL_PATH": "/opt/model", "HIDDEN_STATE_SIZE": "4096", "HIDDEN_STATE_LAYER": "-2",
            "HIDDEN_STATE_POOLING": "mean"}
    v2 = deploy(ctx, environment=env2)
    # moto's UpdateEndpoint answers 500: on the sandbox the switch falls back to delete + create.
    assert v2["kind"] == "update" and v2["previous_config"] == v1["config"] and v2["switched_by"] == "recreate"
    sm = sagemaker(aws_env)
    assert sm.describe_endpoint(EndpointName="cato-shadow-self")["EndpointConfigName"] == v2["config"]
    sm.describe_endpoint_config(EndpointConfigName=v1["config"])  # the old config is kept

    # Plant the fault: the next answer of this endpoint has no hidden states (the new config's smoke).
    admin(aws_env["sim"], "PUT", "/admin/config",
          {"endpoint_faults": {"cato-shadow-self": {"mode": "no_hidden_states", "remaining": 1}}})
    s, kind, params = with_params("p1.w1.deploy-shadow-self", environment={**env2, "HIDDEN_STATE_LAYER": "-3"})
    with pytest.raises(ExternalError) as exc:
        kind.apply(s, params, ctx)
    err = exc.value
    assert "was rolled back because its smoke invocation failed: no hidden_states in the answer" in err.message
    assert f"rolled back to {v2['config']}, which answers its smoke invocation again" in err.message
    ep = sm.describe_endpoint(EndpointName="cato-shadow-self")
    assert ep["EndpointStatus"] == "InService" and ep["EndpointConfigName"] == v2["config"]
    assert not kind.verify(s, params, ctx).ok  # the failed spec is not what runs


def test_engine_journals_the_deploy_and_skips_it_next_time(aws_env):
    from cato_migrate.core.engine import run_phase

    ctx = make_context(aws_env)
    phase = ctx.runbook.phase(1)
    build = run_phase(ctx, phase, step_id="p1.w1.build-shadow-self-image")
    dep = run_phase(ctx, phase, step_id="p1.w1.deploy-shadow-self")
    assert [o.outcome for o in build + dep] == ["done", "done"]
    assert dep[0].evidence["smoke"]["ok"] and dep[0].evidence["status"] == "InService"
    assert run_phase(ctx, phase, step_id="p1.w1.deploy-shadow-self")[0].outcome == "skipped"


def test_no_fallback_outside_the_sandbox_leaves_the_endpoint_alone(aws_env):
    ctx = make_context(aws_env, env="staging", sagemaker_execution_role_arn="arn:aws:iam::123456789012:role/sm")
    s, kind, params = with_params("p1.w2.deploy-nli")
    build_image(make_context(aws_env), context=ROOT / "images" / "nli", image="cato-nli")  # registered locally
    first = kind.apply(s, params, ctx)
    assert first["kind"] == "create" and first["smoke"]["label"] == "entailment"
    s2, kind2, params2 = with_params("p1.w2.deploy-nli", instance_count=2)
    with pytest.raises(UpdateUnsupported) as exc:
        kind2.apply(s2, params2, ctx)
    assert "still serves the config it had" in exc.value.message
    assert 'sagemaker_update_fallback = "recreate"' in exc.value.hint
    assert sagemaker(aws_env).describe_endpoint(EndpointName="cato-nli")["EndpointConfigName"] == first["config"]


def test_errors_say_what_to_do(aws_env):
    ctx = make_context(aws_env)
    s, kind, params = step("p1.w1.deploy-shadow-self")
    with pytest.raises(BadInput) as exc:  # no image built yet
        kind.apply(s, params, ctx)
    assert "is not in ECR" in exc.value.message and "container_image" in exc.value.hint
    with pytest.raises(BadInput) as exc:
        kind.apply(s, params, make_context(aws_env, env="production"))
    assert "execution role" in exc.value.message
    dead = make_context({**aws_env, "moto": "http://127.0.0.1:9"})
    with pytest.raises(ExternalError) as exc:
        dead.services.model_endpoints().describe_endpoint("cato-shadow-self")
    assert "cannot reach" in exc.value.message and "sandbox up" in exc.value.hint
    port = ctx.services.model_endpoints()
    assert port.describe_endpoint("nope").status is None and port.deployed_model("nope") is None
