"""The traffic edge: what clients talk to, splitting traffic between the stacks by the AppConfig flag.

    python -m cato_migrate.edge.gateway --port 8080 --legacy-url http://litellm.cato:4000 \
        --new-url http://cato-orchestrator-serve-svc.cato:8000 \
        --appconfig-agent-url http://127.0.0.1:2772 [--application cato --environment production
        --profile orchestration --flag use_new_orchestrator]

It reads the `use_new_orchestrator` flag (gateway_flag.py: from the AppConfig Agent sidecar in a
cluster, or appconfigdata directly on the sandbox), buckets each user stickily
(core/bucketing.py; the user id is the request's `user` field, else the `x-session-id` header,
else a random id) and forwards `POST /v1/chat/completions` to the new orchestrator or to LiteLLM.
The response carries `x-cato-stack: legacy|new`.

There is no silent failover: if the stack a user is bucketed to is not there, the request fails
(503 when the stack has no URL, 502 when it does not answer) and an error is counted. Sending
those users to the other stack would hide exactly the failure the full rollback's safe order
(legacy up and ready before the flag goes to 0) exists to prevent.

Authentication is the stacks' job (both accept the same client keys): the edge passes the
client's bearer on, or replaces it with a fixed upstream key when it is given one
(`--upstream-key-file`; the sandbox does this with its LiteLLM key). `POST /v1/complaints`
(`{"user", "text"}`) counts a user complaint against the stack that user is bucketed to
(`cato_gateway_complaints_total`, the "user complaints spike" trigger's source); like chat, the
edge does not authenticate it, so expose it only behind Cato's API, as chat is.

`GET /metrics` is Prometheus text (gateway_stats.py); `GET /healthz` says the split in force.
Where the stacks' URLs come from is pluggable (`build_app(upstreams, ...)`): fixed URLs here
(`StaticUpstreams`); the sandbox plugs in its state file (cato_sandbox/gateway.py).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Protocol

import aiohttp
from aiohttp import web

from cato_migrate.core.bucketing import pick_stack
from cato_migrate.edge.dual_write import DualWriter, ServedExchange
from cato_migrate.edge.gateway_flag import AgentFlagPoller, FlagPoller, FlagTarget
from cato_migrate.edge.gateway_stats import STACKS, GatewayStats

log = logging.getLogger("cato.gateway")

STACK_HEADER = "x-cato-stack"
STATS = web.AppKey("stats", GatewayStats)
MAX_COMPLAINT_CHARS = 10_000
_HOP_BY_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade",
               "authorization", "proxy-authorization", "te", "trailer", "accept-encoding"}


class Upstreams(Protocol):
    """Where each stack is: its base URL (None = not running), a name for messages, extra headers."""

    def url(self, stack: str) -> str | None: ...
    def component(self, stack: str) -> str: ...
    def headers(self, stack: str) -> dict[str, str]: ...


class StaticUpstreams:
    """Fixed base URLs per stack (a Kubernetes Service each); an optional fixed upstream key."""

    def __init__(self, urls: dict[str, str | None], key_file: Path | None = None):
        self.urls, self.key_file = urls, key_file

    def url(self, stack: str) -> str | None:
        return self.urls.get(stack) or None

    def component(self, stack: str) -> str:
        return {"legacy": "LiteLLM", "new": "the orchestrator"}.get(stack, stack)

    def headers(self, stack: str) -> dict[str, str]:
        if self.key_file is None:
            return {}  # the client's own bearer is passed on
        try:
            return {"Authorization": f"Bearer {self.key_file.read_text().strip()}"}
        except OSError:
            return {}


def _user_of(doc: dict, request: web.Request) -> str:
    user = doc.get("user") if isinstance(doc, dict) else None
    return str(user or request.headers.get("x-session-id") or uuid.uuid4().hex)


def _error(status: int, stack: str, message: str, kind: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "stack": stack}},
                             status=status, headers={STACK_HEADER: stack})


def _bad_request(message: str, param: str | None = None) -> web.Response:
    """OpenAI's error shape, as the stacks answer a bad request."""
    return web.json_response({"error": {"message": message, "type": "invalid_request_error",
                                        "param": param, "code": "invalid_value"}}, status=400)


def parse_complaint(body: bytes) -> tuple[str, str]:
    """(user, text) of a complaint body; ValueError naming the field otherwise."""
    try:
        doc = json.loads(body or b"")
    except ValueError:
        raise ValueError("body: the request body is not JSON; send {\"user\": ..., \"text\": ...}") from None
    if not isinstance(doc, dict):
        raise ValueError("body: the request body must be a JSON object with user and text")
    for name in ("user", "text"):
        value = doc.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name}: '{name}' must be a non-empty string")
    if len(doc["text"]) > MAX_COMPLAINT_CHARS:
        raise ValueError(f"text: 'text' is longer than {MAX_COMPLAINT_CHARS} characters")
    return doc["user"], doc["text"]


