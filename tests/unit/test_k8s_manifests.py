"""Every manifest in k8s/ is valid: custom resources against the vendored KubeRay CRD schema,
core kinds against the Kubernetes OpenAPI schemas (kubernetes-validate). Planted faults fail."""
from __future__ import annotations

import copy
import importlib.util
import ast
from pathlib import Path

import pytest
import yaml

from cato_migrate.adapters import k8s_manifest as km
from cato_migrate.errors import BadInput

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
MANIFESTS = sorted(p for p in K8S.rglob("*.yaml") if "crds" not in p.parts)
RAYSERVICE = K8S / "ray-serve" / "cato-orchestrator.yaml"


def _docs(path):
    return km.load_documents(path)


def _rayservice() -> dict:
    return next(d for d in _docs(RAYSERVICE) if d["kind"] == "RayService")


def test_manifests_present():
    names = {str(p.relative_to(K8S)) for p in MANIFESTS}
    assert {"namespace.yaml", "ray-serve/cato-orchestrator.yaml", "litellm/deployment.yaml"} <= names
    assert (K8S / "crds" / "ray.io_rayservices.yaml").exists() and (K8S / "crds" / "NOTICE").exists()


def test_vendored_crds_serve_rayservice_v1():
    schemas = km.vendored_schemas()
    assert ("ray.io/v1", "RayService") in schemas and ("ray.io/v1", "RayCluster") in schemas


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(K8S)))
def test_custom_resources_match_crd_schema(path):
    km.validate_custom_resources(path, _docs(path))  # raises BadInput on any schema error


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(K8S)))
def test_core_kinds_match_kubernetes_schema(path):
    kv = pytest.importorskip("kubernetes_validate")
    for doc in _docs(path):
        if doc["apiVersion"].startswith("ray.io/"):
            continue  # kubernetes-validate silently passes CRDs it does not know; checked above
        kv.validate(doc, kv.latest_version(), strict=True)


def test_everything_in_namespace_cato():
    for path in MANIFESTS:
        for doc in _docs(path):
            if doc["kind"] != "Namespace":
                assert doc["metadata"].get("namespace") == "cato", (path, km.ref(doc))


def test_rayservice_shape():
    rs = _rayservice()
    assert rs["apiVersion"] == "ray.io/v1" and rs["metadata"]["name"] == "cato-orchestrator"
    groups = rs["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    assert len(groups) == 1
    g = groups[0]
    assert {"groupName", "minReplicas", "maxReplicas", "replicas", "template"} <= set(g)
    assert g["minReplicas"] <= g["replicas"] <= g["maxReplicas"]
    for c in g["template"]["spec"]["containers"] + rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"]:
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
        assert {"configMapRef", "secretRef"} <= {k for e in c["envFrom"] for k in e}


def test_serve_config_runs_the_orchestrator_app():
    """serveConfigV2's args are a valid OrchestratorConfig and import_path names the typed builder."""
    from orchestrator.config import OrchestratorConfig

    serve = yaml.safe_load(_rayservice()["spec"]["serveConfigV2"])
    (app,) = serve["applications"]
    module, func = app["import_path"].split(":")
    assert module == "orchestrator.serve_app"
    spec = importlib.util.find_spec(module)
    tree = ast.parse(Path(spec.origin).read_text())
    builder = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == func)
    # Serve converts args into the builder's one pydantic-annotated parameter.
    assert len(builder.args.args) == 1 and ast.unparse(builder.args.args[0].annotation) == "OrchestratorConfig"
    cfg = OrchestratorConfig.model_validate(app["args"])
    assert cfg.serve.host == "0.0.0.0" and cfg.serve.port == serve["http_options"]["port"]
    assert set(cfg.backends) == {"bedrock_haiku", "bedrock_sonnet", "shadow_self"}


def test_haproxy_limits_match_the_replicas_serve_settings():
    """The Ray head's CATO_HAPROXY_* (orchestrator/ingress_limits.py) say what serveConfigV2 says, and
    the hook directory is on PYTHONPATH: a mismatch would refuse at HAProxy what the replica admits,
    or let through what it refuses."""
    from orchestrator.config import OrchestratorConfig
    from orchestrator.ingress_limits import limits_from_env

    env = _docs(RAYSERVICE)
    env = next(d for d in env if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "cato-orchestrator-env")["data"]
    (app,) = yaml.safe_load(_rayservice()["spec"]["serveConfigV2"])["applications"]
    serve = OrchestratorConfig.model_validate(app["args"]).serve
    limits = limits_from_env(env)
    assert limits is not None and env["PYTHONPATH"].endswith("orchestrator/ray_hooks")
    assert (limits.maxconn, limits.maxqueue, limits.queue_timeout_s, limits.retry_after_s) == (
        serve.max_admitted, serve.max_queued_requests, serve.ingress_queue_timeout_s, serve.retry_after_s)
    assert serve.max_ongoing_requests > serve.max_admitted   # health checks and metrics still get in


def test_litellm_pinned_and_configured():
    docs = {km.ref(d): d for d in _docs(K8S / "litellm" / "deployment.yaml")}
    dep = docs["Deployment/litellm"]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    repo, _, tag = c["image"].rpartition(":")
    assert repo == "ghcr.io/berriai/litellm" and tag and tag not in ("latest", "main-latest", "main-stable")
    cfg = yaml.safe_load(docs["ConfigMap/litellm-config"]["data"]["config.yaml"])
    assert cfg["model_list"]
    assert "Service/litellm" in docs


# --- planted faults: the validation must refuse them --------------------------------------------

def _fails(doc: dict, field_fragment: str):
    with pytest.raises(BadInput) as ei:
        km.validate_custom_resources("planted.yaml", [doc])
    assert field_fragment in ei.value.message, ei.value.message
    assert "planted.yaml" in ei.value.message and "RayService/cato-orchestrator" in ei.value.message
    return ei.value


def test_worker_group_without_group_name_is_rejected():
    rs = copy.deepcopy(_rayservice())
    del rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["groupName"]
    err = _fails(rs, "spec.rayClusterConfig.workerGroupSpecs[0].groupName: Required value")
    assert err.details["causes"][0]["reason"] == "FieldValueRequired"


def test_serve_config_not_a_string_is_rejected():
    rs = copy.deepcopy(_rayservice())
    rs["spec"]["serveConfigV2"] = yaml.safe_load(rs["spec"]["serveConfigV2"])
    _fails(rs, "spec.serveConfigV2: Invalid value: \"object\"")


def test_unknown_field_is_rejected():
    rs = copy.deepcopy(_rayservice())
    rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["replica"] = 3  # typo of replicas
    _fails(rs, 'unknown field "replica"')


def test_unknown_version_of_a_crd_group_is_rejected():
    rs = copy.deepcopy(_rayservice())
    rs["apiVersion"] = "ray.io/v2"
    _fails(rs, "no CRD serves RayService in ray.io/v2")


def test_core_kind_fault_is_rejected():
    kv = pytest.importorskip("kubernetes_validate")
    dep = copy.deepcopy(next(d for d in _docs(K8S / "litellm" / "deployment.yaml") if d["kind"] == "Deployment"))
    dep["spec"]["replicas"] = "two"
    with pytest.raises(kv.ValidationError):
        kv.validate(dep, kv.latest_version(), strict=True)


def test_not_a_manifest_is_bad_input(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("just: a mapping\n")
    with pytest.raises(BadInput, match="not a Kubernetes object"):
        km.load_documents(p)
    with pytest.raises(BadInput, match="does not exist"):
        km.load_documents(tmp_path / "missing.yaml")
