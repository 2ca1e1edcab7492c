"""Workloads on the local sandbox: each workload is a sandbox process (the `local` environment).

How the Kubernetes vocabulary maps onto the sandbox:

| Kubernetes                                   | local sandbox                                         |
|----------------------------------------------|-------------------------------------------------------|
| Deployment `litellm` (settings.legacy_workload) | the `litellm` component: the real LiteLLM proxy     |
| RayService `cato-orchestrator` (settings.orchestrator_workload) | the `orchestrator` component on the `ray` head |
| spec.replicas = N >= 1                       | the one process runs; N is recorded as desired        |
| spec.replicas = 0                            | the process is stopped (sandbox_remove)               |
| status.readyReplicas                         | = desired while the process passes its health check, else 0 |
| delete                                       | the process is stopped and the workload marked deleted |
| apply RayService / Deployment               | start ray + orchestrator / litellm (what `orchestrator install` / `sandbox up` do) |
| apply Namespace, ConfigMap, Service, Secret, ServiceAccount, ... | acknowledged; no process stands behind them |
| helm kuberay-operator                        | the local Ray head (`ray` component)                  |
| namespace `cato`                             | accepted (as is `local`); reported as `local`         |

Locally one process serves any N >= 1, so a healthy process reports ready = desired: the rollout
wait means "the stack serves", which is what the full rollback needs before moving traffic.
Desired replicas and deletions live in `<work_dir>/workloads.json`, stamped with the sandbox's
start time: a fresh `sandbox up` (new processes, fresh moto) starts from what `up` started.

`scale` to N >= 1 starts the process and waits for its health check (the sandbox has no
controller to do it later); `scale` to 0 stops it at once. Nothing here imports a vendor SDK.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cato_migrate.errors import BadInput, ExternalError, NotFound
from cato_migrate.ports import WorkloadStatus
from cato_sandbox.state import WorkloadEntry, read_workloads, write_workloads

__all__ = ["LocalWorkloads", "WorkloadMap", "Entry", "status_of", "plan_manifest", "workload_maps",
           "KUBERAY_CHARTS"]

LOCAL_NAMESPACE = "local"
KUBERAY_CHARTS = ("kuberay-operator",)
# Kinds applied with no process behind them on the sandbox.
_ACK_KINDS = {"Namespace", "ConfigMap", "Service", "Secret", "ServiceAccount", "Role", "RoleBinding",
              "ClusterRole", "ClusterRoleBinding", "PodDisruptionBudget", "HorizontalPodAutoscaler",
              "NetworkPolicy", "Ingress", "CustomResourceDefinition"}


@dataclass(frozen=True)
class WorkloadMap:
    """One workload: its kind, the component that serves it, and what must run first."""

    kind: str
    serving: str                   # the component whose health is the workload's readiness
    components: tuple[str, ...]    # started in this order on scale-up / apply


@dataclass(frozen=True)
class Entry:
    """What was asked of a workload (the 'spec'), from workloads.json."""

    desired: int
    deleted: bool = False


def workload_maps(legacy: str, orchestrator: str) -> dict[str, WorkloadMap]:
    return {legacy: WorkloadMap("Deployment", "litellm", ("litellm",)),
            orchestrator: WorkloadMap("RayService", "orchestrator", ("ray", "orchestrator"))}


def status_of(name: str, wl: WorkloadMap, entry: Entry | None, *, recorded: bool,
              healthy: bool) -> WorkloadStatus:
    """The observed status (pure). No entry: what `sandbox up` started (1 if recorded, else absent)."""
    proc = f"1 local process ({wl.serving})"
    if entry is not None and entry.deleted:
        return WorkloadStatus(name=name, namespace=LOCAL_NAMESPACE, kind=wl.kind, exists=False,
                              desired=0, ready=0, detail=f"deleted; {proc} "
                              f"{'still answers' if healthy else 'stopped'}")
    if entry is None:
        if not recorded:
            return WorkloadStatus(name=name, namespace=LOCAL_NAMESPACE, kind=wl.kind, exists=False,
                                  detail=f"not deployed: no {wl.serving} process in the sandbox")
        entry = Entry(desired=1)
    desired = entry.desired
    if desired == 0:
        ready = 1 if healthy else 0
        detail = f"scaled to 0; {proc} " + ("still answers" if healthy else "stopped")
    else:
        ready = desired if healthy else 0
        state = "healthy" if healthy else ("not healthy yet" if recorded else "not running")
        detail = f"{proc} serves {desired} desired replica(s); {state}"
    return WorkloadStatus(name=name, namespace=LOCAL_NAMESPACE, kind=wl.kind, exists=True,
                          desired=desired, ready=ready, detail=detail)


def _replicas(doc: dict) -> int:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "RayService":
        groups = ((spec.get("rayClusterConfig") or {}).get("workerGroupSpecs") or [])
        if not groups:
            return 1
        return sum(int(g.get("replicas", g.get("minReplicas", 1)) or 0) for g in groups)
    return int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)


def plan_manifest(docs: list[Any], maps: dict[str, WorkloadMap], source: str = "manifest"
                  ) -> list[tuple[str, str | None, int]]:
    """[('Kind/name', workload name or None (acknowledged only), desired replicas)] (pure).

    A Deployment or RayService the sandbox cannot run is BadInput, before anything is started.
    """
    out: list[tuple[str, str | None, int]] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict) or not doc.get("kind") or not (doc.get("metadata") or {}).get("name"):
            raise BadInput(f"{source}: document {i + 1} has no kind and metadata.name")
        kind, name = str(doc["kind"]), str(doc["metadata"]["name"])
        ref = f"{kind}/{name}"
        if kind in ("Deployment", "RayService", "StatefulSet", "RayCluster"):
            wl = maps.get(name)
            if wl is None or wl.kind != kind:
                known = ", ".join(f"{w.kind}/{n}" for n, w in maps.items())
                raise BadInput(f"{source}: no local process stands behind {ref} on the sandbox",
                               hint=f"the sandbox runs {known}; nothing was applied")
            out.append((ref, name, _replicas(doc)))
        elif kind in _ACK_KINDS:
            out.append((ref, None, 0))
        else:
            raise BadInput(f"{source}: {ref} is a kind the local sandbox does not know",
                           hint="nothing was applied; the sandbox acknowledges "
                                + ", ".join(sorted(_ACK_KINDS)))
    return out


class LocalWorkloads:
    """Workloads over the sandbox's processes (see the module docstring for the mapping)."""

    def __init__(self, settings, *, poll_s: float = 0.5, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic):
        from cato_sandbox.manager import SandboxSettings

        self.settings = settings
        self.state_dir = Path(settings.work_dir).expanduser().resolve()
        self.sandbox = SandboxSettings(state_dir=self.state_dir, minute_seconds=settings.sandbox_minute_seconds,
                                       ingress=settings.sandbox_ingress)
        self.maps = workload_maps(settings.legacy_workload, settings.orchestrator_workload)
        self.poll_s, self._sleep, self._now = poll_s, sleep, monotonic

    # -- plumbing ------------------------------------------------------------------------------
    def _map(self, name: str, namespace: str) -> WorkloadMap:
        if namespace not in (self.settings.workload_namespace, LOCAL_NAMESPACE):
            raise NotFound(f"namespace {namespace!r} does not exist on the local sandbox",
                           hint=f"the sandbox's workloads live in {self.settings.workload_namespace!r}")
        wl = self.maps.get(name)
        if wl is None:
            raise NotFound(f"no workload {name!r} on the local sandbox",
                           hint=f"known: {', '.join(self.maps)}")
        return wl

    def _sandbox_state(self) -> dict:
        from cato_sandbox.manager import load_sandbox_state

        state = load_sandbox_state(self.state_dir)
        if state is None or not state.get("complete"):
            raise BadInput(f"the local sandbox is not up (nothing recorded in {self.state_dir})",
                           hint="run `cato-migrate sandbox up` first")
        return state

    def _entries(self, state: dict) -> dict[str, Entry]:
        return {n: Entry(e.desired, e.deleted) for n, e in read_workloads(self.state_dir, state).items()}

    def _record(self, name: str, entry: Entry) -> None:
        state = self._sandbox_state()
        entries = self._entries(state)
        entries[name] = entry
        write_workloads(self.state_dir, state, {n: WorkloadEntry(desired=e.desired, deleted=e.deleted)
                                                for n, e in entries.items()})

    @staticmethod
    def _healthy(rec: dict | None) -> bool:
        from cato_sandbox import procs
        from cato_sandbox.components import REGISTRY

        if rec is None or not procs.same_process(rec.get("pid", 0), rec.get("start_time")):
            return False
        comp = next((c for c in REGISTRY if c.name == rec["name"]), None)
        try:
            return bool(comp and comp.health(rec["url"], rec["port"]))
        except Exception:
            return False

    def _start(self, wl: WorkloadMap) -> None:
        from cato_sandbox.manager import sandbox_add

        for comp in wl.components:
            sandbox_add(self.sandbox, comp)

    def _stop(self, wl: WorkloadMap) -> None:
        from cato_sandbox.manager import sandbox_remove

        # only the serving process: the Ray head stays, as the kuberay-operator's stand-in
        sandbox_remove(self.sandbox, wl.serving, timeout_s=30.0)

    # -- Workloads -----------------------------------------------------------------------------
    def status(self, name: str, namespace: str) -> WorkloadStatus:
        wl = self._map(name, namespace)
        state = self._sandbox_state()
        rec = next((r for r in state["components"] if r["name"] == wl.serving), None)
        return status_of(name, wl, self._entries(state).get(name), recorded=rec is not None,
                         healthy=self._healthy(rec))

    def scale(self, name: str, namespace: str, replicas: int) -> WorkloadStatus:
        wl = self._map(name, namespace)
        if not isinstance(replicas, int) or replicas < 0:
            raise BadInput(f"replicas must be a whole number >= 0, not {replicas!r}")
        if not self.status(name, namespace).exists:
            entry = self._entries(self._sandbox_state()).get(name)
            if entry is not None and entry.deleted:
                what, hint = "was deleted", "apply its manifest (k8s/) to create it again"
            else:
                what, hint = "is not deployed", ("apply its manifest (k8s/) or run `cato-migrate orchestrator install`"
                                                 if wl.kind == "RayService" else
                                                 "apply its manifest (k8s/) or run `cato-migrate sandbox up`")
            raise NotFound(f"{wl.kind}/{name} {what} on the local sandbox; there is nothing to scale",
                           hint=hint)
        self._record(name, Entry(desired=replicas))  # the spec first, like the scale subresource
        if replicas == 0:
            self._stop(wl)
        else:
            self._start(wl)
        return self.status(name, namespace)

    def wait_ready(self, name: str, namespace: str, timeout_s: float) -> WorkloadStatus:
        wl = self._map(name, namespace)
        deadline = self._now() + timeout_s
        while True:
            st = self.status(name, namespace)
            if not st.exists:  # as the cluster adapter: a workload that is not there is never "ready"
                raise NotFound(f"{wl.kind}/{name} does not exist on the local sandbox: nothing to wait for",
                               hint="apply its manifest first (the k8s_apply step)")
            done = (st.ready == 0) if st.desired == 0 else st.ready >= st.desired
            if done:
                return st
            if self._now() >= deadline:
                log = self.state_dir / "logs" / f"{wl.serving}.log"
                want = "stopped" if st.desired == 0 else f"ready ({st.desired} desired)"
                raise ExternalError(
                    f"{wl.kind}/{name} (sandbox component {wl.serving!r}) was not {want} after "
                    f"{timeout_s:g} s: {st.detail}",
                    hint=f"read {log}; `cato-migrate sandbox status` shows each process",
                    details={"component": wl.serving, "log": str(log)})
            self._sleep(self.poll_s)

    def delete(self, name: str, namespace: str) -> bool:
        wl = self._map(name, namespace)
        if not self.status(name, namespace).exists:
            return False
        self._record(name, Entry(desired=0, deleted=True))
        self._stop(wl)
        return True

    def apply(self, manifest_path: str, namespace: str) -> list[str]:
        import yaml

        path = Path(manifest_path)
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except FileNotFoundError:
            raise BadInput(f"manifest {path} does not exist") from None
        except yaml.YAMLError as exc:
            raise BadInput(f"manifest {path} is not valid YAML: {exc}") from exc
        plan = plan_manifest(docs, self.maps, source=str(path))
        self._sandbox_state()
        for _, workload, desired in plan:
            if workload is None:
                continue
            self._record(workload, Entry(desired=desired))
            wl = self.maps[workload]
            if desired > 0:
                self._start(wl)
            else:
                self._stop(wl)
        return [ref for ref, _, _ in plan]

    def install_chart(self, release: str, chart: str, namespace: str, version: str = "",
                      values: dict | None = None) -> dict:
        if not any(k in chart or k in release for k in KUBERAY_CHARTS):
            raise BadInput(f"chart {chart!r} has no local equivalent on the sandbox",
                           hint="the sandbox stands in for the kuberay-operator chart only (a local Ray head)")
        from cato_sandbox.manager import sandbox_add

        self._sandbox_state()
        rec = sandbox_add(self.sandbox, "ray")
        return {"release": release, "chart": chart, "namespace": LOCAL_NAMESPACE, "status": "deployed",
                "version": version or "local", "already_installed": bool(rec.get("already_up")),
                "detail": f"local Ray head at {rec['url']} stands in for the kuberay-operator"}

    def chart_status(self, release: str, namespace: str) -> dict | None:
        if not any(k in release for k in KUBERAY_CHARTS):
            return None
        state = self._sandbox_state()
        rec = next((r for r in state["components"] if r["name"] == "ray"), None)
        if rec is None:
            return None
        healthy = self._healthy(rec)
        return {"release": release, "namespace": LOCAL_NAMESPACE,
                "status": "deployed" if healthy else "failed", "local_stand_in": True,
                "detail": f"local Ray head at {rec['url']} ({'up' if healthy else 'not answering'})"}
