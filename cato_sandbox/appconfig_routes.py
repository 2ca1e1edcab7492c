"""Routing of the sandbox AppConfig layer: which requests it answers and how.

:class:`Layer` matches a request against :data:`ROUTES` and answers it from an
:class:`~cato_sandbox.appconfig_state.AppConfigState` (one per account and region),
or forwards it verbatim to moto and learns application / configuration-profile names from
moto's answer.  The HTTP server around it is :mod:`cato_sandbox.appconfig_layer`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from cato_sandbox.appconfig_cloudwatch import CloudWatchAlarms
from cato_sandbox.appconfig_model import AppConfigError, BadRequest, NotFound
from cato_sandbox.appconfig_moto import MotoForwarder, Reply, check_moto, error_reply
from cato_sandbox.appconfig_state import AppConfigState
from cato_sandbox.layer_faults import PATH as FAULTS_PATH, FaultBook

_REGION = re.compile(r"Credential=[^/]+/\d+/([^/]+)/")
_SEG = r"([^/]+)"
_APP = rf"/applications/{_SEG}"
_ENV = rf"{_APP}/environments/{_SEG}"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p + "$"), h) for m, p, h in [
        ("GET", "/healthz", "healthz"),
        ("POST", "/moto-api/reset", "reset"),
        ("GET", "/applications", "list_applications"),
        ("POST", f"{_APP}/environments", "create_environment"),
        ("GET", f"{_APP}/environments", "list_environments"),
        ("GET", _ENV, "get_environment"),
        ("PATCH", _ENV, "update_environment"),
        ("DELETE", _ENV, "delete_environment"),
        ("POST", f"{_ENV}/deployments", "start_deployment"),
        ("GET", f"{_ENV}/deployments", "list_deployments"),
        ("GET", rf"{_ENV}/deployments/{_SEG}", "get_deployment"),
        ("DELETE", rf"{_ENV}/deployments/{_SEG}", "stop_deployment"),
        ("POST", "/deploymentstrategies", "create_deployment_strategy"),
        ("GET", "/deploymentstrategies", "list_deployment_strategies"),
        ("GET", rf"/deploymentstrategies/{_SEG}", "get_deployment_strategy"),
        ("PATCH", rf"/deploymentstrategies/{_SEG}", "update_deployment_strategy"),
        # AWS's real DeleteDeploymentStrategy URI is misspelt "deployementstrategies".
        ("DELETE", rf"/deploye?mentstrategies/{_SEG}", "delete_deployment_strategy"),
        ("POST", "/configurationsessions", "start_configuration_session"),
        ("GET", "/configuration", "get_latest_configuration"),
    ]
]
# AWS operation names of the requests forwarded to moto (the layer's own: see `operation_of`).
_PROF = rf"{_APP}/configurationprofiles"
_HOSTED = rf"{_PROF}/{_SEG}/hostedconfigurationversions"
_MOTO_OPS: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p + "$"), op) for m, p, op in [
        ("POST", "/applications", "CreateApplication"),
        ("GET", _APP, "GetApplication"), ("PATCH", _APP, "UpdateApplication"),
        ("DELETE", _APP, "DeleteApplication"),
        ("POST", _PROF, "CreateConfigurationProfile"), ("GET", _PROF, "ListConfigurationProfiles"),
        ("GET", rf"{_PROF}/{_SEG}", "GetConfigurationProfile"),
        ("PATCH", rf"{_PROF}/{_SEG}", "UpdateConfigurationProfile"),
        ("DELETE", rf"{_PROF}/{_SEG}", "DeleteConfigurationProfile"),
        ("POST", _HOSTED, "CreateHostedConfigurationVersion"),
        ("GET", _HOSTED, "ListHostedConfigurationVersions"),
        ("GET", rf"{_HOSTED}/{_SEG}", "GetHostedConfigurationVersion"),
        ("DELETE", rf"{_HOSTED}/{_SEG}", "DeleteHostedConfigurationVersion"),
        ("GET", rf"/tags/{_SEG}", "ListTagsForResource"), ("POST", rf"/tags/{_SEG}", "TagResource"),
        ("DELETE", rf"/tags/{_SEG}", "UntagResource"),
    ]
]
_NOT_AWS = ("healthz", "reset")
# Handlers that show or depend on deployment state: the alarm monitors are read first, as AWS
# would have acted on them by then (appconfig_monitors).
_WATCHING = {"get_environment", "list_environments", "update_environment", "delete_environment",
             "start_deployment", "list_deployments", "get_deployment", "stop_deployment",
             "get_latest_configuration"}
# Forwarded moto responses we read to learn application / configuration-profile names.
_SNOOP_APP = re.compile(r"/applications(?:/([^/]+))?$")
_SNOOP_PROFILE = re.compile(r"/applications/([^/]+)/configurationprofiles(?:/([^/]+))?$")


def operation_of(method: str, path: str) -> str | None:
    """The AWS operation a request is (``StartDeployment``), ``"?"`` for one not known here,
    None for the layer's own endpoints (health, reset, faults)."""
    for m, rx, name in ROUTES:
        if m == method and rx.match(path):
            return None if name in _NOT_AWS else "".join(w.capitalize() for w in name.split("_"))
    if path.startswith(("/moto-api", FAULTS_PATH)):
        return None
    return next((op for m, rx, op in _MOTO_OPS if m == method and rx.match(path)), "?")


