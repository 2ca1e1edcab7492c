"""Phase 4's "100% traffic on new architecture": the flag, and what the gateway observably does."""
import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.engine import evaluate_criterion
from cato_migrate.core.traffic import set_traffic
from tests.fakes import FakeClock, FakeEdge, FakeFlag, make_ctx


@pytest.fixture
def ctx(tmp_path):
    store = SqliteStateStore(tmp_path / "state.db")
    clock = FakeClock()
    c = make_ctx(store, clock=clock, flag=FakeFlag(clock), force=True, reason="r")
    for p in (10, 50, 100):
        set_traffic(c, p)
    return c


def _crit(ctx):
    return next(c for c in ctx.runbook.phase(4).exit_criteria if c.id == "p4.exit.full-traffic")


def test_passes_when_the_gateway_routes_every_probe_user_to_the_new_stack(ctx):
    ctx.services._gateway = FakeEdge(100)
    out = evaluate_criterion(ctx, _crit(ctx))
    assert out.status == "pass", out.message
    assert out.evidence["gateway"]["observed_new_share"] == 100.0


def test_fails_when_the_gateway_still_splits_by_a_stale_percentage(ctx):
    ctx.services._gateway = FakeEdge(50)  # planted: the edge never picked up the 100% flag
    out = evaluate_criterion(ctx, _crit(ctx))
    assert out.status == "fail" and "differently from the flag's 100%" in out.message
    assert 0 < out.evidence["gateway"]["observed_new_share"] < 100


def test_fails_when_the_new_stack_errors(ctx):
    ctx.services._gateway = FakeEdge(100, status=503)
    out = evaluate_criterion(ctx, _crit(ctx))
    assert out.status == "fail" and "probe requests failed" in out.message
