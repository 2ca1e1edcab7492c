"""The sandbox gateway: what clients talk to, splitting traffic by the AppConfig flag.

    python -m cato_migrate.sandbox.gateway --host 127.0.0.1 --port PORT --state-dir DIR \
        --appconfig-url URL [--application cato --environment local --profile orchestration
        --flag use_new_orchestrator --region us-east-1]

Like production's edge, it reads the `use_new_orchestrator` flag (polling appconfigdata, see
gateway_flag.py), buckets each user stickily (core/bucketing.py; the user id is the request's
`user` field, else the `x-session-id` header, else a random id) and forwards
`POST /v1/chat/completions` to the new orchestrator or to LiteLLM. The response carries
`x-cato-stack: legacy|new`.

There is no silent failover: if the stack a user is bucketed to is not running, the request
fails (503 when the stack is not recorded in the sandbox, 502 when it does not answer) and an
error is counted. Sending those users to the other stack would hide exactly the failure the
full rollback's safe order (legacy up and ready before the flag goes to 0) exists to prevent.

Each stack's URL is read from the sandbox state file by component name (`litellm`, and
`orchestrator`, which is started on demand), re-read whenever the file changes, so a stack that
is scaled to 0 and back on another port is found again. The legacy stack's master key is read
from <state-dir>/litellm.key and sent as its bearer token. `GET /metrics` is Prometheus text
(gateway_stats.py); `GET /healthz` says the split in force.

Test-only: CATO_GATEWAY_NEW_COMPONENT names another component to stand in for the new stack
(e.g. the model simulator's OpenAI API), so the split is testable without starting Ray.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import uuid
from pathlib import Path
import aiohttp
from aiohttp import web

from cato_migrate.core.bucketing import pick_stack
from cato_migrate.sandbox.gateway_flag import FlagPoller, FlagTarget
from cato_migrate.sandbox.gateway_stats import GatewayStats

log = logging.getLogger("cato.gateway")

STACK_HEADER = "x-cato-stack"
STATS = web.AppKey("stats", GatewayStats)
_HOP_BY_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade",
               "authorization", "proxy-authorization", "te", "trailer", "accept-encoding"}


class StateFileUpstreams:
    """Stack -> base URL, from the sandbox state file (re-read when it changes)."""

    def __init__(self, state_dir: Path, components: dict[str, str]):
        self.state_dir, self.components = Path(state_dir), components
        self._stamp: tuple[int, int] | None = None
        self._urls: dict[str, str] = {}

    def _refresh(self) -> None:
        path = self.state_dir / "sandbox.json"
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._stamp:
                return
            state = json.loads(path.read_text())
            self._urls = {c["name"]: c["url"] for c in state.get("components", [])}
            self._stamp = stamp
        except FileNotFoundError:
            self._urls, self._stamp = {}, None
        except (OSError, ValueError, KeyError, TypeError):
            pass  # mid-write or unreadable: keep what was read last; the next request retries

    def component(self, stack: str) -> str:
        return self.components[stack]

    def url(self, stack: str) -> str | None:
        self._refresh()
        return self._urls.get(self.components[stack])

    def headers(self, stack: str) -> dict[str, str]:
        # Both stacks take the same client key (the orchestrator accepts LiteLLM's keys), so a
        # client moved by the flag changes nothing.
        key = self.state_dir / "litellm.key"
        try:
            return {"Authorization": f"Bearer {key.read_text().strip()}"}
        except OSError:
            return {}


def _user_of(doc: dict, request: web.Request) -> str:
    user = doc.get("user") if isinstance(doc, dict) else None
    return str(user or request.headers.get("x-session-id") or uuid.uuid4().hex)


def _error(status: int, stack: str, message: str, kind: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "stack": stack}},
                             status=status, headers={STACK_HEADER: stack})


def build_app(upstreams, flag, *, timeout_s: float = 120.0, on_startup=None) -> web.Application:
    """The gateway app.

    `upstreams` has url(stack), component(stack), headers(stack) (StateFileUpstreams);
    `flag` has `percentage` and `errors` attributes (FlagPoller, or a stub in tests).
    """
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[STATS] = stats = GatewayStats()
    session_box: dict[str, aiohttp.ClientSession] = {}

    async def startup(app: web.Application) -> None:
        # one pooled session for all upstream calls (measured: far cheaper per request than httpx)
        session_box["s"] = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout_s, sock_connect=5),
            connector=aiohttp.TCPConnector(limit=0), trust_env=False, auto_decompress=False)
        if on_startup is not None:
            await on_startup(app, session_box["s"])

    async def cleanup(app: web.Application) -> None:
        await session_box["s"].close()

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            return web.json_response({"error": {"message": "request body is not JSON",
                                                "type": "invalid_request_error"}}, status=400)
        stack = pick_stack(_user_of(doc, request), flag.percentage)
        base = upstreams.url(stack)
        if not base:
            stats.refused(stack)
            return _error(503, stack, f"the {stack} stack ({upstreams.component(stack)}) is not running; "
                          "the gateway does not fail over to the other stack", "stack_unavailable")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers.update(upstreams.headers(stack))
        stats.begin(stack)
        outcome, resp = "error", None
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
                        except ConnectionResetError:  # the client went away: not the stack's failure
                            outcome = "ok"
                            return resp
                    await resp.write_eof()
                    outcome = "ok"
                    return resp
                payload = await up.read()
                outcome = "error" if up.status >= 500 else "ok"
                return web.Response(status=up.status, body=payload, content_type=ctype.split(";")[0],
                                    headers={STACK_HEADER: stack})
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            if resp is not None:  # the stream broke off after it began: the client sees it cut
                return resp
            return _error(502, stack, f"the {stack} stack ({upstreams.component(stack)} at {base}) "
                          f"failed: {type(exc).__name__}: {exc}", "stack_unreachable")
        finally:
            stats.end(stack, outcome)

    async def metrics(request: web.Request) -> web.Response:
        stats.flag_percentage, stats.flag_poll_errors = flag.percentage, flag.errors
        return web.Response(text=stats.exposition(), content_type="text/plain",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "percentage": flag.percentage,
                                  "stacks": {s: upstreams.url(s) for s in ("legacy", "new")}})

    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/chat/completions", chat)  # LiteLLM serves both; so does its stand-in
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="The sandbox gateway (traffic split by the AppConfig flag).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state-dir", required=True, help="sandbox state dir (sandbox.json names the stacks)")
    ap.add_argument("--appconfig-url", required=True, help="the sandbox's appconfigdata endpoint")
    ap.add_argument("--application", default="cato")
    ap.add_argument("--environment", default="local")
    ap.add_argument("--profile", default="orchestration")
    ap.add_argument("--flag", default="use_new_orchestrator")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--poll-interval", type=float, default=0.5)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    components = {"legacy": "litellm",
                  "new": os.environ.get("CATO_GATEWAY_NEW_COMPONENT") or "orchestrator"}
    upstreams = StateFileUpstreams(Path(args.state_dir), components)
    poller = FlagPoller(FlagTarget(args.appconfig_url, args.application, args.environment, args.profile,
                                   args.flag, args.region), interval_s=args.poll_interval)
    tasks: list[asyncio.Task] = []

    async def start_polling(app: web.Application, session: aiohttp.ClientSession) -> None:
        tasks.append(asyncio.get_running_loop().create_task(poller.run(session)))

    app = build_app(upstreams, poller, on_startup=start_polling)

    async def stop_polling(app: web.Application) -> None:
        for t in tasks:
            t.cancel()
    app.on_shutdown.append(stop_polling)
    log.info("gateway on http://%s:%s: legacy=%s new=%s flag %s/%s/%s:%s", args.host, args.port,
             components["legacy"], components["new"], args.application, args.environment,
             args.profile, args.flag)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
