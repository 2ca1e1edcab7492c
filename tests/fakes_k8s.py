"""A Workloads fake that also applies manifests and installs charts (unit tests of the k8s steps)."""
from __future__ import annotations

from cato_migrate.adapters import k8s_manifest as km
from tests.fakes import FakeWorkloads


class FakeK8sWorkloads(FakeWorkloads):
    def __init__(self, clock, ready_after: float = 5.0):
        super().__init__(clock, ready_after)
        self.applied: list[str] = []
        self.releases: dict[tuple[str, str], dict] = {}
        self.chart_fails_to_deploy = False  # plant a fault: helm reports the release failed

    def apply(self, manifest_path: str, namespace: str) -> list[str]:
        refs = []
        for d in km.load_documents(manifest_path):
            refs.append(km.ref(d))
            if d["kind"] == "Deployment":
                if d["metadata"]["name"] not in self.items:
                    self.add(d["metadata"]["name"], 0, "Deployment")
                self.scale(d["metadata"]["name"], namespace, d["spec"].get("replicas", 1))
            elif d["kind"] == "RayService":
                name = d["metadata"]["name"]
                groups = d["spec"]["rayClusterConfig"].get("workerGroupSpecs") or []
                if name not in self.items:
                    self.add(name, 0, "RayService")
                self.scale(name, namespace, sum(g.get("replicas", 0) for g in groups))
        self.applied += refs
        self.calls.append(f"apply:{manifest_path}")
        return refs

    def install_chart(self, release, chart, namespace, version="", values=None) -> dict:
        rev = self.releases.get((release, namespace), {}).get("revision", 0) + 1
        name = chart.rsplit("/", 1)[-1]
        self.releases[(release, namespace)] = {
            "name": release, "namespace": namespace, "revision": rev, "chart": f"{name}-{version or '9.9.9'}",
            "status": "failed" if self.chart_fails_to_deploy else "deployed", "values": values}
        self.calls.append(f"helm:{release}")
        return dict(self.releases[(release, namespace)])

    def chart_status(self, release, namespace):
        r = self.releases.get((release, namespace))
        return dict(r) if r else None
