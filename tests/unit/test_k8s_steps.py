"""k8s_apply and helm_release: plans name what they would do; bad manifests change nothing."""
from __future__ import annotations

import copy

import pytest
import yaml

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.kinds import step_kind
from cato_migrate.errors import BadInput
from tests.fakes import FakeClock, make_ctx
from tests.fakes_k8s import FakeK8sWorkloads
from tests.unit.test_k8s_manifests import K8S


@pytest.fixture
def env(tmp_path):
    clock = FakeClock()
    wl = FakeK8sWorkloads(clock, ready_after=5)
    ctx = make_ctx(SqliteStateStore(str(tmp_path / "s.db")), clock=clock, env="staging", workloads=wl)
    return ctx, wl


def _step(kind, **params):
    k = step_kind(kind)
    return k, k.Params(**params)


def test_k8s_apply_plan_names_every_object(env):
    ctx, wl = env
    k, p = _step("k8s_apply", manifest="k8s/ray-serve/cato-orchestrator.yaml", namespace="cato")
    plan = k.plan(None, p, ctx)
    assert plan.startswith("server-side apply ServiceAccount/cato-orchestrator, ConfigMap/cato-orchestrator-env, "
                           "RayService/cato-orchestrator from k8s/ray-serve/cato-orchestrator.yaml into namespace cato")
    assert "wait until RayService/cato-orchestrator ready" in plan
    assert wl.calls == []  # planning does nothing


def test_k8s_apply_applies_and_verify_waits(env):
    ctx, wl = env
    k, p = _step("k8s_apply", manifest="k8s/litellm/deployment.yaml", namespace="cato")
    out = k.apply(None, p, ctx)
    assert "Deployment/litellm" in out["applied"]
    v = k.verify(None, p, ctx)
    assert v.ok and "litellm 2/2" in v.message
    k.apply(None, p, ctx)  # idempotent
    assert wl.items["litellm"]["desired"] == 2


def test_k8s_apply_verify_fails_when_pods_never_ready(env):
    ctx, wl = env
    k, p = _step("k8s_apply", manifest="k8s/litellm/deployment.yaml", namespace="cato", ready_timeout_s=30)
    k.apply(None, p, ctx)
    wl.never_ready.add("litellm")
    v = k.verify(None, p, ctx)
    assert not v.ok and "Deployment/litellm" in v.message and "not ready" in v.message


