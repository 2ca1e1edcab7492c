"""Traffic flag on AWS AppConfig (boto3 `appconfig` + `appconfigdata`).

The flag lives in a feature-flag profile (`AWS.AppConfig.FeatureFlags`). Writing a hosted
version deploys nothing; a deployment does, and a client reads the result through
`appconfigdata`. boto3 is imported on first use. Vendor errors become our error tree (adapters/aws.py).

Alarm monitors: `ensure_monitors` attaches the configured CloudWatch alarms (found by name, so only
alarms that exist) to the environment, so AppConfig itself rolls a deployment back when one is in
ALARM while it deploys or bakes. The alarms belong to the infrastructure; nothing here creates one.
"""
from __future__ import annotations

import json
import re
from typing import Any, Sequence

from pydantic import ValidationError

from cato_migrate.errors import CatoError, Conflict, ExternalError
from cato_migrate.ports import Deployment, FlagSpec

FEATURE_FLAGS = "AWS.AppConfig.FeatureFlags"
_ALARM_ARN = re.compile(r"arn:[\w-]+:cloudwatch:[\w-]+:\d{12}:alarm:([^\s()]+?)(?=[\s(),;]|$)")


def flag_document(flag: str, spec: FlagSpec) -> dict[str, Any]:
    """The hosted document AWS expects for a feature-flag profile (validated before upload)."""
    spec = FlagSpec.model_validate(spec.model_dump())
    return {
        "flags": {flag: {"name": flag, "description": "Share of users routed to the new Cato orchestrator",
                         "attributes": {"percentage": {"constraints": {"type": "number", "required": True,
                                                                       "minimum": 0, "maximum": 100}}}}},
        "values": {flag: {"enabled": spec.enabled, "percentage": spec.percentage}},
        "version": "1",
    }


def parse_flag(flag: str, data: dict) -> FlagSpec | None:
    """Served (evaluated) form or hosted form -> spec; a missing flag is None (= 0%)."""
    values = data.get("values", data) if isinstance(data, dict) else {}
    entry = values.get(flag) if isinstance(values, dict) else None
    if entry is None:
        return None
    try:
        return FlagSpec(enabled=bool(entry.get("enabled", False)), percentage=int(entry.get("percentage", 0)))
    except (ValidationError, TypeError, ValueError, AttributeError) as exc:
        raise ExternalError(f"flag {flag!r} has an invalid value {entry!r}: {exc}",
                            hint="run `cato-migrate rollback --quick` to deploy a known-good 0%") from exc


