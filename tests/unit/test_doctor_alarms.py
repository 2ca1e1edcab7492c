"""doctor's AppConfig check and the alarm monitors: each gap planted in a reading, no I/O."""
from __future__ import annotations

from cato_migrate.core import doctor as d
from cato_migrate.core.doctor import Expectations, Reading

ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"
NAMES = ("cato-new-stack-error-rate", "cato-new-stack-p99-latency")
PROD = Expectations(env="production", strategies=("cato-canary", "cato-rollback-zero-bake"), alarms=NAMES)
LOCAL = Expectations(env="local", strategies=PROD.strategies, alarms=NAMES)


def reading(monitors=NAMES, alarms=None) -> Reading:
    alarms = {n: {"arn": ARN + n, "state": "OK"} for n in NAMES} if alarms is None else alarms
    return Reading(source="test", value={"application": True, "environment": True, "profile": True,
                                         "strategies": list(PROD.strategies), "monitors": [ARN + m for m in monitors],
                                         "alarms": alarms, "region": "us-east-1"})


def test_every_configured_alarm_attached_and_ok_passes():
    assert d.judge_appconfig(reading(), PROD) == ("pass", "present, 2 alarm monitor(s), strategies present")


def test_an_alarm_missing_from_cloudwatch_fails_in_production_naming_it():
    st, msg = d.judge_appconfig(reading(monitors=NAMES[:1], alarms={NAMES[0]: {"arn": "a", "state": "OK"},
                                                                    NAMES[1]: None}), PROD)
    assert st == "fail" and f"not in CloudWatch: {NAMES[1]}" in msg and "infrastructure" in msg


def test_an_existing_alarm_not_attached_fails_and_says_canary_set_attaches_it():
    st, msg = d.judge_appconfig(reading(monitors=NAMES[1:]), PROD)
    assert st == "fail" and f"not attached: {NAMES[0]}" in msg and "canary set" in msg


def test_no_monitors_names_what_is_expected_and_only_warns_on_the_sandbox():
    st, msg = d.judge_appconfig(reading(monitors=()), LOCAL)
    assert st == "warn" and "no alarm monitor" in msg and NAMES[0] in msg and NAMES[1] in msg
    assert d.judge_appconfig(reading(monitors=()), PROD)[0] == "fail"


def test_a_firing_monitor_warns_that_deployments_will_roll_back():
    alarms = {NAMES[0]: {"arn": ARN + NAMES[0], "state": "ALARM"}, NAMES[1]: {"arn": ARN + NAMES[1], "state": "OK"}}
    st, msg = d.judge_appconfig(reading(alarms=alarms), PROD)
    assert st == "warn" and f"{NAMES[0]} is ALARM" in msg and "rolls back" in msg


def test_settings_name_the_expected_alarms():
    from cato_migrate.core.loader import load_runbook
    from cato_migrate.settings import Settings

    assert d.expectations(load_runbook(), Settings(env="production", appconfig_alarm_names=["a"])).alarms == ("a",)
    assert d.expectations(load_runbook(), Settings(env="production")).alarms == NAMES
