"""The Kubernetes JSON API stand-in, driven by the official `kubernetes` client (not a mock)."""
from __future__ import annotations

import copy
import json
import threading
import time
import urllib.request

import pytest
import yaml

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client  # noqa: E402
from kubernetes.dynamic import DynamicClient  # noqa: E402

from cato_sandbox.kube_api import make_server  # noqa: E402
from tests.unit.test_k8s_manifests import K8S  # noqa: E402

pytestmark = pytest.mark.integration
DELAY = 0.2


@pytest.fixture
def api(tmp_path):
    srv = make_server(deployment_delay=DELAY, rayservice_delay=DELAY)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    cfg = client.Configuration()
    cfg.host = f"http://127.0.0.1:{srv.server_address[1]}"
    c = client.ApiClient(cfg)
    c.cache_file = str(tmp_path / "discovery.json")
    yield c
    srv.shutdown()
    srv.server_close()


def _status(exc) -> dict:
    return json.loads(exc.body)


def _deployment(name="litellm", replicas=0):
    return {"metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": "ghcr.io/berriai/litellm:v1"}]}}}}


def _dyn(api) -> DynamicClient:
    return DynamicClient(api, cache_file=api.cache_file)


def _install_crd(api):
    dyn = _dyn(api)
    crd = yaml.load((K8S / "crds" / "ray.io_rayservices.yaml").read_text(), Loader=yaml.CSafeLoader)
    dyn.server_side_apply(dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"),
                          body=crd, field_manager="test")
    return _dyn(api)  # fresh discovery sees ray.io/v1


def _rayservice():
    docs = list(yaml.safe_load_all((K8S / "ray-serve" / "cato-orchestrator.yaml").read_text()))
    return next(d for d in docs if d["kind"] == "RayService")


def test_discovery_and_version(api):
    v = client.VersionApi(api).get_code()
    assert v.major == "1"
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "apiextensions.k8s.io"} <= groups
    names = {r.name for r in client.AppsV1Api(api).get_api_resources().resources}
    assert {"deployments", "deployments/scale", "deployments/status"} <= names


def test_namespace_missing_is_404_with_status_body(api):
    v1 = client.CoreV1Api(api)
    with pytest.raises(client.ApiException) as ei:
        v1.create_namespaced_config_map("cato", {"metadata": {"name": "c"}})
    body = _status(ei.value)
    assert ei.value.status == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'namespaces "cato" not found' and body["details"] == {"name": "cato", "kind": "namespaces"}


