"""Readers for `cato-migrate doctor`: each system becomes a `core.doctor.Reading`, quickly.

Every reader runs in its own daemon thread and all share one deadline: a reader that has not
answered by then becomes an error reading ("no answer within N s"), so doctor finishes in
seconds even when systems are down. What a reader raises becomes the reading's error:

    BadInput (nothing to read: a setting left empty)  -> unconfigured (unknown), except on
              --env local, where the sandbox decides what exists: there it is an error (fail)
    any other error                                   -> error (fail), its message as evidence

SDKs (boto3, kubernetes) are imported inside the readers; Redis is read over RESP directly,
so doctor needs no redis package.
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable
from urllib.parse import urlparse

from cato_migrate.core.doctor import Expectations, Reading, observed_share
from cato_migrate.errors import BadInput, CatoError, ExternalError

PROBE_TIMEOUT_S = 6.0
GATEWAY_WINDOW_S = 1.0  # two scrapes this far apart give the share each stack served meanwhile


class CallerIdentity:
    """STS GetCallerIdentity with a short timeout and no retries."""

    def __init__(self, region: str, endpoint_url: str | None = None, timeout_s: float = 3.0):
        self.region, self.endpoint_url, self.timeout_s = region, endpoint_url, timeout_s

    def read(self) -> dict:
        from cato_migrate.adapters import aws

        with aws.aws_errors("STS GetCallerIdentity", endpoint=self.endpoint_url,
                            hint="check AWS credentials (aws sts get-caller-identity)",
                            credentials_hint="check AWS credentials (aws sts get-caller-identity)",
                            unreachable_hint="check AWS credentials (aws sts get-caller-identity) and the network"):
            out = aws.client("sts", region=self.region, endpoint_url=self.endpoint_url, max_attempts=1,
                             connect_timeout=self.timeout_s, read_timeout=self.timeout_s,
                             own_session=True).get_caller_identity()
        return {"account": out.get("Account"), "arn": out.get("Arn"), "user_id": out.get("UserId")}


# --- Redis over RESP ---------------------------------------------------------------------------

def _resp(f) -> Any:
    line = f.readline()
    if not line:
        raise ExternalError("Redis closed the connection")
    kind, rest = line[:1], line[1:].rstrip(b"\r\n")
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise ExternalError(f"Redis answered an error: {rest.decode(errors='replace')}")
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:n].decode(errors="replace")
    if kind == b":":
        return int(rest)
    raise ExternalError(f"Redis answered something unexpected: {line[:40]!r}")


def _command(*parts: str) -> bytes:
    out = f"*{len(parts)}\r\n".encode()
    for p in parts:
        b = p.encode()
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    return out


def redis_memory(url: str, timeout_s: float = 2.0) -> dict:
    """INFO memory (used_memory, maxmemory) from redis:// or rediss:// (TLS), with AUTH if the URL has one."""
    u = urlparse(url)
    host, port = u.hostname or "127.0.0.1", u.port or 6379
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
        if u.scheme == "rediss":
            import ssl

            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        with sock, sock.makefile("rb") as f:
            if u.password:
                sock.sendall(_command("AUTH", *([u.username] if u.username else []), u.password))
                _resp(f)
            sock.sendall(_command("INFO", "memory"))
            text = _resp(f) or ""
    except OSError as exc:
        raise ExternalError(f"Redis at {host}:{port} does not answer: {exc}") from exc
    info = dict(line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith("#"))
    return {k: (int(info[k]) if info.get(k, "").isdigit() else info.get(k))
            for k in ("used_memory", "maxmemory", "used_memory_human", "maxmemory_human", "maxmemory_policy")
            if k in info}


def redacted(url: str) -> str:
    u = urlparse(url)
    return f"{u.scheme}://{u.hostname}:{u.port or 6379}"


# --- readers: name -> (default source, reader(services, settings, exp) -> (source, value)) --------

def _kubernetes(services, s, exp: Expectations):
    wl = services.workloads()
    if s.env == "local":
        return "local sandbox processes", {"local": True,
                                           "ray_head": wl.chart_status("kuberay-operator", s.workload_namespace)}
    from kubernetes import client

    api = wl.api()
    host = api.configuration.host
    version = client.VersionApi(api).get_code(_request_timeout=3).git_version
    crds = client.ApiextensionsV1Api(api).list_custom_resource_definition(_request_timeout=3)
    return host, {"version": version, "crds": sorted(c.metadata.name for c in crds.items
                                                     if c.metadata.name.endswith(".ray.io"))}


def _sagemaker(services, s, exp):
    eps = services.model_endpoints()
    out = {}
    for name in exp.endpoints:
        st = eps.describe_endpoint(name)
        out[name] = {"status": st.status, "config": st.config, "failure_reason": st.failure_reason}
    return eps.endpoint_url or f"SageMaker {s.region}", out


