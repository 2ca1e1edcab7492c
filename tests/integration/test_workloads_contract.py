"""Keeps tests.fakes_k8s.FakeK8sWorkloads honest: the same behaviours through the Workloads port,
asserted on the fake and on the production Kubernetes adapter against the sandbox's Kubernetes API
stand-in (in-process, one per module), with the real k8s/ manifests."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cato_migrate.errors import ExternalError, NotFound
from tests.fakes import FakeClock
from tests.fakes_k8s import FakeK8sWorkloads

pytest.importorskip("kubernetes")
pytestmark = pytest.mark.integration

K8S = Path(__file__).resolve().parents[2] / "k8s"
NS, LITELLM = str(K8S / "namespace.yaml"), str(K8S / "litellm" / "deployment.yaml")
RAYSVC = str(K8S / "ray-serve" / "cato-orchestrator.yaml")


@pytest.fixture(scope="module")
def kube_url() -> Iterator[str]:
    from cato_migrate.adapters.k8s_workloads import KubernetesWorkloads
    from cato_sandbox.kube_api import make_server

    srv = make_server(deployment_delay=0.2, rayservice_delay=0.2)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    KubernetesWorkloads(host=url).apply(str(K8S / "crds" / "ray.io_rayservices.yaml"), "")
    yield url
    srv.shutdown()
    srv.server_close()


@pytest.fixture(params=["fake", "kubernetes"])
def wl(request) -> Iterator:
    if request.param == "fake":
        yield FakeK8sWorkloads(FakeClock())
        return
    from kubernetes import client

    from cato_migrate.adapters.k8s_workloads import KubernetesWorkloads

    w = KubernetesWorkloads(host=request.getfixturevalue("kube_url"), poll_s=0.05)
    yield w
    try:
        client.CoreV1Api(w.api()).delete_namespace("cato")  # the stand-in drops its contents at once
    except Exception:  # noqa: BLE001 - never created
        pass


def test_a_workload_that_is_not_there(wl):
    wl.apply(NS, "cato")
    assert wl.status("litellm", "cato").exists is False
    assert wl.delete("litellm", "cato") is False
    with pytest.raises(NotFound):
        wl.scale("litellm", "cato", 1)
    with pytest.raises(NotFound):  # nothing to wait for: said at once, not after the timeout
        wl.wait_ready("litellm", "cato", 30)


def test_apply_reports_what_it_applied_and_the_deployment_becomes_ready(wl):
    assert wl.apply(NS, "cato") == ["Namespace/cato"]
    applied = wl.apply(LITELLM, "cato")
    assert "Deployment/litellm" in applied and applied == wl.apply(LITELLM, "cato")  # idempotent
    st = wl.wait_ready("litellm", "cato", 10)
    assert (st.exists, st.kind, st.desired, st.ready, st.is_ready) == (True, "Deployment", 2, 2, True)


def test_scale_does_not_wait_and_wait_ready_does(wl):
    wl.apply(NS, "cato")
    wl.apply(LITELLM, "cato")
    wl.wait_ready("litellm", "cato", 10)
    st = wl.scale("litellm", "cato", 0)
    assert (st.desired, st.ready) == (0, 2)  # still running until the controller catches up
    assert wl.wait_ready("litellm", "cato", 10).ready == 0
    st = wl.scale("litellm", "cato", 3)
    assert (st.desired, st.ready, st.is_ready) == (3, 0, False)
    st = wl.wait_ready("litellm", "cato", 10)
    assert (st.desired, st.ready, st.is_ready) == (3, 3, True)


def test_a_rayservice_counts_its_worker_replicas(wl):
    wl.apply(NS, "cato")
    assert "RayService/cato-orchestrator" in wl.apply(RAYSVC, "cato")
    st = wl.wait_ready("cato-orchestrator", "cato", 10)
    assert (st.kind, st.desired, st.ready) == ("RayService", 2, 2)
    wl.scale("cato-orchestrator", "cato", 0)
    assert wl.wait_ready("cato-orchestrator", "cato", 10).ready == 0


def test_delete_then_it_is_gone(wl):
    wl.apply(NS, "cato")
    wl.apply(LITELLM, "cato")
    assert wl.delete("litellm", "cato") is True
    assert wl.delete("litellm", "cato") is False
    assert wl.status("litellm", "cato").exists is False


def test_waiting_longer_than_the_timeout_is_an_external_error(wl):
    wl.apply(NS, "cato")
    wl.apply(LITELLM, "cato")
    wl.wait_ready("litellm", "cato", 10)
    wl.scale("litellm", "cato", 4)
    with pytest.raises(ExternalError) as exc:
        wl.wait_ready("litellm", "cato", 0)
    assert not isinstance(exc.value, NotFound) and "litellm" in exc.value.message
