"""LocalWorkloads' mapping logic, with no processes: status, scale/delete bookkeeping, manifests."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cato_sandbox.workloads import (Entry, LocalWorkloads, plan_manifest, status_of,
                                                   workload_maps)
from cato_migrate.errors import BadInput, ExternalError, NotFound
from cato_migrate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MAPS = workload_maps("litellm", "cato-orchestrator")
LEGACY, ORCH = MAPS["litellm"], MAPS["cato-orchestrator"]


# --- status (pure) ----------------------------------------------------------------------------

def test_what_sandbox_up_started_is_one_ready_replica():
    st = status_of("litellm", LEGACY, None, recorded=True, healthy=True)
    assert (st.exists, st.desired, st.ready, st.is_ready) == (True, 1, 1, True)
    assert st.kind == "Deployment" and st.namespace == "local" and "1 local process" in st.detail


def test_a_workload_never_started_does_not_exist():
    st = status_of("cato-orchestrator", ORCH, None, recorded=False, healthy=False)
    assert (st.exists, st.desired, st.ready, st.is_ready) == (False, 0, 0, False)
    assert st.kind == "RayService"


def test_one_healthy_process_serves_any_desired_count():
    st = status_of("litellm", LEGACY, Entry(3), recorded=True, healthy=True)
    assert (st.desired, st.ready, st.is_ready) == (3, 3, True)
    assert "serves 3 desired replica(s)" in st.detail


def test_an_unhealthy_or_missing_process_is_never_ready():
    starting = status_of("litellm", LEGACY, Entry(2), recorded=True, healthy=False)
    assert (starting.ready, starting.is_ready) == (0, False) and "not healthy yet" in starting.detail
    gone = status_of("litellm", LEGACY, Entry(2), recorded=False, healthy=False)
    assert (gone.ready, gone.is_ready) == (0, False) and "not running" in gone.detail


def test_scaled_to_zero_reports_a_process_that_still_answers():
    st = status_of("litellm", LEGACY, Entry(0), recorded=True, healthy=True)
    assert (st.exists, st.desired, st.ready) == (True, 0, 1)  # wait_ready(0) must keep waiting
    assert status_of("litellm", LEGACY, Entry(0), recorded=False, healthy=False).ready == 0


def test_deleted_does_not_exist():
    st = status_of("litellm", LEGACY, Entry(0, deleted=True), recorded=False, healthy=False)
    assert (st.exists, st.desired, st.ready, st.is_ready) == (False, 0, 0, False)


# --- manifests (pure) -------------------------------------------------------------------------

def _docs(path: Path) -> list:
    import yaml

    return list(yaml.safe_load_all(path.read_text()))


@pytest.mark.skipif(not (ROOT / "k8s" / "litellm" / "deployment.yaml").exists(), reason="no k8s/ manifests")
def test_the_shipped_manifests_map_to_processes_and_acknowledged_kinds():
    legacy = plan_manifest(_docs(ROOT / "k8s" / "litellm" / "deployment.yaml"), MAPS)
    assert ("Deployment/litellm", "litellm", 2) in legacy
    assert all(w is None for ref, w, _ in legacy if not ref.startswith("Deployment/"))
    orch = plan_manifest(_docs(ROOT / "k8s" / "ray-serve" / "cato-orchestrator.yaml"), MAPS)
    assert [(r, w) for r, w, _ in orch if w] == [("RayService/cato-orchestrator", "cato-orchestrator")]
    assert plan_manifest(_docs(ROOT / "k8s" / "namespace.yaml"), MAPS) == [("Namespace/cato", None, 0)]


def test_manifest_replicas_and_defaults():
    docs = [{"kind": "Deployment", "metadata": {"name": "litellm"}, "spec": {"replicas": 0}},
            {"kind": "RayService", "metadata": {"name": "cato-orchestrator"},
             "spec": {"rayClusterConfig": {"workerGroupSpecs": [{"replicas": 2}, {"replicas": 1}]}}},
            None,
            {"kind": "Secret", "metadata": {"name": "s"}}]
    assert plan_manifest(docs, MAPS) == [("Deployment/litellm", "litellm", 0),
                                         ("RayService/cato-orchestrator", "cato-orchestrator", 3),
                                         ("Secret/s", None, 0)]
    assert plan_manifest([{"kind": "Deployment", "metadata": {"name": "litellm"}}], MAPS)[0][2] == 1


@pytest.mark.parametrize("doc, match", [
    ({"kind": "Deployment", "metadata": {"name": "other"}}, "no local process stands behind Deployment/other"),
    ({"kind": "RayService", "metadata": {"name": "litellm"}}, "no local process stands behind RayService/litellm"),
    ({"kind": "CronJob", "metadata": {"name": "x"}}, "does not know"),
    ({"kind": "ConfigMap", "metadata": {}}, "no kind and metadata.name"),
])
def test_manifests_the_sandbox_cannot_run_are_bad_input(doc, match):
    with pytest.raises(BadInput, match=match):
        plan_manifest([{"kind": "Namespace", "metadata": {"name": "cato"}}, doc], MAPS)


# --- LocalWorkloads over a recorded sandbox, processes stubbed ---------------------------------

class Harness:
    """A sandbox.json with litellm recorded; start/stop/health stubbed and recorded."""

    def __init__(self, tmp_path: Path, monkeypatch):
        self.dir = tmp_path / ".cato-migrate"
        self.dir.mkdir()
        self.running = {"litellm"}
        self.calls: list[tuple[str, str]] = []
        self.write_state()
        self.settings = Settings(work_dir=self.dir)
        self.clock = [0.0]
        self.w = LocalWorkloads(self.settings, sleep=self._sleep, monotonic=lambda: self.clock[0])
        h = self
        monkeypatch.setattr(LocalWorkloads, "_healthy", staticmethod(lambda rec: rec is not None and rec["name"] in h.running))
        monkeypatch.setattr(LocalWorkloads, "_start", lambda self, wl: h._start(wl))
        monkeypatch.setattr(LocalWorkloads, "_stop", lambda self, wl: h._stop(wl))

    def _sleep(self, s: float) -> None:
        self.clock[0] += s

    def write_state(self, started_at: str = "2026-01-01T00:00:00Z") -> None:
        comps = [{"name": n, "url": f"http://127.0.0.1:{i + 1000}", "port": i + 1000, "pid": 1,
                  "start_time": 1} for i, n in enumerate(sorted(self.running))]
        (self.dir / "sandbox.json").write_text(json.dumps(
            {"version": 1, "complete": True, "started_at": started_at, "components": comps}))

    def _start(self, wl) -> None:
        self.calls.append(("start", ",".join(wl.components)))
        self.running.update(wl.components)
        self.write_state()

    def _stop(self, wl) -> None:
        self.calls.append(("stop", wl.serving))
        self.running.discard(wl.serving)
        self.write_state()


@pytest.fixture
def h(tmp_path, monkeypatch):
    return Harness(tmp_path, monkeypatch)


def test_scale_to_zero_and_back_records_desired_and_starts_stops(h):
    assert h.w.status("litellm", "cato").is_ready
    down = h.w.scale("litellm", "cato", 0)
    assert (down.desired, down.ready) == (0, 0) and h.calls == [("stop", "litellm")]
    assert h.w.wait_ready("litellm", "cato", 5).ready == 0
    up = h.w.scale("litellm", "cato", 2)
    assert (up.desired, up.ready, up.is_ready) == (2, 2, True)
    assert h.calls[-1] == ("start", "litellm")
    saved = json.loads((h.dir / "workloads.json").read_text())
    assert saved["workloads"]["litellm"] == {"desired": 2, "deleted": False}


def test_orchestrator_scale_up_starts_ray_then_the_app_and_scale_down_keeps_ray(h):
    with pytest.raises(NotFound, match="not deployed") as exc:
        h.w.scale("cato-orchestrator", "cato", 1)
    assert "orchestrator install" in exc.value.hint
    h._start(ORCH)  # what `orchestrator install` does
    h.calls.clear()
    h.w.scale("cato-orchestrator", "cato", 0)
    assert h.calls == [("stop", "orchestrator")] and "ray" in h.running


def test_a_workloads_file_from_an_earlier_sandbox_is_ignored(h):
    h.w.scale("litellm", "cato", 0)
    h.running.add("litellm")
    h.write_state(started_at="2026-02-02T00:00:00Z")  # a fresh `sandbox up`
    st = h.w.status("litellm", "cato")
    assert (st.desired, st.ready) == (1, 1)


def test_delete_then_scale_is_not_found_with_a_hint(h):
    assert h.w.delete("litellm", "cato") is True
    assert h.calls == [("stop", "litellm")]
    assert h.w.status("litellm", "cato").exists is False
    assert h.w.delete("litellm", "cato") is False
    with pytest.raises(NotFound, match="was deleted") as exc:
        h.w.scale("litellm", "cato", 1)
    assert "apply its manifest" in exc.value.hint


def test_wait_ready_times_out_naming_the_component_and_its_log(h):
    h.w.scale("litellm", "cato", 1)
    h.running.discard("litellm")  # it died
    with pytest.raises(ExternalError) as exc:
        h.w.wait_ready("litellm", "cato", 3)
    assert "'litellm'" in exc.value.message and "not ready" in exc.value.message
    assert exc.value.details["log"].endswith("logs/litellm.log") and "litellm.log" in exc.value.hint
    assert h.clock[0] >= 3


def test_unknown_names_namespaces_and_replicas(h):
    with pytest.raises(NotFound, match="no workload 'nginx'"):
        h.w.status("nginx", "cato")
    with pytest.raises(NotFound, match="namespace 'default'"):
        h.w.status("litellm", "default")
    assert h.w.status("litellm", "local").exists
    with pytest.raises(BadInput, match="replicas"):
        h.w.scale("litellm", "cato", -1)


def test_no_sandbox_is_bad_input(tmp_path):
    w = LocalWorkloads(Settings(work_dir=tmp_path / "none"))
    with pytest.raises(BadInput, match="sandbox is not up") as exc:
        w.status("litellm", "cato")
    assert "sandbox up" in exc.value.hint


def test_apply_starts_workloads_and_acknowledges_the_rest(h, tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: cato}\n---\n"
        "apiVersion: ray.io/v1\nkind: RayService\nmetadata: {name: cato-orchestrator, namespace: cato}\n"
        "spec: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    assert h.w.apply(str(manifest), "cato") == ["Namespace/cato", "RayService/cato-orchestrator", "ConfigMap/c"]
    assert h.calls == [("start", "ray,orchestrator")]
    st = h.w.status("cato-orchestrator", "cato")
    assert (st.exists, st.desired, st.is_ready) == (True, 1, True)
    with pytest.raises(BadInput, match="does not exist"):
        h.w.apply(str(tmp_path / "missing.yaml"), "cato")
    (tmp_path / "bad.yaml").write_text("kind: [unclosed\n")
    with pytest.raises(BadInput, match="not valid YAML"):
        h.w.apply(str(tmp_path / "bad.yaml"), "cato")


def test_apply_after_delete_recreates(h, tmp_path):
    h.w.delete("litellm", "cato")
    manifest = tmp_path / "l.yaml"
    manifest.write_text("kind: Deployment\nmetadata: {name: litellm}\nspec: {replicas: 2}\n")
    h.w.apply(str(manifest), "cato")
    st = h.w.status("litellm", "cato")
    assert (st.exists, st.desired, st.ready) == (True, 2, 2)


def test_only_the_kuberay_chart_has_a_local_equivalent(h):
    with pytest.raises(BadInput, match="no local equivalent"):
        h.w.install_chart("prometheus", "prometheus-community/prometheus", "cato")
    assert h.w.chart_status("kuberay-operator", "cato") is None  # no Ray head yet
    h.running.add("ray")
    h.write_state()
    assert h.w.chart_status("kuberay-operator", "cato")["status"] == "deployed"