def build_app(upstreams: Upstreams, flag, *, timeout_s: float = 120.0, on_startup=None,
              clock=time.monotonic, dual: DualWriter | None = None) -> web.Application:
    """The edge app. `flag` has `percentage` and `errors` attributes (FlagPoller, or a stub).

    With `dual`, each exchange LiteLLM serves while the flag is between 0 and 100 (or within the
    rollback window after it fell to 0) is also written to the new stack's session memory, off the
    request's path (edge/dual_write.py), so a user the flag moves keeps their conversation.
    """
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[STATS] = stats = GatewayStats()
    session_box: dict[str, aiohttp.ClientSession] = {}

    async def startup(app: web.Application) -> None:
        # one pooled session for all upstream calls (measured: far cheaper per request than httpx)
        session_box["s"] = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout_s, sock_connect=5),
            connector=aiohttp.TCPConnector(limit=0), trust_env=False, auto_decompress=False)
        if dual is not None:
            await dual.start(session_box["s"])
        if on_startup is not None:
            await on_startup(app, session_box["s"])

    async def cleanup(app: web.Application) -> None:
        if dual is not None:
            await dual.close()
        await session_box["s"].close()

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)

    async def chat(request: web.Request) -> web.StreamResponse:
        t0 = clock()
        body = await request.read()
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            return _bad_request("request body is not JSON")
        stack = pick_stack(_user_of(doc, request), flag.percentage)
        # judged on every request, whichever stack serves it: the rollback window opens on 100 -> 0
        teeing = dual is not None and dual.active(flag.percentage) and stack == "legacy" and isinstance(doc, dict)
        base = upstreams.url(stack)
        if not base:
            stats.refused(stack, clock() - t0)
            return _error(503, stack, f"the {stack} stack ({upstreams.component(stack)}) is not running; "
                          "the gateway does not fail over to the other stack", "stack_unavailable")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        auth = upstreams.headers(stack)
        if "Authorization" not in auth and request.headers.get("Authorization"):
            auth = {**auth, "Authorization": request.headers["Authorization"]}
        headers.update(auth)
        sent: list[bytes] | None = [] if teeing else None

        def tee(payload: bytes, streamed: bool) -> None:
            new_auth = upstreams.headers("new").get("Authorization") or request.headers.get("Authorization")
            dual.offer(ServedExchange(doc, payload, streamed, request.headers.get("x-session-id"), new_auth))

        stats.begin(stack)
        error_class: str | None = "unreachable"
        resp = None
        try:
            async with session_box["s"].post(base.rstrip("/") + "/v1/chat/completions", data=body,
                                             headers=headers) as up:
                ctype = up.headers.get("Content-Type", "application/json")
                if up.status < 300 and ctype.startswith("text/event-stream"):
                    resp = web.StreamResponse(status=up.status, headers={
                        "Content-Type": ctype, "Cache-Control": "no-cache", STACK_HEADER: stack})
                    await resp.prepare(request)
                    async for chunk in up.content.iter_any():
                        try:
                            await resp.write(chunk)
                            if sent is not None:
                                sent.append(chunk)
                        except ConnectionResetError:  # the client went away: not the stack's failure
                            error_class = None
                            return resp
                    await resp.write_eof()
                    error_class = None
                    if sent is not None:
                        tee(b"".join(sent), True)
                    return resp
                payload = await up.read()
                error_class = "upstream_5xx" if up.status >= 500 else None
                if teeing and up.status == 200:
                    tee(payload, False)
                return web.Response(status=up.status, body=payload, content_type=ctype.split(";")[0],
                                    headers={STACK_HEADER: stack})
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            if resp is not None:  # the stream broke off after it began: the client sees it cut
                return resp
            return _error(502, stack, f"the {stack} stack ({upstreams.component(stack)} at {base}) "
                          f"failed: {type(exc).__name__}: {exc}", "stack_unreachable")
        finally:
            stats.end(stack, error_class, clock() - t0)

    async def complaints(request: web.Request) -> web.Response:
        try:
            user, text = parse_complaint(await request.read())
        except ValueError as exc:
            param, _, message = str(exc).partition(": ")
            return _bad_request(message, None if param == "body" else param)
        stack = pick_stack(user, flag.percentage)
        stats.complaint(stack)
        # the text may hold personal data: logged by size only; Cato's API keeps the complaint itself
        log.info("complaint from a user on the %s stack (%d chars)", stack, len(text))
        return web.json_response({"stack": stack}, status=202, headers={STACK_HEADER: stack})

    async def metrics(request: web.Request) -> web.Response:
        stats.flag_percentage, stats.flag_poll_errors = flag.percentage, flag.errors
        text = stats.exposition()
        if dual is not None:
            dual.active(flag.percentage)
            text += dual.exposition()
        return web.Response(text=text, content_type="text/plain",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "percentage": flag.percentage,
                                  "stacks": {s: upstreams.url(s) for s in STACKS}})

    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/chat/completions", chat)  # LiteLLM serves both; so does its stand-in
    app.router.add_post("/v1/complaints", complaints)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app


