"""The stand-in's two controllers: Deployment validation and status, and what the KubeRay operator
reports for a RayService once its cluster and Serve apps are up."""
from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def omit_zero(d: dict) -> dict:
    """The API omits zero-valued status fields (omitempty): a client reads None, not 0."""
    return {k: v for k, v in d.items() if v not in (0, None, "", [], {})}


def deployment_causes(obj: dict) -> list[dict]:
    spec = obj.get("spec") or {}
    causes = []
    sel = (spec.get("selector") or {}).get("matchLabels")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not spec.get("selector"):
        causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"})
    elif sel and any(labels.get(k) != v for k, v in sel.items()):
        causes.append({"reason": "FieldValueInvalid", "field": "spec.template.metadata.labels",
                       "message": f"Invalid value: {labels}: `selector` does not match template `labels`"})
    r = spec.get("replicas")
    if not isinstance(r, int) or isinstance(r, bool) or r < 0:
        causes.append({"reason": "FieldValueInvalid", "field": "spec.replicas",
                       "message": f"Invalid value: {r!r}: must be greater than or equal to 0"})
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers")
    if not containers:
        causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.template.spec.containers"})
    for i, c in enumerate(containers or []):
        for f in ("name", "image"):
            if not (isinstance(c, dict) and c.get(f)):
                causes.append({"reason": "FieldValueRequired", "message": "Required value",
                               "field": f"spec.template.spec.containers[{i}].{f}"})
    return causes


def deployment_status(obj: dict) -> dict:
    n = obj["spec"].get("replicas", 0)
    cond = lambda t, s, r, m: {"type": t, "status": s, "reason": r, "message": m,  # noqa: E731
                               "lastUpdateTime": utc_now(), "lastTransitionTime": utc_now()}
    return omit_zero({"observedGeneration": obj["metadata"]["generation"], "replicas": n, "updatedReplicas": n,
                       "readyReplicas": n, "availableReplicas": n,
                       "conditions": [cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                                      cond("Progressing", "True", "NewReplicaSetAvailable",
                                           f'ReplicaSet "{obj["metadata"]["name"]}-5d9c7b8f6" has successfully progressed.')]})


def rayservice_status(obj: dict) -> dict:
    """What the KubeRay operator reports once the cluster and the Serve apps are up."""
    spec = obj.get("spec") or {}
    groups = (spec.get("rayClusterConfig") or {}).get("workerGroupSpecs") or []
    workers = sum(int(g.get("replicas", g.get("minReplicas", 0)) or 0) for g in groups)
    apps = []
    try:
        import yaml

        apps = [a.get("name", "default") for a in (yaml.safe_load(spec.get("serveConfigV2") or "") or {}).get("applications", [])]
    except Exception:  # noqa: BLE001 - a bad serve config shows as no applications, as in KubeRay
        apps = []
    ready = workers > 0 and bool(apps)
    at = utc_now()
    return omit_zero({
        "observedGeneration": obj["metadata"]["generation"],
        "serviceStatus": "Running" if ready else "",
        "numServeEndpoints": workers if ready else 0,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                        "reason": "NonZeroServeEndpoints" if ready else "ZeroServeEndpoints",
                        "message": "" if ready else "no Serve endpoints: the worker groups have 0 replicas",
                        "lastTransitionTime": at, "observedGeneration": obj["metadata"]["generation"]}],
        "activeServiceStatus": {
            "rayClusterName": f"{obj['metadata']['name']}-raycluster",
            "rayClusterStatus": omit_zero({"state": "ready", "desiredWorkerReplicas": workers,
                                            "readyWorkerReplicas": workers, "availableWorkerReplicas": workers,
                                            "minWorkerReplicas": sum(int(g.get("minReplicas", 0) or 0) for g in groups),
                                            "maxWorkerReplicas": sum(int(g.get("maxReplicas", 0) or 0) for g in groups)}),
            "applicationStatuses": {a: {"status": "RUNNING" if ready else "DEPLOYING"} for a in apps},
        },
    })
