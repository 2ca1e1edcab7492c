"""`canary set` when AppConfig's own alarm monitor rolls the deployment back: a failed check (exit 1)
naming the alarm, the previous value verified as served, journaled; never an unverified change."""
import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.quick_rollback import quick_rollback
from cato_migrate.core.traffic import TRAFFIC_KEY, flag_status, set_traffic
from cato_migrate.errors import CheckFailed
from tests.fakes import FakeClock, FakeFlag, make_ctx

ALARM = "cato-new-stack-error-rate"


class AlarmWhileBaking(FakeFlag):
    """The new stack's error-rate alarm fires once the deployment is baking."""

    armed = False

    def get_deployment(self, number):
        dep = super().get_deployment(number)
        if self.armed and dep.state == "BAKING":
            self.set_alarm(ALARM, "ALARM")
            return super().get_deployment(number)
        return dep


@pytest.fixture
def store(tmp_path):
    return SqliteStateStore(tmp_path / "state.db")


def _ctx(store):
    clock = FakeClock()
    flag = AlarmWhileBaking(clock)
    flag.set_alarm(ALARM, "OK")
    return make_ctx(store, clock=clock, flag=flag, force=True, reason="alarm drill"), flag


def test_an_alarm_rollback_during_the_bake_is_exit_1_naming_the_alarm(store):
    ctx, flag = _ctx(store)
    flag.armed = True
    with pytest.raises(CheckFailed) as e:
        set_traffic(ctx, 10)
    assert e.value.exit_code == 1
    assert f"CloudWatch alarm {ALARM} fired" in e.value.message and "served 0% again" in e.value.message
    assert "rollback --quick" in e.value.hint
    assert flag_status(flag).served_percentage == 0 and flag.calls[1] == "ensure_monitors"
    last = store.journal("local", TRAFFIC_KEY)[-1]
    assert last.event == "failed" and last.evidence["rollback_alarm"] == ALARM
    assert last.evidence["rollback_by"] == "CLOUDWATCH_ALARM" and last.evidence["served_percentage"] == 0


def test_lowering_with_a_bake_is_undone_too_and_rollback_quick_is_not(store):
    ctx, flag = _ctx(store)
    assert set_traffic(ctx, 10)["status"]["served_percentage"] == 10
    flag.armed = True
    with pytest.raises(CheckFailed) as e:  # as on AWS: the alarm undoes any deployment with a bake
        set_traffic(ctx, 0)
    assert "served 10% again" in e.value.message
    out = quick_rollback(ctx)  # zero-time strategy: nothing for the alarm to undo
    assert flag_status(flag).served_percentage == 0, out
