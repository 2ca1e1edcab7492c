"""Model simulator: one aiohttp server that speaks the three inference APIs the orchestrator
uses (OpenAI/vLLM, Bedrock Converse, SageMaker), with deterministic, context-only answers and
configurable latency and faults per tier::

    python -m cato_sandbox.model_simulator --host 127.0.0.1 --port 8100 [--seed 7]

then ``boto3.client("bedrock-runtime", endpoint_url=SIM).converse(...)``,
``boto3.client("sagemaker-runtime", endpoint_url=SIM).invoke_endpoint(...)`` or any OpenAI
client with ``base_url=SIM + "/v1"``. In-process: ``make_app(config)`` or ``SimulatorServer``.

Admin API (JSON): ``GET/PUT /admin/config`` (schema in :mod:`sim_config`; PUT merges and
re-seeds), ``POST /admin/reset`` (start-up config, counters zeroed), ``GET /admin/stats``.

Model ids map to tiers by name: "haiku" -> bedrock_haiku, "sonnet" -> bedrock_sonnet, "shadow" ->
shadow_self, anything else -> ``default_tier``. Names containing "shadow" also return hidden
states; names containing "nli" answer premise/hypothesis pairs. What is answered: see
:mod:`sim_responder`; wire formats: :mod:`sim_wire`.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
from typing import Any

from aiohttp import web

from cato_sandbox.sim_config import ConfigError
from cato_sandbox.sim_routes import add_routes
from cato_sandbox.sim_state import SIM, Simulator

__all__ = ["SIM", "Simulator", "SimulatorServer", "main", "make_app"]


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIM].config)


async def put_config(request: web.Request) -> web.Response:
    try:
        changes = json.loads(await request.read() or b"{}")
        return web.json_response(request.app[SIM].update(changes))
    except (ValueError, ConfigError) as exc:  # ConfigError is a ValueError; JSON errors too
        return web.json_response({"error": str(exc)}, status=400)


async def reset(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.reset()
    return web.json_response(sim.config)


async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIM].stats.as_json())


def make_app(config: dict[str, Any] | None = None) -> web.Application:
    """The simulator as an aiohttp application; `config` is merged over the defaults and is
    what `POST /admin/reset` goes back to. Raises ConfigError if it is invalid."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[SIM] = Simulator(config)
    add_routes(app)
    app.router.add_get("/admin/config", get_config)
    app.router.add_put("/admin/config", put_config)
    app.router.add_post("/admin/reset", reset)
    app.router.add_get("/admin/stats", stats)

    async def wake_hanging(app: web.Application) -> None:
        app[SIM].closing.set()  # requests hanging on a timeout fault answer now, not in 30 s

    app.on_shutdown.append(wake_hanging)
    return app


class SimulatorServer:
    """The simulator on its own event loop in a daemon thread, for tests and embedding:

        with SimulatorServer({"seed": 1}) as sim:
            boto3.client("bedrock-runtime", endpoint_url=sim.url, ...)
    """

    def __init__(self, config: dict[str, Any] | None = None, host: str = "127.0.0.1",
                 port: int = 0):
        self.app = make_app(config)
        self.host, self.port = host, port
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "SimulatorServer":
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._start())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="model-simulator", daemon=True)
        self._thread.start()
        ready.wait(30)
        if errors:
            raise errors[0]
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None
        self._loop.close()

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cato_sandbox.model_simulator",
                                 description="Local stand-in for vLLM, Bedrock and SageMaker.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8100)
    ap.add_argument("--seed", type=int, default=None, help="seed of the fault dice")
    ap.add_argument("--hidden-size", type=int, default=None, help="Shadow Self hidden state size")
    ap.add_argument("--config", default=None,
                    help="start-up config: a JSON object, or @file.json (same schema as PUT /admin/config)")
    args = ap.parse_args(argv)
    config: dict[str, Any] = {}
    if args.config:
        text = open(args.config[1:]).read() if args.config.startswith("@") else args.config
        config = json.loads(text)
    if args.seed is not None:
        config["seed"] = args.seed
    if args.hidden_size is not None:
        config["hidden_size"] = args.hidden_size
    try:
        app = make_app(config)
    except ConfigError as exc:
        print(f"model simulator: bad config: {exc}", file=sys.stderr)
        return 2
    print(f"model simulator listening on http://{args.host}:{args.port}", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None,
                shutdown_timeout=2.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
