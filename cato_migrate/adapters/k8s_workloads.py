"""Workloads on Kubernetes: the official client (lazy import) plus helm for charts.

- apply: server-side apply of every document through the dynamic client, which sends
  `application/apply-patch+yaml` (never a strategic-merge patch: the API answers 415 for one
  on a custom resource such as RayService). Field manager `cato-migrate`; conflicts are
  forced by default, as a deploy tool that treats the manifest in git as the truth does
  (`force_conflicts=False` turns another manager's change into a `Conflict` instead).
- scale: a Deployment through its `scale` subresource. A RayService has none: its worker
  groups' `replicas` are set with a merge patch guarded by resourceVersion (min/max widen to
  admit the value). **0 for a RayService** means every worker group at 0 replicas: the head
  pod keeps running (KubeRay has no head scale-to-zero) but runs no Serve replicas (our head
  has num-cpus 0), so the orchestrator serves nothing. Delete the RayService to free the head.
- status / waits: missing status fields read as 0 (the API omits zeros); a status whose
  observedGeneration lags the spec is not ready. A RayService counts its ready worker replicas
  only while its `Ready` condition is True.
- errors: 404 says whether the namespace or the object is missing and what to apply, 409,
  415 and 422 (with the API's field message) map onto `cato_migrate.errors`.
"""
from __future__ import annotations

import atexit
import json
import os
import tempfile
import time
from pathlib import Path

from cato_migrate.adapters import k8s_manifest as km
from cato_migrate.errors import BadInput, CatoError, Conflict, ExternalError, NotFound
from cato_migrate.ports import WorkloadStatus

FIELD_MANAGER = "cato-migrate"
_KINDS = (("apps/v1", "Deployment"), ("ray.io/v1", "RayService"))


