"""Pure, in-memory AppConfig deployment state machine for the sandbox (no I/O).

Used by :mod:`cato_sandbox.appconfig_layer`, which does the HTTP and the look-ups in
moto; everything here is driven by an injected monotonic ``clock`` so it can be unit-tested with
a fake clock.  Time is compressed: one strategy-minute lasts ``minute_seconds`` real seconds.

Every public method returns plain dicts shaped exactly like the AWS wire members (botocore's
``appconfig`` 2019-10-09 / ``appconfigdata`` 2021-11-11 service JSON) and raises
:class:`AppConfigError` subclasses carrying the AWS error code and HTTP status.

This module is the facade: the appconfigdata sessions live in
:mod:`cato_sandbox.appconfig_data`, the records, errors and helpers in
:mod:`cato_sandbox.appconfig_model` and the deployment timeline (DEPLOYING, BAKING,
COMPLETE, roll-out steps, event log) in :mod:`cato_sandbox.appconfig_timeline`; the
names below are re-exported so existing imports from here keep working.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from cato_sandbox import appconfig_monitors as monitors
from cato_sandbox import appconfig_timeline as timeline
from cato_sandbox.appconfig_data import DataSessions
from cato_sandbox.appconfig_model import (
    DEFAULT_POLL_INTERVAL_S,
    FEATURE_FLAGS_TYPE,
    IN_FLIGHT,
    PREDEFINED_STRATEGIES,
    AppConfigError,
    BadRequest,
    Conflict,
    Deployment,
    Environment,
    NotFound,
    Session,
    evaluate_feature_flags,
    new_id,
    paginate,
    session_bucket,
)

__all__ = [
    "DEFAULT_POLL_INTERVAL_S", "FEATURE_FLAGS_TYPE", "IN_FLIGHT", "PREDEFINED_STRATEGIES",
    "AppConfigError", "AppConfigState", "BadRequest", "Conflict", "Deployment", "Environment",
    "NotFound", "Session", "evaluate_feature_flags", "new_id", "paginate", "session_bucket",
]


class AppConfigState(DataSessions):
    def __init__(self, minute_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.minute_seconds = minute_seconds
        self.clock = clock
        self._wall_offset = wall_clock() - clock()
        self.lock = threading.RLock()
        self.envs: dict[str, Environment] = {}
        self.strategies: dict[str, dict[str, Any]] = {s["Id"]: dict(s) for s in PREDEFINED_STRATEGIES}
        self.apps: dict[str, dict[str, Any]] = {}            # app id -> Id/Name/Description
        self.profiles: dict[tuple[str, str], dict[str, Any]] = {}  # (app, profile id) -> Name/Type
        self.sessions: dict[str, Session] = {}
        self.tokens: dict[str, str | None] = {}              # token -> session id (None: used)

    # -- names learnt from moto -------------------------------------------------------------
    def note_application(self, app_id: str, name: str | None,
                         description: str | None = None) -> None:
        with self.lock:
            app = {"Id": app_id, "Name": name or self.apps.get(app_id, {}).get("Name", app_id)}
            if description not in (None, "None"):  # moto writes an unset description as "None"
                app["Description"] = description
            self.apps[app_id] = app

    def forget_application(self, app_id: str) -> None:
        with self.lock:
            self.apps.pop(app_id, None)

    def list_applications(self, max_results: int | None = None,
                          next_token: str | None = None) -> dict[str, Any]:
        """Applications seen in moto's answers (moto 5.2.5 has no ListApplications)."""
        with self.lock:
            return paginate([dict(a) for a in self.apps.values()], max_results, next_token)

    def note_profile(self, app_id: str, profile_id: str, name: str | None, type_: str | None) -> None:
        with self.lock:
            self.profiles[(app_id, profile_id)] = {"Name": name, "Type": type_ or "AWS.Freeform"}

    def resolve_application(self, ident: str) -> str:
        with self.lock:
            if ident in self.apps:
                return ident
            return next((i for i, a in self.apps.items() if a["Name"] == ident), ident)

    def resolve_profile(self, app_id: str, ident: str) -> str:
        with self.lock:
            for (app, pid), p in self.profiles.items():
                if app == app_id and ident in (pid, p["Name"]):
                    return pid
            return ident

    # -- helpers ----------------------------------------------------------------------------
    def iso(self, mono: float) -> str:
        return timeline.iso(self._wall_offset, mono)

    def _env(self, app_id: str, env_ident: str, by_name: bool = False) -> Environment:
        env = self.envs.get(env_ident)
        if env is None and by_name:
            env = next((e for e in self.envs.values()
                        if e.app_id == app_id and e.name == env_ident), None)
        if env is None or env.app_id != app_id:
            raise NotFound(f"Environment {env_ident} not found", ResourceName=env_ident)
        return env

    def _strategy(self, ident: str) -> dict[str, Any]:
        s = self.strategies.get(ident) or next(
            (s for s in self.strategies.values() if s["Name"] == ident), None)
        if s is None:
            raise NotFound(f"Deployment strategy {ident} not found", ResourceName=ident)
        return s

    def _deployment(self, app_id: str, env_id: str, number: Any) -> Deployment:
        env = self._env(app_id, env_id)
        for d in env.deployments:
            if str(d.number) == str(number):
                return d
        raise NotFound(f"Deployment {number} not found", ResourceName=str(number))

    # -- deployment timeline (maths in appconfig_timeline) ------------------------------------
    def state_of(self, d: Deployment, now: float | None = None) -> tuple[str, float]:
        now = self.clock() if now is None else now
        return timeline.state_of(d, now, self.minute_seconds)

    def _deployment_json(self, d: Deployment, summary: bool = False) -> dict[str, Any]:
        now = self.clock()
        state, pct = self.state_of(d, now)
        dep, bake = timeline.times(d, self.minute_seconds)
        s = d.strategy
        out: dict[str, Any] = {
            "DeploymentNumber": d.number, "ConfigurationProfileId": d.profile_id,
            "ConfigurationName": d.profile_name, "ConfigurationVersion": d.version,
            "DeploymentDurationInMinutes": s["DeploymentDurationInMinutes"],
            "GrowthType": s.get("GrowthType", "LINEAR"), "GrowthFactor": float(s["GrowthFactor"]),
            "FinalBakeTimeInMinutes": s.get("FinalBakeTimeInMinutes", 0),
            "State": state, "PercentageComplete": pct, "StartedAt": self.iso(d.started),
        }
        if state == "COMPLETE":
            out["CompletedAt"] = self.iso(d.started + dep + bake)
        elif d.stopped is not None:
            out["CompletedAt"] = self.iso(d.stopped)
        if d.version_label:
            out["VersionLabel"] = d.version_label
        if summary:
            out["Type"] = "USER"
            return out
        out.update({"ApplicationId": d.app_id, "EnvironmentId": d.env_id,
                    "DeploymentStrategyId": s["Id"], "ConfigurationLocationUri": "hosted",
                    "EventLog": timeline.events(d, now, self.minute_seconds, self._wall_offset), "AppliedExtensions": []})
        if d.description is not None:
            out["Description"] = d.description
        return out

    # -- environments -----------------------------------------------------------------------
    def _env_json(self, env: Environment) -> dict[str, Any]:
        state = "READY_FOR_DEPLOYMENT"
        if env.deployments:
            last = self.state_of(env.deployments[-1])[0]
            state = {"DEPLOYING": "DEPLOYING", "BAKING": "DEPLOYING", "ROLLED_BACK": "ROLLED_BACK",
                     "REVERTED": "REVERTED"}.get(last, state)
        out = {"ApplicationId": env.app_id, "Id": env.id, "Name": env.name, "State": state,
               "Monitors": env.monitors}
        if env.description is not None:
            out["Description"] = env.description
        return out

    def create_environment(self, app_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("Name"):
            raise BadRequest("Name is required")
        checked = monitors.validate_monitors(body.get("Monitors"))
        with self.lock:
            env = Environment(app_id, new_id(), body["Name"], body.get("Description"), checked)
            self.envs[env.id] = env
            return self._env_json(env)

    def get_environment(self, app_id: str, env_id: str) -> dict[str, Any]:
        with self.lock:
            return self._env_json(self._env(app_id, env_id))

    def list_environments(self, app_id: str, max_results: int | None = None,
                          next_token: str | None = None) -> dict[str, Any]:
        with self.lock:
            items = [self._env_json(e) for e in self.envs.values() if e.app_id == app_id]
            return paginate(items, max_results, next_token)

    def update_environment(self, app_id: str, env_id: str, body: dict[str, Any]) -> dict[str, Any]:
        checked = monitors.validate_monitors(body.get("Monitors"))
        with self.lock:
            env = self._env(app_id, env_id)
            env.name = body.get("Name") or env.name
            if "Description" in body:
                env.description = body["Description"]
            if "Monitors" in body:
                env.monitors = checked
            return self._env_json(env)

    def delete_environment(self, app_id: str, env_id: str) -> None:
        with self.lock:
            env = self._env(app_id, env_id)
            if any(self.state_of(d)[0] in IN_FLIGHT for d in env.deployments):
                raise Conflict(f"Environment {env_id} has a deployment in progress")
            del self.envs[env.id]

    # -- deployment strategies --------------------------------------------------------------
    def _check_strategy_fields(self, s: dict[str, Any]) -> None:
        for key in ("DeploymentDurationInMinutes", "FinalBakeTimeInMinutes"):
            if not isinstance(s.get(key), int) or not 0 <= s[key] <= 1440:
                raise BadRequest(f"{key} must be an integer between 0 and 1440")
        if not isinstance(s.get("GrowthFactor"), (int, float)) or not 1 <= s["GrowthFactor"] <= 100:
            raise BadRequest("GrowthFactor must be between 1 and 100")
        if s.get("GrowthType") not in ("LINEAR", "EXPONENTIAL"):
            raise BadRequest("GrowthType must be LINEAR or EXPONENTIAL")

    def create_deployment_strategy(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("Name"):
            raise BadRequest("Name is required")
        s = {"Id": new_id(), "Name": body["Name"],
             "DeploymentDurationInMinutes": body.get("DeploymentDurationInMinutes"),
             "GrowthType": body.get("GrowthType") or "LINEAR",
             "GrowthFactor": float(body.get("GrowthFactor", 0) or 0),
             "FinalBakeTimeInMinutes": body.get("FinalBakeTimeInMinutes") or 0,
             "ReplicateTo": body.get("ReplicateTo") or "NONE"}
        if body.get("Description") is not None:
            s["Description"] = body["Description"]
        self._check_strategy_fields(s)
        with self.lock:
            self.strategies[s["Id"]] = s
            return dict(s)

    def get_deployment_strategy(self, ident: str) -> dict[str, Any]:
        with self.lock:
            return dict(self._strategy(ident))

    def list_deployment_strategies(self, max_results: int | None = None,
                                   next_token: str | None = None) -> dict[str, Any]:
        with self.lock:
            return paginate([dict(s) for s in self.strategies.values()], max_results, next_token)

    def update_deployment_strategy(self, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            s = self._strategy(ident)
            if s["Id"].startswith("AppConfig."):
                raise BadRequest("Predefined deployment strategies cannot be updated")
            new = {**s, **{k: body[k] for k in ("Description", "DeploymentDurationInMinutes",
                                                "FinalBakeTimeInMinutes", "GrowthFactor",
                                                "GrowthType") if body.get(k) is not None}}
            self._check_strategy_fields(new)
            self.strategies[s["Id"]] = new
            return dict(new)

    def delete_deployment_strategy(self, ident: str) -> None:
        with self.lock:
            s = self._strategy(ident)
            if s["Id"].startswith("AppConfig."):
                raise BadRequest("Predefined deployment strategies cannot be deleted")
            del self.strategies[s["Id"]]

    # -- deployments --------------------------------------------------------------------------
    def start_deployment(self, app_id: str, env_id: str, strategy_id: str, profile_id: str,
                         version: str, content: bytes, content_type: str,
                         description: str | None = None, version_label: str | None = None,
                         profile_name: str | None = None, profile_type: str | None = None
                         ) -> dict[str, Any]:
        with self.lock:
            env = self._env(app_id, env_id)
            strategy = dict(self._strategy(strategy_id))
            for d in env.deployments:
                if self.state_of(d)[0] in IN_FLIGHT:
                    raise Conflict(f"Deployment {d.number} is already in progress for "
                                   f"environment {env.id}")
            if profile_type == FEATURE_FLAGS_TYPE:
                content, content_type = evaluate_feature_flags(content), "application/json"
            d = Deployment(app_id, env.id, len(env.deployments) + 1, strategy, profile_id,
                           profile_name or profile_id, str(version), version_label, content,
                           content_type or "application/octet-stream", description, self.clock())
            env.deployments.append(d)
            return self._deployment_json(d)

    def get_deployment(self, app_id: str, env_id: str, number: Any) -> dict[str, Any]:
        with self.lock:
            return self._deployment_json(self._deployment(app_id, env_id, number))

    def list_deployments(self, app_id: str, env_id: str, max_results: int | None = None,
                         next_token: str | None = None) -> dict[str, Any]:
        with self.lock:
            env = self._env(app_id, env_id)
            items = [self._deployment_json(d, summary=True) for d in reversed(env.deployments)]
            return paginate(items, max_results, next_token)

    def stop_deployment(self, app_id: str, env_id: str, number: Any,
                        allow_revert: bool = False) -> dict[str, Any]:
        with self.lock:
            d = self._deployment(app_id, env_id, number)
            state, _ = self.state_of(d)
            # As AWS: only a DEPLOYING deployment stops without Allow-Revert; a BAKING one needs it.
            if state == "DEPLOYING" or (state in IN_FLIGHT and allow_revert):
                d.stopped, d.end_state = self.clock(), "ROLLED_BACK"
            elif state == "COMPLETE" and allow_revert:
                d.stopped, d.end_state = self.clock(), "REVERTED"
            else:
                raise BadRequest(f"Deployment {d.number} is {state} and cannot be stopped"
                                 + (" without Allow-Revert" if state in IN_FLIGHT else
                                    " (set Allow-Revert to revert it)" if state == "COMPLETE" else ""))
            return self._deployment_json(d)

    # -- alarm monitors: the layer reads the alarms, appconfig_monitors decides ---------------
    def watched(self) -> list[tuple[Deployment, list[str], float]]:
        """Deployments whose alarm window is not settled: (deployment, its monitors' alarm ARNs,
        the monotonic end of its DEPLOYING + BAKING window)."""
        with self.lock:
            out = []
            for env in self.envs.values():
                for d in env.deployments if env.monitors else []:
                    if d.stopped is None and not d.settled:
                        dep, bake = timeline.times(d, self.minute_seconds)
                        out.append((d, [m["AlarmArn"] for m in env.monitors], d.started + dep + bake))
            return out

    def judge_alarms(self, d: Deployment, end: float, readings: list[monitors.AlarmReading],
                     read_at: float) -> None:
        """Roll `d` back if an alarm read at monotonic `read_at` (taken before the read) went bad
        inside its window; settle it once the window had ended by then with no alarm."""
        with self.lock:
            if d.stopped is not None or d.settled:
                return
            cause = monitors.rollback_cause(d.started, end, readings, lambda wall: wall - self._wall_offset)
            if cause is not None:
                at, reading = cause
                d.stopped, d.end_state = min(at, self.clock()), "ROLLED_BACK"
                d.rolled_back_by, d.rollback_description = "CLOUDWATCH_ALARM", monitors.describe(reading)
            elif read_at >= end:
                d.settled = True
