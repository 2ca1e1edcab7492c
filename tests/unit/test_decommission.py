"""Decommission: scale to 0 only at 100%; delete only after the monitoring period (or forced, audited)."""
import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.decommission import DAY, delete_legacy, monitoring_status, scale_legacy_to_zero
from cato_migrate.core.deploy_files import archive, scan_litellm
from cato_migrate.core.traffic import set_traffic
from cato_migrate.errors import BadInput, CheckFailed
from tests.fakes import FakeClock, FakeFlag, FakeWorkloads, make_ctx


@pytest.fixture
def store(tmp_path):
    return SqliteStateStore(tmp_path / "state.db")


def _ctx(store, pct, force=False, reason=""):
    clock = FakeClock()
    wl = FakeWorkloads(clock)
    wl.add("litellm", 2)
    ctx = make_ctx(store, clock=clock, flag=FakeFlag(clock), workloads=wl, force=True, reason="setup")
    for p in (10, 50, 100):
        if p <= pct:
            set_traffic(ctx, p)
    ctx.force, ctx.reason = force, reason
    return ctx, wl


def test_scale_to_zero_refused_below_100_and_nothing_changes(store):
    ctx, wl = _ctx(store, 50)
    with pytest.raises(CheckFailed) as e:
        scale_legacy_to_zero(ctx)
    assert "only 50%" in e.value.message and wl.calls == []
    assert monitoring_status(ctx)["started_at"] is None


def test_scale_to_zero_at_100_starts_monitoring(store):
    ctx, wl = _ctx(store, 100)
    r = scale_legacy_to_zero(ctx)
    assert r["changed"] and wl.status("litellm", "cato").ready == 0
    mon = monitoring_status(ctx)
    assert mon["monitoring_days"] == 7 and not mon["passed"]
    assert mon["ends_at"] == pytest.approx(mon["started_at"] + 7 * DAY)
    again = scale_legacy_to_zero(ctx)  # idempotent
    assert again["changed"] is False


def test_delete_refused_until_monitoring_passed_then_allowed(store):
    ctx, wl = _ctx(store, 100)
    with pytest.raises(CheckFailed):  # not scaled to 0 yet
        delete_legacy(ctx)
    scale_legacy_to_zero(ctx)
    with pytest.raises(CheckFailed) as e:
        delete_legacy(ctx)
    assert "monitoring period ends" in e.value.message and "litellm" in wl.items
    ctx.clock.t += 7 * DAY + 1
    r = delete_legacy(ctx)
    assert r["changed"] and not r["forced"] and "litellm" not in wl.items
    assert delete_legacy(ctx)["changed"] is False


def test_forced_delete_is_audited(store):
    ctx, wl = _ctx(store, 100)
    scale_legacy_to_zero(ctx)
    ctx.force, ctx.reason = True, "rehearsal"
    r = delete_legacy(ctx)
    assert r["forced"] and "litellm" not in wl.items
    overrides = [a for a in store.audit("local") if a.action == "guardrail.override" and a.target == "cato/litellm"]
    assert overrides and overrides[0].reason == "rehearsal"


def _deploy(tmp_path):
    root = tmp_path / "deploy"
    (root / "k8s/litellm").mkdir(parents=True)
    (root / "k8s/ray-serve").mkdir(parents=True)
    (root / "config").mkdir()
    (root / "k8s/litellm/deployment.yaml").write_text("kind: Deployment\nmetadata: {name: litellm}\n")
    (root / "k8s/ray-serve/cato-orchestrator.yaml").write_text("# replaces LiteLLM\nkind: RayService\nmetadata: {name: cato-orchestrator}\n")
    (root / "config/litellm.yaml").write_text("model_list: []\n")
    (root / "pyproject.toml").write_text('[project]\ndescription = "moves off LiteLLM"\ndependencies = [\n  "ray[serve]==2.60.0",\n]\n')
    return root


def test_scan_finds_manifests_config_and_dependencies_and_ignores_archives(tmp_path):
    root = _deploy(tmp_path)
    found = {(f.path, f.kind) for f in scan_litellm(root)}
    assert found == {("k8s/litellm/deployment.yaml", "manifest"), ("config/litellm.yaml", "config")}
    archive(root, "config/litellm.yaml", "config/archive/litellm.yaml.deprecated")
    archive(root, "k8s/litellm", "k8s/archive/litellm")
    assert scan_litellm(root) == []  # a description that mentions LiteLLM is not a dependency
    # planted faults: LiteLLM still referenced
    (root / "images").mkdir()
    (root / "images/requirements.txt").write_text("boto3\nlitellm[proxy]==1.108.7\n")
    (root / "k8s/ray-serve/cato-orchestrator.yaml").write_text("env:\n- {name: UPSTREAM, value: http://litellm.cato.svc:4000}\n")
    kinds = sorted(f.kind for f in scan_litellm(root))
    assert kinds == ["dependency", "manifest"]


def test_archive_is_idempotent_and_never_overwrites(tmp_path):
    root = _deploy(tmp_path)
    r1 = archive(root, "config/litellm.yaml", "config/archive/litellm.yaml.deprecated")
    r2 = archive(root, "config/litellm.yaml", "config/archive/litellm.yaml.deprecated")
    assert r1["changed"] and not r2["changed"]
    (root / "config/litellm.yaml").write_text("different\n")
    with pytest.raises(BadInput):
        archive(root, "config/litellm.yaml", "config/archive/litellm.yaml.deprecated")
    with pytest.raises(BadInput):
        archive(root, "../outside", "config/x")