class KubernetesWorkloads:
    def __init__(self, kubeconfig: str | None = None, context: str | None = None, helm_binary: str | None = None, *,
                 api_client=None, host: str | None = None, force_conflicts: bool = True, poll_s: float = 2.0,
                 sleep=time.sleep, now=time.monotonic):
        self.kubeconfig, self.context, self.helm_binary = kubeconfig, context, helm_binary
        self._api, self._host, self._dyn = api_client, host, None
        self.force_conflicts, self.poll_s, self._sleep, self._now = force_conflicts, poll_s, sleep, now
        self._kind_of: dict[tuple[str, str], tuple[str, str]] = {}

    # --- clients ---------------------------------------------------------------------------

    def api(self):
        if self._api is None:
            from kubernetes import client, config

            if self._host:
                cfg = client.Configuration()
                cfg.host = self._host
                self._api = client.ApiClient(cfg)
            else:
                try:
                    self._api = config.new_client_from_config(config_file=self.kubeconfig, context=self.context)
                except Exception as exc:  # ConfigException, missing file, bad YAML
                    raise BadInput(f"cannot load the Kubernetes client configuration: {exc}",
                                   hint="set kubeconfig / kube_context in cato-migrate.toml (or CATO_KUBECONFIG, "
                                        "CATO_KUBE_CONTEXT); `aws eks update-kubeconfig --name CLUSTER` writes one") from exc
        return self._api

    def dynamic(self):
        if self._dyn is None:
            from kubernetes.dynamic import DynamicClient

            host = self.api().configuration.host
            # A discovery cache per API server and process: a cache left by another server on
            # the same address would name resources this one lacks.
            cache = Path(tempfile.gettempdir()) / f"cato-k8s-discovery-{os.getpid()}-{abs(hash(host))}.json"
            atexit.register(cache.unlink, missing_ok=True)
            self._dyn = self._call(lambda: DynamicClient(self.api(), cache_file=str(cache)), "discover the API")
        return self._dyn

    def _resource(self, api_version: str, kind: str):
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.dynamic().resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError as exc:
            hint = ("the KubeRay CRDs are not installed: run the helm_release step for kuberay-operator "
                    "(or `kubectl apply --server-side -f k8s/crds/`)" if api_version.startswith("ray.io/")
                    else "check apiVersion/kind against `kubectl api-resources`")
            raise NotFound(f"the cluster serves no {kind} in {api_version}", hint=hint) from exc

    # --- error mapping ---------------------------------------------------------------------

    def _call(self, fn, what: str, *, namespace: str = "", name: str = ""):
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn()
        except CatoError:
            raise
        except ApiException as exc:
            raise api_error(exc, what, namespace=namespace, name=name) from exc
        except (HTTPError, OSError) as exc:
            host = self._api.configuration.host if self._api is not None else "?"
            raise ExternalError(f"{what}: cannot reach the Kubernetes API at {host}: {exc}",
                                hint="check kubeconfig / kube_context (`kubectl cluster-info`) and the network path") from exc

    # --- the port ----------------------------------------------------------------------------

    def apply(self, manifest_path: str, namespace: str) -> list[str]:
        docs = km.load_documents(manifest_path)
        km.validate_custom_resources(manifest_path, docs)
        for d in docs:
            doc_ns = d["metadata"].get("namespace")
            if doc_ns and namespace and doc_ns != namespace and d["kind"] != "Namespace":
                raise BadInput(f"{manifest_path}: {km.ref(d)} is for namespace {doc_ns}, but the step applies to {namespace}",
                               hint="make the step's namespace and the manifest agree; nothing was applied")
        applied = []
        for d in docs:
            res = self._resource(d["apiVersion"], d["kind"])
            ns = (d["metadata"].get("namespace") or namespace) if res.namespaced else None
            self._call(lambda: self.dynamic().server_side_apply(
                res, body=d, name=d["metadata"]["name"], namespace=ns, field_manager=FIELD_MANAGER,
                force_conflicts=self.force_conflicts),
                f"server-side apply {km.ref(d)}" + (f" in namespace {ns}" if ns else ""), namespace=ns or "",
                name=d["metadata"]["name"])
            applied.append(km.ref(d))
        return applied

    def _helm(self):
        from cato_migrate.adapters.helm import Helm

        return Helm(self.helm_binary, kubeconfig=self.kubeconfig, context=self.context)

    def install_chart(self, release: str, chart: str, namespace: str, version: str = "",
                      values: dict | None = None) -> dict:
        return self._helm().upgrade_install(release, chart, namespace, version, values)

    def chart_status(self, release: str, namespace: str) -> dict | None:
        return self._helm().status(release, namespace)

    def _read(self, name: str, namespace: str):
        """(kind, object) of the workload called `name`, or (None, None). Tries Deployment, then RayService."""
        known = self._kind_of.get((namespace, name))
        order = [k for k in _KINDS if k == known] + [k for k in _KINDS if k != known]
        for api_version, kind in order:
            try:
                res = self._resource(api_version, kind)
            except NotFound:
                continue  # e.g. no KubeRay CRDs: there cannot be a RayService
            try:
                obj = self._call(lambda: self.dynamic().get(res, name=name, namespace=namespace),
                                 f"read {kind} {namespace}/{name}", namespace=namespace, name=name)
            except NotFound:
                continue
            self._kind_of[(namespace, name)] = (api_version, kind)
            return kind, obj.to_dict()
        return None, None

    def status(self, name: str, namespace: str) -> WorkloadStatus:
        kind, obj = self._read(name, namespace)
        if obj is None:
            return WorkloadStatus(name=name, namespace=namespace, kind="unknown", exists=False,
                                  detail=f"no Deployment or RayService {namespace}/{name}")
        return (deployment_status if kind == "Deployment" else rayservice_status)(obj)

    def scale(self, name: str, namespace: str, replicas: int) -> WorkloadStatus:
        if replicas < 0:
            raise BadInput(f"replicas must be 0 or more, not {replicas}")
        kind, obj = self._read(name, namespace)
        if obj is None:
            raise NotFound(f"cannot scale {namespace}/{name}: no Deployment or RayService of that name",
                           hint="apply its manifest first (k8s/litellm/deployment.yaml or k8s/ray-serve/cato-orchestrator.yaml)")
        if kind == "Deployment":
            from kubernetes import client

            apps = client.AppsV1Api(self.api())
            self._call(lambda: apps.patch_namespaced_deployment_scale(
                name, namespace, {"spec": {"replicas": replicas}}, field_manager=FIELD_MANAGER),
                f"scale Deployment {namespace}/{name} to {replicas}", namespace=namespace, name=name)
        else:
            self._scale_rayservice(name, namespace, replicas, obj)
        return self.status(name, namespace)

    def _scale_rayservice(self, name: str, namespace: str, replicas: int, obj: dict) -> None:
        res = self._resource("ray.io/v1", "RayService")
        for attempt in range(4):
            groups = obj["spec"]["rayClusterConfig"].get("workerGroupSpecs") or []
            if not groups:
                raise BadInput(f"RayService {namespace}/{name} has no worker groups to scale")
            new = [{**g, "replicas": replicas, "minReplicas": min(int(g.get("minReplicas", 0) or 0), replicas),
                    "maxReplicas": max(int(g.get("maxReplicas", 0) or 0), replicas)} for g in groups]
            # workerGroupSpecs is an atomic list: a merge patch replaces it whole, so the
            # resourceVersion guard makes a concurrent change a 409 rather than a lost update.
            body = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
                    "spec": {"rayClusterConfig": {"workerGroupSpecs": new}}}
            try:
                self._call(lambda: self.dynamic().patch(res, body=body, name=name, namespace=namespace,
                                                        content_type="application/merge-patch+json",
                                                        field_manager=FIELD_MANAGER),
                           f"scale RayService {namespace}/{name} to {replicas} workers", namespace=namespace, name=name)
                return
            except Conflict:
                if attempt == 3:
                    raise
                obj = self._call(lambda: self.dynamic().get(res, name=name, namespace=namespace),
                                 f"re-read RayService {namespace}/{name}", namespace=namespace, name=name).to_dict()

    def wait_ready(self, name: str, namespace: str, timeout_s: float) -> WorkloadStatus:
        deadline = self._now() + timeout_s
        while True:
            st = self.status(name, namespace)
            if not st.exists:
                raise NotFound(f"{namespace}/{name} does not exist: nothing to wait for",
                               hint="apply its manifest first (the k8s_apply step)")
            if settled(st):
                return st
            if self._now() >= deadline:
                raise ExternalError(f"{st.kind} {namespace}/{name} not ready after {timeout_s:.0f}s: {st.detail}",
                                    hint=f"kubectl -n {namespace} describe {st.kind.lower()} {name}; "
                                         f"kubectl -n {namespace} get events --sort-by=.lastTimestamp",
                                    details=st.model_dump())
            self._sleep(self.poll_s)

    def delete(self, name: str, namespace: str) -> bool:
        kind, obj = self._read(name, namespace)
        if obj is None:
            return False
        res = self._resource(*next(k for k in _KINDS if k[1] == kind))
        try:
            self._call(lambda: self.dynamic().delete(res, name=name, namespace=namespace),
                       f"delete {kind} {namespace}/{name}", namespace=namespace, name=name)
        except NotFound:
            return False
        self._kind_of.pop((namespace, name), None)
        return True