def _dynamodb(services, s, exp):
    tables = services.tables()
    out = {}
    for name, regions in exp.tables.items():
        st = tables.describe(name)
        listed = {r.region: r.status for r in st.replicas}
        # a replica listed ACTIVE is read again in its own region, as the week-9 step verifies it
        reps = {r: (tables.describe(name, r).status if listed.get(r) == "ACTIVE" else listed.get(r, "MISSING"))
                for r in regions} if st.exists else {}
        out[name] = {"status": st.status, "replicas": reps}
    return f"DynamoDB {s.region}" + (f" at {tables.endpoint_url}" if tables.endpoint_url else ""), out


def _redis(services, s, exp):
    url = services.redis_url()
    if not url:
        raise BadInput("redis_url is not set (CATO_REDIS_URL)" if s.env != "local"
                       else "the sandbox runs no redis component")
    return redacted(url), redis_memory(url)


def _ray_serve(services, s, exp):
    api = services.orchestrator_api()
    return api.base_url + "/healthz", api.health()


def _appconfig(services, s, exp):
    flag = services.traffic_flag()
    describe = getattr(flag, "describe_setup", None)
    where = f"AppConfig {s.region}" + (f" at {flag.endpoint_url}" if getattr(flag, "endpoint_url", None) else "")
    if describe is None:
        raise _Unconfigured("this AppConfig adapter cannot describe its setup (no describe_setup)")
    return where, describe()


def _identity(services, s, exp):
    ident = services.identity()
    return f"STS {s.region}" + (f" at {ident.endpoint_url}" if ident.endpoint_url else ""), ident.read()


def _workload(name_of: Callable):
    def read(services, s, exp):
        name = name_of(s)
        return f"workload {s.workload_namespace}/{name}", services.workloads().status(name, s.workload_namespace).model_dump()
    return read


def _flag(services, s, exp):
    from cato_migrate.core.traffic import flag_status

    st = flag_status(services.traffic_flag())
    return "AppConfig (appconfigdata: what clients are served)", st.model_dump()


def _gateway(services, s, exp):
    gw = services.gateway_metrics()
    if gw is None:
        raise _Unconfigured("no gateway_url (CATO_GATEWAY_URL)")
    before = gw.traffic().model_dump()
    time.sleep(GATEWAY_WINDOW_S)
    after = gw.traffic().model_dump()
    return gw.url, {**observed_share(before, after), "window_s": GATEWAY_WINDOW_S}


def _spend(services, s, exp):
    """`cost status`'s verdict (adapters/cost_http.read_spend judged by core.cost.judge_budget)."""
    from cato_migrate.adapters.cost_http import read_spend
    from cato_migrate.core.cost import judge_budget

    if s.cost_daily_budget_usd is None:
        raise _Unconfigured(f"no daily budget for {s.env} (cost_daily_budget_usd)")
    spend, source, why = read_spend(*services.spend_sources())
    return source, judge_budget(spend, s.cost_daily_budget_usd, source, why).to_dict()


class _Unconfigured(Exception):
    """Nothing to read, on any env (unknown, never fail)."""


READERS: dict[str, tuple[str, Callable]] = {
    "kubernetes": ("Kubernetes API", _kubernetes),
    "sagemaker": ("SageMaker", _sagemaker),
    "dynamodb": ("DynamoDB", _dynamodb),
    "redis": ("Redis", _redis),
    "ray_serve": ("orchestrator /healthz", _ray_serve),
    "appconfig": ("AppConfig", _appconfig),
    "identity": ("STS", _identity),
    "legacy": ("legacy workload", _workload(lambda s: s.legacy_workload)),
    "orchestrator": ("orchestrator workload", _workload(lambda s: s.orchestrator_workload)),
    "flag": ("AppConfig (served flag)", _flag),
    "gateway": ("gateway metrics", _gateway),
    "spend": ("cost counters", _spend),
}
_AWS = {"sagemaker", "dynamodb", "appconfig", "identity", "flag"}


def read_one(name: str, services, settings, exp: Expectations) -> Reading:
    source, reader = READERS[name]
    try:
        source, value = reader(services, settings, exp)
        return Reading(source=source, value=value)
    except _Unconfigured as exc:
        return Reading(source=source, unconfigured=str(exc))
    except BadInput as exc:
        if settings.env == "local":
            return Reading(source=source, error=exc.message)
        return Reading(source=source, unconfigured=exc.message)
    except CatoError as exc:
        return Reading(source=source, error=exc.message)
    except Exception as exc:  # a probe never ends doctor with a traceback; the error is the evidence
        return Reading(source=source, error=f"{type(exc).__name__}: {exc}")


def read_all(services, settings, exp: Expectations, names: set[str],
             timeout_s: float = PROBE_TIMEOUT_S) -> dict[str, Reading]:
    """Run the named readers in parallel; whatever has not answered by the deadline is an error."""
    if len(names & _AWS) > 1:
        import boto3

        # Build the default session's shared parts once, here: concurrent first use races in botocore.
        boto3.client("sts", region_name=settings.region)
    boxes: dict[str, dict] = {n: {} for n in names}
    threads = [threading.Thread(target=lambda n=n: boxes[n].update(r=read_one(n, services, settings, exp)),
                                name=f"doctor-{n}", daemon=True) for n in sorted(names)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout_s
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return {n: boxes[n].get("r") or Reading(source=READERS[n][0], error=f"no answer within {timeout_s:g}s")
            for n in names}
