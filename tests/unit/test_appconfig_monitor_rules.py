"""The sandbox AppConfig layer's alarm-monitor rules, pure: validation, when an alarm rolls a
deployment back, and the state machine's judge_alarms on a fake clock."""
from __future__ import annotations

import pytest

from cato_sandbox import appconfig_monitors as m
from cato_sandbox.appconfig_model import BadRequest
from cato_sandbox.appconfig_state import AppConfigState

ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:errors"


def reading(state="ALARM", at=None, found=True, actions=True) -> m.AlarmReading:
    return m.AlarmReading(ARN, found, state, at, actions)


@pytest.mark.parametrize("state,at,found,actions,want", [
    ("ALARM", 15.0, True, True, 15.0),              # fired inside the window: rolled back then
    ("ALARM", 5.0, True, True, 10.0),               # firing before the start: at the start
    ("INSUFFICIENT_DATA", 12.0, True, True, 12.0),  # AWS rolls back on INSUFFICIENT_DATA too
    ("ALARM", 20.0, True, True, None),              # fired as it completed: too late
    ("ALARM", 12.0, True, False, None),             # actions disabled: AWS ignores the alarm
    ("OK", 12.0, True, True, None),
    ("INSUFFICIENT_DATA", None, False, True, 10.0),  # the alarm is gone: never counts as OK
])
def test_rollback_cause(state, at, found, actions, want):
    got = m.rollback_cause(10.0, 20.0, [reading(state, at, found, actions)], to_mono=lambda wall: wall)
    assert (got[0] if got else None) == want


def test_the_earliest_alarm_wins_and_is_described_by_its_arn():
    first = m.AlarmReading(ARN.replace("errors", "p99"), True, "ALARM", 11.0)
    at, r = m.rollback_cause(10.0, 20.0, [reading("ALARM", 14.0), first], to_mono=lambda w: w)
    assert (at, r) == (11.0, first)
    assert m.describe(r) == f"Rollback initiated by CloudWatch alarm {first.arn} (ALARM)"


@pytest.mark.parametrize("monitors,why", [
    ("x", "must be a list"),
    ([{"AlarmArn": ARN}] * 6, "at most 5"),
    ([{}], "AlarmArn is required"),
    (["arn"], "must be an object"),
    ([{"AlarmArn": "arn:aws:sns:us-east-1:123456789012:t"}], "not a CloudWatch alarm ARN"),
    ([{"AlarmArn": ARN, "AlarmRoleArn": "arn:aws:iam::123:role/x"}], "not an IAM role ARN"),
])
def test_validate_monitors_refuses_what_aws_refuses(monitors, why):
    with pytest.raises(BadRequest) as e:
        m.validate_monitors(monitors)
    assert why in e.value.message and e.value.code == "BadRequestException"


def test_validate_monitors_keeps_the_wire_shape():
    role = "arn:aws:iam::123456789012:role/appconfig"
    assert m.validate_monitors(None) == []
    assert m.validate_monitors([{"AlarmArn": ARN, "AlarmRoleArn": role}]) == [{"AlarmArn": ARN, "AlarmRoleArn": role}]
    assert m.alarm_place(ARN) == ("us-east-1", "123456789012", "errors")


class Clock:
    t = 100.0

    def __call__(self) -> float:
        return self.t


def test_judge_alarms_rolls_back_at_the_alarm_time_or_settles_after_the_window():
    clock = Clock()
    st = AppConfigState(minute_seconds=1.0, clock=clock, wall_clock=lambda: 1000.0)  # wall = mono + 900
    env = st.create_environment("app", {"Name": "prod", "Monitors": [{"AlarmArn": ARN}]})
    sid = st.create_deployment_strategy({"Name": "s", "DeploymentDurationInMinutes": 2,
                                         "FinalBakeTimeInMinutes": 3, "GrowthFactor": 50.0})["Id"]
    st.start_deployment("app", env["Id"], sid, "p", "1", b"{}", "application/json")
    [(d, arns, end)] = st.watched()
    assert arns == [ARN] and end == 105.0
    clock.t = 104.0
    st.judge_alarms(d, end, [reading("ALARM", at=900 + 103.0)], read_at=104.0)
    dep = st.get_deployment("app", env["Id"], 1)
    assert dep["State"] == "ROLLED_BACK" and dep["CompletedAt"] == st.iso(103.0)
    ev = dep["EventLog"]
    assert {"EventType": "ROLLBACK_STARTED", "TriggeredBy": "CLOUDWATCH_ALARM",
            "Description": f"Rollback initiated by CloudWatch alarm {ARN} (ALARM)",
            "OccurredAt": st.iso(103.0)} in ev
    assert st.watched() == []

    st.start_deployment("app", env["Id"], sid, "p", "2", b"{}", "application/json")
    [(d2, _, end2)] = st.watched()
    st.judge_alarms(d2, end2, [reading("OK", at=900 + 104.0)], read_at=end2 - 1)
    assert st.watched() != []  # still inside its window: watched again next time
    clock.t = end2 + 1
    st.judge_alarms(d2, end2, [reading("OK", at=900 + 104.0)], read_at=end2)
    assert st.watched() == [] and st.get_deployment("app", env["Id"], 2)["State"] == "COMPLETE"