@pytest.mark.parametrize("fault,expect", [
    (lambda rs: rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0].pop("groupName"),
     "workerGroupSpecs[0].groupName: Required value"),
    (lambda rs: rs["spec"].__setitem__("serveConfigV2", yaml.safe_load(rs["spec"]["serveConfigV2"])),
     "spec.serveConfigV2: Invalid value"),
])
def test_k8s_apply_refuses_an_invalid_custom_resource_before_applying(env, tmp_path, fault, expect):
    ctx, wl = env
    docs = list(yaml.safe_load_all((K8S / "ray-serve" / "cato-orchestrator.yaml").read_text()))
    fault(next(d for d in docs if d["kind"] == "RayService"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all(copy.deepcopy(docs)))
    k, p = _step("k8s_apply", manifest=str(bad), namespace="cato")
    for call in (k.plan, k.apply):
        with pytest.raises(BadInput) as ei:
            call(None, p, ctx)
        assert str(bad) in ei.value.message and expect in ei.value.message
    assert wl.calls == []


def test_k8s_apply_missing_manifest_is_bad_input(env):
    ctx, _ = env
    k, p = _step("k8s_apply", manifest="k8s/nope.yaml", namespace="cato")
    with pytest.raises(BadInput, match="does not exist"):
        k.plan(None, p, ctx)


def test_helm_release_plan_apply_verify(env):
    ctx, wl = env
    k, p = _step("helm_release", release="kuberay-operator", chart="kuberay/kuberay-operator", namespace="cato",
                 version="1.7.0", values={"image": {"tag": "v1.7.0"}})
    plan = k.plan(None, p, ctx)
    assert plan.startswith("helm upgrade --install kuberay-operator kuberay/kuberay-operator --namespace cato "
                           "--create-namespace --wait --version 1.7.0 with values image")
    assert not k.verify(None, p, ctx).ok  # nothing installed yet: never a pass
    out = k.apply(None, p, ctx)
    assert out["status"] == "deployed" and out["revision"] == 1
    v = k.verify(None, p, ctx)
    assert v.ok and "kuberay-operator-1.7.0" in v.message
    assert k.apply(None, p, ctx)["revision"] == 2  # upgrade --install: idempotent re-run


def test_helm_release_verify_fails_on_failed_release_or_wrong_version(env):
    ctx, wl = env
    k, p = _step("helm_release", release="kuberay-operator", chart="kuberay/kuberay-operator", namespace="cato",
                 version="1.7.0")
    wl.chart_fails_to_deploy = True
    k.apply(None, p, ctx)
    assert not k.verify(None, p, ctx).ok
    wl.chart_fails_to_deploy = False
    wl.install_chart("kuberay-operator", "kuberay/kuberay-operator", "cato", "1.6.0")
    v = k.verify(None, p, ctx)
    assert not v.ok and "expected chart version 1.7.0" in v.message


def test_helm_release_on_the_sandbox_stand_in_is_said_and_still_needs_it_up(env):
    ctx, wl = env
    k, p = _step("helm_release", release="kuberay-operator", chart="kuberay/kuberay-operator", namespace="cato",
                 version="1.7.0")
    wl.chart_status = lambda r, n: {"release": r, "status": "deployed", "local_stand_in": True, "detail": "local Ray head"}
    v = k.verify(None, p, ctx)
    assert v.ok and "sandbox stand-in" in v.message
    wl.chart_status = lambda r, n: {"release": r, "status": "failed", "local_stand_in": True, "detail": "not answering"}
    assert not k.verify(None, p, ctx).ok


def test_unpinned_chart_is_said_in_the_plan(env):
    ctx, _ = env
    k, p = _step("helm_release", release="kuberay-operator", chart="kuberay/kuberay-operator", namespace="cato")
    assert "no version pinned" in k.plan(None, p, ctx)


# --- the adapter's status reading: missing fields are 0, stale status is not ready ------------

def _dep(replicas, status, generation=1):
    return {"metadata": {"name": "litellm", "namespace": "cato", "generation": generation},
            "spec": {"replicas": replicas}, "status": status}


def test_deployment_status_reads_missing_fields_as_zero():
    from cato_migrate.adapters.k8s_workloads import deployment_status, settled

    st = deployment_status(_dep(2, {}))
    assert (st.desired, st.ready, st.is_ready, settled(st)) == (2, 0, False, False)
    st = deployment_status(_dep(2, {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 2, "replicas": 2}))
    assert settled(st)
    # the controller has not seen generation 2 yet: the old ready count does not count
    st = deployment_status(_dep(3, {"observedGeneration": 1, "readyReplicas": 3, "replicas": 3}, generation=2))
    assert st.ready == 0 and not settled(st)
    # scaled to 0 but pods still running: not settled until nothing runs
    assert not settled(deployment_status(_dep(0, {"observedGeneration": 2, "replicas": 2}, generation=2)))
    assert settled(deployment_status(_dep(0, {"observedGeneration": 2}, generation=2)))


def test_rayservice_ready_only_with_ready_condition():
    from cato_migrate.adapters.k8s_workloads import rayservice_status, settled

    obj = {"metadata": {"name": "cato-orchestrator", "namespace": "cato", "generation": 1},
           "spec": {"rayClusterConfig": {"workerGroupSpecs": [{"groupName": "g", "replicas": 2}]}},
           "status": {"observedGeneration": 1, "activeServiceStatus": {"rayClusterStatus": {"readyWorkerReplicas": 2}},
                      "conditions": [{"type": "Ready", "status": "False", "reason": "Initializing"}]}}
    assert not settled(rayservice_status(obj))
    obj["status"]["conditions"][0]["status"] = "True"
    assert settled(rayservice_status(obj))
    obj["status"] = {}
    st = rayservice_status(obj)
    assert (st.desired, st.ready) == (2, 0)