# --- the process ------------------------------------------------------------------------------

def add_flag_args(ap: argparse.ArgumentParser) -> None:
    """The flag and listening options, shared with the sandbox's launcher."""
    ap.add_argument("--host", default=os.environ.get("CATO_EDGE_HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("CATO_EDGE_PORT", "8080")))
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--appconfig-agent-url", default=os.environ.get("CATO_EDGE_APPCONFIG_AGENT_URL"),
                     help="the AWS AppConfig Agent (sidecar), e.g. http://127.0.0.1:2772")
    src.add_argument("--appconfig-url", default=os.environ.get("CATO_EDGE_APPCONFIG_URL"),
                     help="an appconfigdata endpoint that needs no signature (the sandbox's layer)")
    ap.add_argument("--application", default=os.environ.get("CATO_EDGE_APPLICATION", "cato"))
    ap.add_argument("--environment", default=os.environ.get("CATO_EDGE_ENVIRONMENT", "local"))
    ap.add_argument("--profile", default=os.environ.get("CATO_EDGE_PROFILE", "orchestration"))
    ap.add_argument("--flag", default=os.environ.get("CATO_EDGE_FLAG", "use_new_orchestrator"))
    ap.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    ap.add_argument("--poll-interval", type=float, default=0.5)
    ap.add_argument("--dual-write-window-s", type=float,
                    default=float(os.environ.get("CATO_EDGE_DUAL_WRITE_WINDOW_S", "86400")),
                    help="after the flag falls to 0, keep writing LiteLLM's exchanges to the new stack's "
                         "memory this long (the rollback window); 0 turns dual-write off")


def make_poller(args: argparse.Namespace) -> FlagPoller:
    if not (args.appconfig_agent_url or args.appconfig_url):
        raise SystemExit("the edge needs the flag's source: --appconfig-agent-url (or CATO_EDGE_APPCONFIG_AGENT_URL)")
    agent = bool(args.appconfig_agent_url)
    target = FlagTarget(args.appconfig_agent_url if agent else args.appconfig_url, args.application,
                        args.environment, args.profile, args.flag, args.region)
    return (AgentFlagPoller if agent else FlagPoller)(target, interval_s=args.poll_interval)


def serve(upstreams: Upstreams, args: argparse.Namespace) -> int:
    """Run the edge until stopped: poll the flag in the background, serve on host:port."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    poller = make_poller(args)
    tasks: list[asyncio.Task] = []

    async def start_polling(app: web.Application, session: aiohttp.ClientSession) -> None:
        tasks.append(asyncio.get_running_loop().create_task(poller.run(session)))

    dual = (DualWriter(lambda: upstreams.url("new"), window_s=args.dual_write_window_s)
            if args.dual_write_window_s > 0 else None)
    app = build_app(upstreams, poller, on_startup=start_polling, dual=dual)

    async def stop_polling(app: web.Application) -> None:
        for t in tasks:
            t.cancel()
    app.on_shutdown.append(stop_polling)
    log.info("gateway on http://%s:%s: legacy=%s new=%s flag %s/%s/%s:%s", args.host, args.port,
             upstreams.component("legacy"), upstreams.component("new"), args.application,
             args.environment, args.profile, args.flag)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cato_migrate.edge.gateway",
                                 description="Cato's traffic edge: splits users between LiteLLM and "
                                             "the orchestrator by the AppConfig flag.")
    add_flag_args(ap)
    ap.add_argument("--legacy-url", default=os.environ.get("CATO_EDGE_LEGACY_URL"),
                    help="LiteLLM's base URL (CATO_EDGE_LEGACY_URL)")
    ap.add_argument("--new-url", default=os.environ.get("CATO_EDGE_NEW_URL"),
                    help="the orchestrator's base URL (CATO_EDGE_NEW_URL)")
    ap.add_argument("--upstream-key-file", default=os.environ.get("CATO_EDGE_UPSTREAM_KEY_FILE"),
                    help="send this key to both stacks instead of the client's bearer")
    args = ap.parse_args(argv)
    key = Path(args.upstream_key_file) if args.upstream_key_file else None
    return serve(StaticUpstreams({"legacy": args.legacy_url, "new": args.new_url}, key), args)


if __name__ == "__main__":
    raise SystemExit(main())
