"""KubernetesWorkloads against the Kubernetes API stand-in (a subprocess on a loopback port),
with the real k8s/ manifests; helm through the pinned binary, offline (it cannot speak to a
JSON-only API server: it sends protobuf)."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

pytest.importorskip("kubernetes")

from cato_migrate.adapters.helm import Helm, default_binary  # noqa: E402
from cato_migrate.adapters.k8s_workloads import KubernetesWorkloads  # noqa: E402
from cato_migrate.errors import BadInput, Conflict, ExternalError, NotFound  # noqa: E402
from cato_sandbox.kube_api import make_server  # noqa: E402
from tests.integration.conftest import free_port, wait_http  # noqa: E402

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
CHART = ROOT / "tests" / "data" / "charts" / "tiny"
CRD = str(K8S / "crds" / "ray.io_rayservices.yaml")
NS, LITELLM, RAYSVC = str(K8S / "namespace.yaml"), str(K8S / "litellm" / "deployment.yaml"), str(K8S / "ray-serve" / "cato-orchestrator.yaml")


@pytest.fixture(scope="module")
def kube_url():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cato_sandbox.kube_api", "--host", "127.0.0.1", "--port", str(port),
                             "--deployment-delay", "0.3", "--rayservice-delay", "0.3"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/version", proc=proc)
        KubernetesWorkloads(host=url).apply(CRD, "")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def wl(kube_url):
    w = KubernetesWorkloads(host=kube_url, poll_s=0.05)
    yield w
    try:
        from kubernetes import client

        client.CoreV1Api(w.api()).delete_namespace("cato")  # the stand-in drops its contents at once
    except Exception:  # noqa: BLE001 - absent already
        pass


@pytest.fixture
def bare():
    """A fresh in-process stand-in with no CRDs and no namespace cato (for error paths)."""
    srv = make_server(deployment_delay=0.3, rayservice_delay=0.3)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield KubernetesWorkloads(host=f"http://127.0.0.1:{srv.server_address[1]}", poll_s=0.05)
    srv.shutdown()
    srv.server_close()


def _deploy_all(wl):
    out = []
    for m in (NS, LITELLM, RAYSVC):
        out += wl.apply(m, "cato")
    return out


def test_apply_real_manifests_idempotently(wl):
    applied = _deploy_all(wl)
    assert applied == ["Namespace/cato", "ServiceAccount/litellm", "ConfigMap/litellm-config", "Deployment/litellm",
                       "Service/litellm", "ServiceAccount/cato-orchestrator", "ConfigMap/cato-orchestrator-env",
                       "RayService/cato-orchestrator"]
    dyn = wl.dynamic()
    res = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    rv = dyn.get(res, name="litellm", namespace="cato").metadata.resourceVersion
    _deploy_all(wl)  # again: nothing changes
    assert dyn.get(res, name="litellm", namespace="cato").metadata.resourceVersion == rv
    st = wl.wait_ready("litellm", "cato", 10)
    assert (st.kind, st.desired, st.ready, st.is_ready) == ("Deployment", 2, 2, True)
    rs = wl.wait_ready("cato-orchestrator", "cato", 10)
    assert (rs.kind, rs.desired, rs.ready) == ("RayService", 2, 2) and "Running" in rs.detail


def test_scale_litellm_zero_two_zero_with_waits(wl):
    _deploy_all(wl)
    wl.wait_ready("litellm", "cato", 10)
    st = wl.scale("litellm", "cato", 0)
    assert st.desired == 0 and st.ready == 2  # still running until the controller catches up
    assert wl.wait_ready("litellm", "cato", 10).ready == 0
    st = wl.scale("litellm", "cato", 2)
    assert (st.desired, st.ready, st.is_ready) == (2, 0, False)  # missing readyReplicas reads as 0, never ready
    assert wl.wait_ready("litellm", "cato", 10).ready == 2
    wl.scale("litellm", "cato", 0)
    assert wl.wait_ready("litellm", "cato", 10).ready == 0


def test_scale_rayservice_worker_groups(wl):
    _deploy_all(wl)
    wl.wait_ready("cato-orchestrator", "cato", 10)
    st = wl.scale("cato-orchestrator", "cato", 0)
    assert st.desired == 0
    st = wl.wait_ready("cato-orchestrator", "cato", 10)
    assert st.ready == 0 and "serves nothing" in st.detail
    spec = wl.dynamic().get(wl._resource("ray.io/v1", "RayService"), name="cato-orchestrator", namespace="cato").to_dict()
    g = spec["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
    assert (g["replicas"], g["minReplicas"], g["groupName"]) == (0, 0, "orchestrator")
    wl.scale("cato-orchestrator", "cato", 5)
    st = wl.wait_ready("cato-orchestrator", "cato", 10)
    assert (st.desired, st.ready) == (5, 5)


def test_delete(wl):
    _deploy_all(wl)
    assert wl.delete("litellm", "cato") is True
    assert wl.delete("litellm", "cato") is False
    assert wl.status("litellm", "cato").exists is False
    assert wl.delete("cato-orchestrator", "cato") is True
    with pytest.raises(NotFound, match="no Deployment or RayService"):
        wl.scale("litellm", "cato", 1)
    with pytest.raises(NotFound, match="nothing to wait for"):
        wl.wait_ready("litellm", "cato", 1)


# --- error paths ------------------------------------------------------------------------------

def test_missing_namespace_says_which_and_what_to_run(bare):
    with pytest.raises(NotFound) as ei:
        bare.apply(LITELLM, "cato")
    assert "namespace cato does not exist" in ei.value.message and "k8s/namespace.yaml" in ei.value.hint


def test_missing_crd_says_install_kuberay(bare):
    bare.apply(NS, "cato")
    with pytest.raises(NotFound) as ei:
        bare.apply(RAYSVC, "cato")
    assert "RayService" in ei.value.message and "kuberay" in ei.value.hint.lower()
    assert bare.status("cato-orchestrator", "cato").exists is False


def test_invalid_rayservice_is_bad_input_and_nothing_is_applied(wl, tmp_path):
    wl.apply(NS, "cato")
    docs = list(yaml.safe_load_all(Path(RAYSVC).read_text()))
    rs = next(d for d in docs if d["kind"] == "RayService")
    del rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["groupName"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all(docs))
    with pytest.raises(BadInput) as ei:
        wl.apply(str(bad), "cato")
    assert "workerGroupSpecs[0].groupName: Required value" in ei.value.message and str(bad) in ei.value.message
    from kubernetes import client

    assert client.CoreV1Api(wl.api()).list_namespaced_config_map("cato").items == []  # nothing applied


def test_api_422_carries_the_field_message(wl, tmp_path):
    wl.apply(NS, "cato")
    docs = list(yaml.safe_load_all(Path(LITELLM).read_text()))
    dep = next(d for d in docs if d["kind"] == "Deployment")
    dep["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    bad = tmp_path / "dep.yaml"
    bad.write_text(yaml.safe_dump(dep))
    with pytest.raises(BadInput) as ei:
        wl.apply(str(bad), "cato")
    assert "spec.template.metadata.labels" in ei.value.message and "does not match" in ei.value.message


def test_conflict_when_someone_else_scaled_and_force_is_off(wl, kube_url):
    from kubernetes import client

    wl.apply(NS, "cato")
    wl.apply(LITELLM, "cato")
    client.AppsV1Api(wl.api()).patch_namespaced_deployment_scale("litellm", "cato", {"spec": {"replicas": 5}},
                                                                 field_manager="kubectl")
    strict = KubernetesWorkloads(host=kube_url, force_conflicts=False)
    with pytest.raises(Conflict) as ei:
        strict.apply(LITELLM, "cato")
    assert ".spec.replicas" in ei.value.message and "kubectl" in ei.value.message
    wl.apply(LITELLM, "cato")  # the default forces: the manifest is the truth
    assert wl.status("litellm", "cato").desired == 2


def test_strategic_merge_on_a_custom_resource_maps_to_external_error(wl):
    _deploy_all(wl)
    res = wl._resource("ray.io/v1", "RayService")
    with pytest.raises(ExternalError) as ei:
        wl._call(lambda: wl.dynamic().patch(res, body={"spec": {"suspend": True}}, name="cato-orchestrator",
                                            namespace="cato"), "patch RayService")
    assert "patch format" in ei.value.message and ei.value.details["status"] == 415


def test_wait_times_out_with_what_to_look_at(wl):
    _deploy_all(wl)
    wl.scale("litellm", "cato", 3)
    with pytest.raises(ExternalError) as ei:
        wl.wait_ready("litellm", "cato", 0.01)
    assert "not ready after" in ei.value.message and "kubectl -n cato describe deployment litellm" in ei.value.hint


def test_unreachable_api_is_external_error():
    w = KubernetesWorkloads(host=f"http://127.0.0.1:{free_port()}")
    w.api().configuration.retries = 0
    with pytest.raises(ExternalError, match="cannot reach the Kubernetes API"):
        w.status("litellm", "cato")


# --- helm --------------------------------------------------------------------------------------

needs_helm = pytest.mark.skipif(default_binary() is None, reason="helm not installed (make setup installs it)")


@needs_helm
def test_pinned_helm_renders_and_lints_offline():
    h = Helm()
    assert h.version().startswith("v4.1.4")
    out = h.template("rel", str(CHART), "cato", values={"replicaCount": 3})
    dep = yaml.safe_load(out.split("---", 1)[1] if out.lstrip().startswith("---") else out)
    assert dep["metadata"]["name"] == "rel-tiny" and dep["spec"]["replicas"] == 3
    assert "0 chart(s) failed" in h.lint(str(CHART))
    rel = h.run(["install", "rel", str(CHART), "--dry-run=client", "--namespace", "cato", "-o", "json"],
                "helm install --dry-run", cluster=False)
    assert '"status":"pending-install"' in rel.replace(" ", "")


@needs_helm
def test_helm_failures_map_to_our_errors(tmp_path):
    with pytest.raises(BadInput, match="helm template"):
        Helm().template("rel", str(tmp_path / "no-chart"), "cato")
    unreachable = KubernetesWorkloads(kubeconfig=str(tmp_path / "missing-kubeconfig"))
    with pytest.raises(ExternalError) as ei:
        unreachable.install_chart("rel", str(CHART), "cato", version="0.1.0")
    assert "unreachable" in ei.value.message.lower() and "kube" in ei.value.hint


def test_missing_helm_binary_is_bad_input(tmp_path):
    with pytest.raises(BadInput) as ei:
        Helm(binary=str(tmp_path / "helm")).status("rel", "cato")
    assert "make setup" in ei.value.hint


def _fake_helm(tmp_path, stderr: str) -> str:
    f = tmp_path / "helm"
    f.write_text(f"#!/bin/sh\necho '{stderr}' >&2\nexit 1\n")
    f.chmod(0o755)
    return str(f)


def test_helm_status_not_found_is_none_and_busy_release_is_conflict(tmp_path):
    assert Helm(binary=_fake_helm(tmp_path, "Error: release: not found")).status("kuberay-operator", "cato") is None
    busy = Helm(binary=_fake_helm(tmp_path, "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress"))
    with pytest.raises(Conflict) as ei:
        busy.upgrade_install("kuberay-operator", "kuberay/kuberay-operator", "cato", "1.7.0")
    assert "helm history kuberay-operator -n cato" in ei.value.hint
    norepo = Helm(binary=_fake_helm(tmp_path, 'Error: repo kuberay not found'))
    with pytest.raises(ExternalError) as ei:
        norepo.upgrade_install("kuberay-operator", "kuberay/kuberay-operator", "cato")
    assert "helm repo add kuberay" in ei.value.hint