# --- pure helpers (unit-testable) -------------------------------------------------------------

def _int(v) -> int:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0


def _stale(obj: dict) -> bool:
    return _int((obj.get("status") or {}).get("observedGeneration")) < _int(obj["metadata"].get("generation") or 1)


def deployment_status(obj: dict) -> WorkloadStatus:
    md, spec, st = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    desired = _int(spec.get("replicas", 1))
    ready, total = _int(st.get("readyReplicas")), _int(st.get("replicas"))
    stale = _stale(obj)
    if desired == 0:
        ready_out = total  # "ready" at 0 means nothing runs; pods still terminating count
    else:
        ready_out = 0 if stale else min(ready, _int(st.get("updatedReplicas")) or ready)
    detail = f"Deployment {ready}/{desired} ready" + (f", {total} running" if total != ready else "") + \
             (" (rollout not yet observed by the controller)" if stale else "")
    return WorkloadStatus(name=md["name"], namespace=md.get("namespace", ""), kind="Deployment", exists=True,
                          desired=desired, ready=ready_out, detail=detail)


def rayservice_status(obj: dict) -> WorkloadStatus:
    md, spec, st = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    groups = (spec.get("rayClusterConfig") or {}).get("workerGroupSpecs") or []
    desired = sum(_int(g.get("replicas", g.get("minReplicas", 0))) for g in groups)
    cluster = ((st.get("activeServiceStatus") or {}).get("rayClusterStatus")) or {}
    workers = _int(cluster.get("readyWorkerReplicas"))
    cond = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), {})
    is_ready = cond.get("status") == "True"
    stale = _stale(obj)
    if desired == 0:
        ready = workers
    else:
        ready = 0 if (stale or not is_ready) else workers
    state = st.get("serviceStatus") or ("Ready" if is_ready else cond.get("reason") or "no status yet")
    detail = f"RayService {state}: {workers}/{desired} workers ready" + (" (spec change not yet observed)" if stale else "")
    if desired == 0:
        detail += "; 0 workers = serves nothing (the head pod keeps running)"
    return WorkloadStatus(name=md["name"], namespace=md.get("namespace", ""), kind="RayService", exists=True,
                          desired=desired, ready=ready, detail=detail)