class AppConfigFlag:
    def __init__(self, *, application: str, environment: str, profile: str, flag: str, region: str,
                 endpoint_url: str | None = None, data_endpoint_url: str | None = None,
                 max_attempts: int = 5, read_timeout: float = 30.0, alarm_names: Sequence[str] = (),
                 alarm_role_arn: str = "", cloudwatch_endpoint_url: str | None = None):
        self.max_attempts, self.read_timeout = max_attempts, read_timeout
        self.alarm_names, self.alarm_role_arn = tuple(alarm_names), alarm_role_arn
        self.cloudwatch_endpoint_url = cloudwatch_endpoint_url or None
        self.application, self.environment, self.profile, self.flag = application, environment, profile, flag
        self.region, self.endpoint_url = region, endpoint_url or None
        self.data_endpoint_url = data_endpoint_url or endpoint_url or None
        self._ids: dict[str, str] = {}
        # imported here: the edge image ships this module for parse_flag alone (images/edge/Dockerfile)
        from cato_migrate.adapters.aws import AwsClients

        self._aws = AwsClients(region=region, endpoint_url=self.endpoint_url, max_attempts=max_attempts,
                               read_timeout=read_timeout)

    # -- plumbing -----------------------------------------------------------------------
    def _url(self, service: str) -> str | None:
        return {"appconfigdata": self.data_endpoint_url,
                "cloudwatch": self.cloudwatch_endpoint_url}.get(service, self.endpoint_url)

    def _client(self, service: str):
        return self._aws.get(service, endpoint_url=self._url(service))

    def _call(self, service: str, op: str, **kw):
        with self._aws.errors(
                f"{_service_name(service)} {op}", endpoint_url=self._url(service),
                hints={Conflict: "another deployment is in flight; see `cato-migrate canary status`"},
                hint="check AWS credentials, region and the AppConfig service health",
                # the request may have been carried out: say so, never guess
                timeout_hint="`cato-migrate canary status` reads what is served now; the next `canary set` "
                             "or `rollback --quick` reconciles it (CATO_AWS_READ_TIMEOUT_SECONDS sets the wait)"):
            return getattr(self._client(service), op)(**kw)

    def _find(self, op: str, name: str, **kw) -> str | None:
        token = None
        while True:
            page = self._call("appconfig", op, **kw, **({"NextToken": token} if token else {}))
            for item in page.get("Items", []):
                if item.get("Name") == name:
                    return item["Id"]
            token = page.get("NextToken")
            if not token:
                return None

    # -- ids ------------------------------------------------------------------------------
    def _resolve(self, create: bool) -> bool:
        """Fill app/env/profile ids; create what is missing when `create`. False if missing."""
        if {"app", "env", "profile"} <= self._ids.keys():
            return True
        app = self._ids.get("app") or self._find("list_applications", self.application)
        if app is None and create:
            app = self._call("appconfig", "create_application", Name=self.application)["Id"]
        if app is None:
            return False
        self._ids["app"] = app
        env = self._find("list_environments", self.environment, ApplicationId=app)
        if env is None and create:
            env = self._call("appconfig", "create_environment", ApplicationId=app, Name=self.environment)["Id"]
        prof = self._find("list_configuration_profiles", self.profile, ApplicationId=app)
        if prof is None and create:
            prof = self._call("appconfig", "create_configuration_profile", ApplicationId=app, Name=self.profile,
                              LocationUri="hosted", Type=FEATURE_FLAGS)["Id"]
        if env is None or prof is None:
            return False
        self._ids.update(env=env, profile=prof)
        return True

    def ensure_setup(self) -> None:
        self._resolve(create=True)

    def ensure_monitors(self) -> dict:
        """Attach the configured alarms that exist as the environment's monitors (monitors someone
        else attached stay). Never raises: an alarm that cannot be attached must not stop a change;
        {"attached": [names], "missing": [names CloudWatch lacks], "problem": why it failed | None}."""
        out: dict = {"attached": [], "missing": [], "problem": None}
        try:
            self._resolve(create=True)
            out.update(self._attach_monitors())
        except CatoError as exc:
            out["problem"] = exc.message
        return out

    # -- alarm monitors -------------------------------------------------------------------------
    def _alarms(self) -> dict[str, dict]:
        """The configured alarms CloudWatch has: name -> {"arn", "state"}."""
        found: dict[str, dict] = {}
        token = None
        while self.alarm_names:
            page = self._call("cloudwatch", "describe_alarms", AlarmNames=list(self.alarm_names),
                              AlarmTypes=["MetricAlarm", "CompositeAlarm"], **({"NextToken": token} if token else {}))
            for a in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                found[a["AlarmName"]] = {"arn": a["AlarmArn"], "state": a.get("StateValue", "")}
            token = page.get("NextToken")
            if not token:
                break
        return found

    def _attach_monitors(self) -> dict:
        if not self.alarm_names:
            return {}
        found = self._alarms()
        missing = [n for n in self.alarm_names if n not in found]
        role = {"AlarmRoleArn": self.alarm_role_arn} if self.alarm_role_arn else {}
        mine = {found[n]["arn"]: {"AlarmArn": found[n]["arn"], **role} for n in self.alarm_names if n in found}
        if not mine:
            return {"attached": [], "missing": missing}
        ids = {"ApplicationId": self._ids["app"], "EnvironmentId": self._ids["env"]}
        have = self._call("appconfig", "get_environment", **ids).get("Monitors") or []
        # Ours replace their own entries (a changed role); monitors someone else attached stay.
        merged = [mine.pop(m.get("AlarmArn"), m) for m in have] + list(mine.values())
        if merged != have:
            self._call("appconfig", "update_environment", **ids, Monitors=merged)
        return {"attached": [n for n in self.alarm_names if n in found], "missing": missing}

    # -- TrafficFlag ------------------------------------------------------------------------
    def ensure_strategy(self, name: str, deployment_minutes: float, bake_minutes: float, growth_factor: float) -> str:
        found = self._find("list_deployment_strategies", name)
        if found:
            return found
        return self._call("appconfig", "create_deployment_strategy", Name=name,
                          DeploymentDurationInMinutes=int(deployment_minutes), FinalBakeTimeInMinutes=int(bake_minutes),
                          GrowthFactor=float(growth_factor), GrowthType="LINEAR", ReplicateTo="NONE")["Id"]

    def create_version(self, spec: FlagSpec, description: str) -> str:
        self._resolve(create=True)
        body = json.dumps(flag_document(self.flag, spec)).encode()
        out = self._call("appconfig", "create_hosted_configuration_version", ApplicationId=self._ids["app"],
                         ConfigurationProfileId=self._ids["profile"], Content=body,
                         ContentType="application/json", Description=description[:1024])
        return str(out["VersionNumber"])

    def start_deployment(self, version: str, strategy: str, description: str) -> Deployment:
        self._resolve(create=True)
        out = self._call("appconfig", "start_deployment", ApplicationId=self._ids["app"],
                         EnvironmentId=self._ids["env"], DeploymentStrategyId=strategy,
                         ConfigurationProfileId=self._ids["profile"], ConfigurationVersion=version,
                         Description=description[:1024])
        return _deployment(out)

    def get_deployment(self, number: int) -> Deployment:
        self._resolve(create=True)
        return _deployment(self._call("appconfig", "get_deployment", ApplicationId=self._ids["app"],
                                      EnvironmentId=self._ids["env"], DeploymentNumber=number))

    def latest_deployment(self) -> Deployment | None:
        if not self._resolve(create=False):
            return None
        items = self._call("appconfig", "list_deployments", ApplicationId=self._ids["app"],
                           EnvironmentId=self._ids["env"]).get("Items", [])
        mine = [i for i in items if i.get("ConfigurationName") in (None, self.profile)]
        if not mine:
            return None
        return self.get_deployment(max(i["DeploymentNumber"] for i in mine))

    def stop_deployment(self, number: int) -> Deployment:
        """AWS stops only a DEPLOYING deployment unless AllowRevert is sent; BAKING and VALIDATING
        need it (it rolls them back), and so would a COMPLETE one (never asked for here)."""
        self._resolve(create=True)
        state = self.get_deployment(number).state
        extra = {} if state == "DEPLOYING" else {"AllowRevert": True}
        self._call("appconfig", "stop_deployment", ApplicationId=self._ids["app"],
                   EnvironmentId=self._ids["env"], DeploymentNumber=number, **extra)
        return self.get_deployment(number)

    def blocking_deployment(self) -> Deployment | None:
        if not self._resolve(create=False):
            return None
        items = self._call("appconfig", "list_deployments", ApplicationId=self._ids["app"],
                           EnvironmentId=self._ids["env"]).get("Items", [])
        busy = [i for i in items if i.get("State") in ("DEPLOYING", "BAKING", "VALIDATING", "ROLLING_BACK")]
        if not busy:
            return None
        return self.get_deployment(max(i["DeploymentNumber"] for i in busy))

    def describe_setup(self) -> dict:
        """Read-only: what of the application, environment, profile, strategies and monitors exists;
        `alarms`: each configured alarm as CloudWatch has it ({"arn", "state"}) or None (missing)."""
        out: dict = {"application": False, "environment": False, "profile": False, "strategies": [],
                     "monitors": [], "region": self.region}
        if self.alarm_names:
            found = self._alarms()
            out["alarms"] = {n: found.get(n) for n in self.alarm_names}
        app = self._find("list_applications", self.application)
        out["strategies"] = self._names("list_deployment_strategies")
        if app is None:
            return out
        out["application"] = True
        env = self._find("list_environments", self.environment, ApplicationId=app)
        out["profile"] = self._find("list_configuration_profiles", self.profile, ApplicationId=app) is not None
        if env is not None:
            out["environment"] = True
            got = self._call("appconfig", "get_environment", ApplicationId=app, EnvironmentId=env)
            out["monitors"] = [m.get("AlarmArn", "") for m in got.get("Monitors") or []]
        return out

    def _names(self, op: str) -> list[str]:
        names, token = [], None
        while True:
            page = self._call("appconfig", op, **({"NextToken": token} if token else {}))
            names += [i.get("Name", "") for i in page.get("Items", [])]
            token = page.get("NextToken")
            if not token:
                return names

    def configured(self, deployment: Deployment) -> FlagSpec:
        self._resolve(create=True)
        out = self._call("appconfig", "get_hosted_configuration_version", ApplicationId=self._ids["app"],
                         ConfigurationProfileId=self._ids["profile"], VersionNumber=int(deployment.version))
        return parse_flag(self.flag, json.loads(out["Content"].read() or b"{}")) or FlagSpec(enabled=False, percentage=0)

    def read_served(self) -> tuple[FlagSpec | None, str | None]:
        if not self._resolve(create=False):
            return None, None
        session = self._call("appconfigdata", "start_configuration_session", ApplicationIdentifier=self._ids["app"],
                             EnvironmentIdentifier=self._ids["env"], ConfigurationProfileIdentifier=self._ids["profile"])
        out = self._call("appconfigdata", "get_latest_configuration",
                         ConfigurationToken=session["InitialConfigurationToken"])
        raw = out["Configuration"].read()
        if not raw:
            return None, out.get("VersionLabel")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ExternalError(f"served configuration is not JSON: {raw[:80]!r}") from exc
        return parse_flag(self.flag, data), out.get("VersionLabel")


def _deployment(d: dict) -> Deployment:
    started = d.get("StartedAt")
    return Deployment(number=d["DeploymentNumber"], state=d["State"], version=str(d.get("ConfigurationVersion", "")),
                      strategy=d.get("DeploymentStrategyId", ""), percentage_complete=float(d.get("PercentageComplete", 0)),
                      started_at=started.timestamp() if hasattr(started, "timestamp") else started,
                      profile=d.get("ConfigurationName", ""), **_rollback(d.get("EventLog") or []))


def _rollback(events: list[dict]) -> dict:
    """Who rolled a deployment back and why, from its EventLog (AWS names the alarm ARN there)."""
    ev = next((e for e in events if e.get("EventType") == "ROLLBACK_STARTED"), None)
    if ev is None:
        return {}
    reason = ev.get("Description") or ""
    alarm = _ALARM_ARN.search(reason)
    return {"rollback_by": ev.get("TriggeredBy") or "", "rollback_reason": reason,
            "rollback_alarm": alarm.group(1) if alarm else ""}


def _service_name(service: str) -> str:
    return "CloudWatch" if service == "cloudwatch" else "AppConfig"