class Layer(MotoForwarder):
    """Routing and moto I/O; one :class:`AppConfigState` per (account, region)."""

    def __init__(self, moto_url: str, minute_seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(moto_url)
        self.minute_seconds, self.clock = minute_seconds, clock
        self._states: dict[tuple[str, str], AppConfigState] = {}
        self._lock = threading.Lock()
        self.faults = FaultBook("rest-json")
        self.cloudwatch = CloudWatchAlarms(moto_url)

    def state(self, headers: Any) -> AppConfigState:
        m = _REGION.search(headers.get("Authorization", ""))
        key = (headers.get("x-moto-account-id", "123456789012"), m.group(1) if m else "us-east-1")
        with self._lock:
            if key not in self._states:
                self._states[key] = AppConfigState(self.minute_seconds, self.clock)
            return self._states[key]

    # -- dispatch -----------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> Reply:
        url = urlsplit(raw_path)
        admin = self.faults.admin(method, url.path, body)
        if admin is not None:
            return admin
        planted = self.faults.intercept(operation_of(method, url.path))
        if planted is not None:
            return planted
        for m, rx, name in ROUTES:
            match = rx.match(url.path)
            if m == method and match:
                args = [unquote(g) for g in match.groups()]
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                try:
                    payload = json.loads(body) if body.strip() else {}
                except ValueError:
                    return error_reply(BadRequest("Request body is not valid JSON"))
                try:
                    if name in _WATCHING:
                        self.watch_alarms(headers)
                    return getattr(self, "h_" + name)(args, query, payload, headers, raw_path, body)
                except AppConfigError as e:
                    return error_reply(e)
        reply = self.moto(method, raw_path, headers, body)
        self.snoop(method, url.path, headers, reply)
        return reply

    def watch_alarms(self, headers: Any) -> None:
        """Roll back in-flight deployments whose monitors' alarms went bad (read from moto's
        CloudWatch; nothing is read while no monitored deployment is unsettled)."""
        st = self.state(headers)
        pending = st.watched()
        if not pending:
            return
        read_at = self.clock()  # before the read: a window that had ended by now is fully seen
        readings = self.cloudwatch.read(sorted({a for _, arns, _ in pending for a in arns}))
        for d, arns, end in pending:
            st.judge_alarms(d, end, [readings[a] for a in arns], read_at)

    def snoop(self, method: str, path: str, headers: Any, reply: Reply) -> None:
        if not 200 <= reply.status < 300:
            return
        st = self.state(headers)
        if (m := _SNOOP_APP.match(path)) and method == "DELETE" and m.group(1):
            st.forget_application(unquote(m.group(1)))
            return
        if method not in ("GET", "POST", "PATCH"):
            return
        try:
            doc = json.loads(reply.body)
        except ValueError:
            return
        if not isinstance(doc, dict):
            return
        if _SNOOP_APP.match(path) and "Id" in doc:
            st.note_application(doc["Id"], doc.get("Name"), doc.get("Description"))
        elif m := _SNOOP_PROFILE.match(path):
            for p in doc.get("Items", [doc]):
                if isinstance(p, dict) and "Id" in p:
                    st.note_profile(unquote(m.group(1)), p["Id"], p.get("Name"), p.get("Type"))

    def profile(self, st: AppConfigState, app_id: str, profile_id: str, headers: Any) -> dict:
        doc = self.moto_json(f"/applications/{app_id}/configurationprofiles/{profile_id}",
                             headers, f"Configuration profile {profile_id}")
        st.note_profile(app_id, doc.get("Id", profile_id), doc.get("Name"), doc.get("Type"))
        return doc

    def require_app(self, app_id: str, headers: Any) -> None:
        doc = self.moto_json(f"/applications/{app_id}", headers, f"Application {app_id}")
        self.state(headers).note_application(doc.get("Id", app_id), doc.get("Name"),
                                             doc.get("Description"))

    # -- handlers: h_<name>(args, query, payload, headers, raw_path, body) -> Reply ----------
    def h_healthz(self, *_: Any) -> Reply:
        return Reply(200, {"ok": True})

    def h_reset(self, args, query, payload, headers, raw_path, body) -> Reply:
        reply = self.moto("POST", raw_path, headers, body)
        with self._lock:
            self._states.clear()
        return reply

    def h_list_applications(self, args, query, payload, headers, *_: Any) -> Reply:
        st = self.state(headers)
        with st.lock:
            known = list(st.apps)
        for app_id in known:  # drop applications moto no longer has
            if self.moto("GET", f"/applications/{app_id}", headers,
                         verbatim=False).status >= 400:
                st.forget_application(app_id)
        return Reply(200, st.list_applications(_int(query.get("max_results")),
                                               query.get("next_token")))

    def h_create_environment(self, args, query, payload, headers, *_: Any) -> Reply:
        self.require_app(args[0], headers)
        return Reply(201, self.state(headers).create_environment(args[0], payload))

    def h_list_environments(self, args, query, payload, headers, *_: Any) -> Reply:
        self.require_app(args[0], headers)
        return Reply(200, self.state(headers).list_environments(
            args[0], _int(query.get("max_results")), query.get("next_token")))

    def h_get_environment(self, args, query, payload, headers, *_: Any) -> Reply:
        return Reply(200, self.state(headers).get_environment(*args))

    def h_update_environment(self, args, query, payload, headers, *_: Any) -> Reply:
        return Reply(200, self.state(headers).update_environment(args[0], args[1], payload))

    def h_delete_environment(self, args, query, payload, headers, *_: Any) -> Reply:
        self.state(headers).delete_environment(*args)
        return Reply(204)

    def h_create_deployment_strategy(self, args, query, payload, headers, *_: Any) -> Reply:
        return Reply(201, self.state(headers).create_deployment_strategy(payload))

    def h_list_deployment_strategies(self, args, query, payload, headers, *_: Any) -> Reply:
        return Reply(200, self.state(headers).list_deployment_strategies(
            _int(query.get("max_results")), query.get("next_token")))

    def h_get_deployment_strategy(self, args, query, payload, headers, *_: Any) -> Reply:
        return Reply(200, self.state(headers).get_deployment_strategy(args[0]))

    def h_update_deployment_strategy(self, args, query, payload, headers, *_: Any) -> Reply:
        return Reply(200, self.state(headers).update_deployment_strategy(args[0], payload))

    def h_delete_deployment_strategy(self, args, query, payload, headers, *_: Any) -> Reply:
        self.state(headers).delete_deployment_strategy(args[0])
        return Reply(204)

    def h_start_deployment(self, args, query, payload, headers, *_: Any) -> Reply:
        app_id, env_id = args
        st = self.state(headers)
        for key in ("DeploymentStrategyId", "ConfigurationProfileId", "ConfigurationVersion"):
            if not payload.get(key):
                raise BadRequest(f"{key} is required")
        st.get_environment(app_id, env_id)
        st.get_deployment_strategy(payload["DeploymentStrategyId"])
        version = str(payload["ConfigurationVersion"])
        if not version.isdigit():
            raise BadRequest(f"ConfigurationVersion {version} is not a hosted version number")
        prof = self.profile(st, app_id, payload["ConfigurationProfileId"], headers)
        if prof.get("LocationUri", "hosted") != "hosted":
            raise BadRequest("Only hosted configuration profiles are supported by the sandbox")
        hv = self.moto("GET", f"/applications/{app_id}/configurationprofiles/{prof['Id']}"
                              f"/hostedconfigurationversions/{version}", headers, verbatim=False)
        check_moto(hv, f"Hosted configuration version {version}", version)
        hh = {k.lower(): v for k, v in hv.headers.items()}
        label = hh.get("versionlabel")  # moto writes an unset label as "None"
        return Reply(201, st.start_deployment(
            app_id, env_id, payload["DeploymentStrategyId"], prof["Id"], version, hv.body,
            hh.get("content-type", "application/octet-stream"), payload.get("Description"),
            None if label in (None, "", "None") else label, prof.get("Name"), prof.get("Type")))

    def h_list_deployments(self, args, query, payload, headers, *_: Any) -> Reply:
        return Reply(200, self.state(headers).list_deployments(
            *args, _int(query.get("max_results")), query.get("next_token")))

    def h_get_deployment(self, args, query, payload, headers, *_: Any) -> Reply:
        return Reply(200, self.state(headers).get_deployment(*args))

    def h_stop_deployment(self, args, query, payload, headers, *_: Any) -> Reply:
        revert = str(headers.get("Allow-Revert", "false")).lower() == "true"
        return Reply(202, self.state(headers).stop_deployment(*args, allow_revert=revert))

    def h_start_configuration_session(self, args, query, payload, headers, *_: Any) -> Reply:
        st = self.state(headers)
        for key in ("ApplicationIdentifier", "EnvironmentIdentifier",
                    "ConfigurationProfileIdentifier"):
            if not payload.get(key):
                raise BadRequest(f"{key} is required", Reason="InvalidParameters")
        app_id = st.resolve_application(payload["ApplicationIdentifier"])
        try:
            self.require_app(app_id, headers)
            profile_id = st.resolve_profile(app_id, payload["ConfigurationProfileIdentifier"])
            self.profile(st, app_id, profile_id, headers)
        except NotFound as e:
            e.extra["ResourceType"] = "ConfigurationProfile" if "profile" in e.message \
                else "Application"
            raise
        token = st.start_session(app_id, payload["EnvironmentIdentifier"], profile_id,
                                 payload.get("RequiredMinimumPollIntervalInSeconds"))
        return Reply(201, {"InitialConfigurationToken": token})

    def h_get_latest_configuration(self, args, query, payload, headers, *_: Any) -> Reply:
        token = query.get("configuration_token")
        if not token:
            raise BadRequest("configuration_token is required", Reason="InvalidParameters")
        out = self.state(headers).get_latest(token)
        hdrs = {"Next-Poll-Configuration-Token": out["NextPollConfigurationToken"],
                "Next-Poll-Interval-In-Seconds": str(out["NextPollIntervalInSeconds"]),
                "Content-Type": out["ContentType"]}
        if out["VersionLabel"] is not None:
            hdrs["Version-Label"] = out["VersionLabel"]
        return Reply(200, out["Configuration"], hdrs)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        raise BadRequest(f"Not an integer: {value}") from None