def settled(st: WorkloadStatus) -> bool:
    """Ready == desired; at 0 desired, nothing runs any more."""
    return st.exists and (st.ready == 0 if st.desired == 0 else st.ready >= st.desired)


def api_error(exc, what: str, *, namespace: str = "", name: str = "") -> CatoError:
    """An ApiException (typed or dynamic client) as our error, with what to do next."""
    try:
        body = json.loads(exc.body) if getattr(exc, "body", None) else {}
    except (TypeError, ValueError):
        body = {}
    msg = body.get("message") or getattr(exc, "reason", "") or str(exc)
    details = body.get("details") or {}
    code = getattr(exc, "status", None)
    info = {"status": code, "reason": body.get("reason"), "causes": details.get("causes", [])}
    if code == 404:
        if details.get("kind") == "namespaces" or msg.startswith("namespaces "):
            missing = details.get("name") or namespace
            return NotFound(f"{what}: namespace {missing} does not exist", details=info,
                            hint=f"apply k8s/namespace.yaml first (`kubectl create namespace {missing}`), then re-run")
        return NotFound(f"{what}: {msg}", details=info,
                        hint="apply its manifest first (the k8s_apply step), or check the name and namespace")
    if code == 409:
        causes = details.get("causes") or []
        if causes and causes[0].get("reason") == "FieldManagerConflict":
            fields = ", ".join(f"{c['field']} ({c['message']})" for c in causes)
            return Conflict(f"{what}: fields changed outside this manifest: {fields}", details=info,
                            hint="someone else set these (kubectl edit/scale, an autoscaler): keep their value by "
                                 "removing it from the manifest, or take it back by applying with force_conflicts")
        if body.get("reason") == "AlreadyExists":
            return Conflict(f"{what}: {msg}", details=info, hint="it exists already; apply (not create) updates it")
        return Conflict(f"{what}: {msg}", details=info, hint="the object changed while we updated it; re-run the command")
    if code == 415:
        return ExternalError(f"{what}: the API refused the patch format: {msg}", details=info,
                             hint="a strategic-merge patch on a custom resource: a cato-migrate bug, please report it")
    if code == 422:
        fields = "; ".join(f"{c.get('field')}: {c.get('message')}" for c in details.get("causes") or []) or msg
        return BadInput(f"{what}: the API rejected it as invalid: {fields}", details=info,
                        hint="fix the manifest (the field is named above); nothing was changed")
    if code in (401, 403):
        return ExternalError(f"{what}: not allowed: {msg}", details=info,
                             hint="check kube_context and your RBAC in the namespace (`kubectl auth can-i`)")
    return ExternalError(f"{what}: the Kubernetes API answered {code}: {msg}", details=info,
                         hint="retry; if it persists, check the API server's health (`kubectl get --raw /readyz`)")