def test_crud_conflicts_and_lists(api):
    v1 = client.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": "cato"}})
    cm = v1.create_namespaced_config_map("cato", {"metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"k": "v"}})
    assert cm.metadata.uid and cm.metadata.resource_version
    with pytest.raises(client.ApiException) as ei:
        v1.create_namespaced_config_map("cato", {"metadata": {"name": "c"}})
    assert ei.value.status == 409 and _status(ei.value)["reason"] == "AlreadyExists"
    # update with the current resourceVersion works; with a stale one it is a 409 Conflict
    cm.data = {"k": "w"}
    fresh = v1.replace_namespaced_config_map("c", "cato", cm)
    cm.data = {"k": "x"}
    with pytest.raises(client.ApiException) as ei:
        v1.replace_namespaced_config_map("c", "cato", cm)
    assert ei.value.status == 409 and "the object has been modified" in _status(ei.value)["message"]
    assert fresh.data == {"k": "w"}
    # merge patch, then lists with kind/apiVersion and selectors
    v1.patch_namespaced_config_map("c", "cato", {"data": {"extra": "1"}})
    with urllib.request.urlopen(api.configuration.host + "/api/v1/namespaces/cato/configmaps?labelSelector=a%3D1") as r:
        raw = json.loads(r.read())
    assert raw["kind"] == "ConfigMapList" and raw["apiVersion"] == "v1"
    assert [i["data"] for i in raw["items"]] == [{"k": "w", "extra": "1"}]
    assert v1.list_namespaced_config_map("cato", label_selector="a=2").items == []
    v1.delete_namespaced_config_map("c", "cato")
    with pytest.raises(client.ApiException) as ei:
        v1.read_namespaced_config_map("c", "cato")
    assert ei.value.status == 404 and _status(ei.value)["message"] == 'configmaps "c" not found'


def test_deployment_scale_and_ready_replicas_none_at_zero(api):
    client.CoreV1Api(api).create_namespace({"metadata": {"name": "cato"}})
    apps = client.AppsV1Api(api)
    d = apps.create_namespaced_deployment("cato", _deployment(replicas=0))
    assert d.status.ready_replicas is None and d.metadata.generation == 1
    s = apps.patch_namespaced_deployment_scale("litellm", "cato", {"spec": {"replicas": 2}})
    assert s.spec.replicas == 2
    assert apps.read_namespaced_deployment("litellm", "cato").status.ready_replicas is None  # controller lags
    time.sleep(DELAY + 0.1)
    d = apps.read_namespaced_deployment("litellm", "cato")
    assert d.status.ready_replicas == 2 and d.status.observed_generation == d.metadata.generation == 2
    apps.patch_namespaced_deployment_scale("litellm", "cato", {"spec": {"replicas": 0}})
    time.sleep(DELAY + 0.1)
    st = apps.read_namespaced_deployment_status("litellm", "cato").status
    assert st.ready_replicas is None and st.replicas is None and st.available_replicas is None  # omitted, not 0
    managers = {m.manager for m in apps.read_namespaced_deployment("litellm", "cato").metadata.managed_fields}
    assert managers  # field managers are recorded


def test_core_validation_is_422(api):
    client.CoreV1Api(api).create_namespace({"metadata": {"name": "cato"}})
    bad = _deployment()
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(client.ApiException) as ei:
        client.AppsV1Api(api).create_namespaced_deployment("cato", bad)
    body = _status(ei.value)
    assert ei.value.status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "spec.template.metadata.labels"


def test_crd_registers_rayservice_and_validates_it(api):
    client.CoreV1Api(api).create_namespace({"metadata": {"name": "cato"}})
    dyn = _install_crd(api)
    rs_res = dyn.resources.get(api_version="ray.io/v1", kind="RayService")
    bad = copy.deepcopy(_rayservice())
    del bad["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["groupName"]
    with pytest.raises(kubernetes.dynamic.exceptions.DynamicApiError) as ei:
        dyn.create(rs_res, body=bad, namespace="cato")
    body = _status(ei.value)
    assert ei.value.status == 422
    assert body["message"] == ('RayService.ray.io "cato-orchestrator" is invalid: '
                               "spec.rayClusterConfig.workerGroupSpecs[0].groupName: Required value")
    bad = copy.deepcopy(_rayservice())
    bad["spec"]["serveConfigV2"] = {"applications": []}
    with pytest.raises(kubernetes.dynamic.exceptions.DynamicApiError) as ei:
        dyn.create(rs_res, body=bad, namespace="cato")
    assert ei.value.status == 422 and "spec.serveConfigV2" in _status(ei.value)["message"]

    obj = dyn.server_side_apply(rs_res, body=_rayservice(), namespace="cato", field_manager="test")
    assert obj.metadata.generation == 1 and not obj.to_dict().get("status")
    time.sleep(DELAY + 0.1)
    obj = dyn.get(rs_res, name="cato-orchestrator", namespace="cato")
    assert obj.status.serviceStatus == "Running"
    assert obj.status.activeServiceStatus.rayClusterStatus.readyWorkerReplicas == 2
    listed = dyn.get(rs_res, namespace="cato")
    assert listed.kind == "RayServiceList" and listed.items[0].kind == "RayService"


def test_strategic_merge_on_custom_resource_is_415(api):
    client.CoreV1Api(api).create_namespace({"metadata": {"name": "cato"}})
    dyn = _install_crd(api)
    rs_res = dyn.resources.get(api_version="ray.io/v1", kind="RayService")
    dyn.server_side_apply(rs_res, body=_rayservice(), namespace="cato", field_manager="test")
    with pytest.raises(kubernetes.dynamic.exceptions.DynamicApiError) as ei:
        dyn.patch(rs_res, body={"spec": {"suspend": True}}, name="cato-orchestrator", namespace="cato")  # default: strategic
    body = _status(ei.value)
    assert ei.value.status == 415 and body["reason"] == "UnsupportedMediaType"
    assert "application/merge-patch+json" in body["message"] and "strategic" not in body["message"]
    dyn.patch(rs_res, body={"spec": {"suspend": True}}, name="cato-orchestrator", namespace="cato",
              content_type="application/merge-patch+json")
    ops = [{"op": "replace", "path": "/spec/suspend", "value": False}]
    out = dyn.patch(rs_res, body=ops, name="cato-orchestrator", namespace="cato",
                    content_type="application/json-patch+json")
    assert out.spec.suspend is False


def test_server_side_apply_managers_conflicts_and_force(api):
    client.CoreV1Api(api).create_namespace({"metadata": {"name": "cato"}})
    dyn = _dyn(api)
    res = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    body = {"apiVersion": "apps/v1", "kind": "Deployment", **_deployment(replicas=1)}
    body["metadata"]["namespace"] = "cato"
    first = dyn.server_side_apply(res, body=body, field_manager="ci")
    assert first.metadata.managedFields[0]["manager"] == "ci" and first.metadata.managedFields[0]["operation"] == "Apply"
    again = dyn.server_side_apply(res, body=body, field_manager="ci")
    assert again.metadata.resourceVersion == first.metadata.resourceVersion  # no-op apply changes nothing
    # someone scales by hand; re-applying replicas: 1 now conflicts with that manager
    client.AppsV1Api(api).patch_namespaced_deployment_scale("litellm", "cato", {"spec": {"replicas": 3}},
                                                            field_manager="kubectl")
    with pytest.raises(kubernetes.dynamic.exceptions.DynamicApiError) as ei:
        dyn.server_side_apply(res, body=body, field_manager="ci")
    st = _status(ei.value)
    assert ei.value.status == 409 and st["reason"] == "Conflict"
    assert st["message"] == 'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas'
    out = dyn.server_side_apply(res, body=body, field_manager="ci", force_conflicts=True)
    assert out.spec.replicas == 1
    # apply without fieldManager is refused; dropping a field from the applied config removes it
    with pytest.raises(kubernetes.dynamic.exceptions.DynamicApiError) as ei:
        dyn.server_side_apply(res, body=body)
    assert ei.value.status == 422
    body2 = copy.deepcopy(body)
    body2["metadata"]["labels"] = {"app": "litellm", "tier": "legacy"}
    assert dyn.server_side_apply(res, body=body2, field_manager="ci").metadata.labels["tier"] == "legacy"
    assert "tier" not in dyn.server_side_apply(res, body=body, field_manager="ci").metadata.labels


def test_apply_into_missing_namespace_is_404(api):
    dyn = _dyn(api)
    res = dyn.resources.get(api_version="v1", kind="ConfigMap")
    with pytest.raises(kubernetes.dynamic.exceptions.DynamicApiError) as ei:
        dyn.server_side_apply(res, body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "nope"}},
                              field_manager="t")
    assert ei.value.status == 404 and _status(ei.value)["details"]["kind"] == "namespaces"
