"""The orchestrator's real Serve app (orchestrator/serve_app.py: its FastAPI routes, auth,
SSE streaming, /metrics) served over loopback HTTP by uvicorn, without a Ray cluster.

`@serve.ingress` turns the deployment's `self` into a dependency that asks Ray for the
replica's object (`serve.get_replica_context().servable_object`); here that one call is
answered with an instance built from the undecorated class. Everything behind the routes is
the real core, simulator, Redis and moto. Tests only; Ray itself is covered by
tests/cli/test_orchestrator_e2e.py.
"""
from __future__ import annotations

import asyncio
import socket
import threading
import time
import types


class ServeAppServer:
    """Context manager: `with ServeAppServer(config) as srv:` -> srv.url, srv.orch (the core)."""

    def __init__(self, config):
        self.config = config
        self.url = ""
        self.deployment = None

    def __enter__(self) -> "ServeAppServer":
        import ray.serve
        import uvicorn

        from orchestrator import serve_app

        cls = serve_app.OrchestratorDeployment.func_or_class
        user_cls = next(c for c in cls.__mro__[1:] if c.__name__ == "OrchestratorDeployment")
        self.deployment = object.__new__(user_cls)
        user_cls.__init__(self.deployment, serve_app._dump(self.config))
        self._saved = ray.serve.get_replica_context
        ray.serve.get_replica_context = lambda: types.SimpleNamespace(servable_object=self.deployment)

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(serve_app.api, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(sock),), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.__exit__(None, None, None)
                raise RuntimeError("uvicorn did not start the orchestrator app")
            time.sleep(0.02)
        self._wait_warm(deadline + 60)
        return self

    def _wait_warm(self, deadline: float) -> None:
        """Like Serve and the sandbox: nothing is sent before /healthz says the replica is warm."""
        import urllib.error
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            try:
                with opener.open(self.url + "/healthz", timeout=5):
                    return
            except urllib.error.HTTPError as exc:
                if exc.code != 503 or time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"the orchestrator app did not warm up: {exc.read()[:300]!r}") from exc
            time.sleep(0.05)

    async def _serve(self, sock) -> None:
        import asyncio

        self.loop = asyncio.get_running_loop()  # for tests that read the core's stores on its own loop
        try:
            await self._server.serve(sockets=[sock])
        finally:
            await self.deployment.orch.close()  # on the loop its HTTP sessions were opened on

    @property
    def orch(self):
        return self.deployment.orch

    def __exit__(self, *exc) -> None:
        import ray.serve

        self._server.should_exit = True
        self._thread.join(10)
        ray.serve.get_replica_context = self._saved
        # Serve awaits the deployment's async __del__ on shutdown; here the core was closed on its
        # own loop above, so garbage collection must not call it again (an un-awaited coroutine).
        cls = type(self.deployment)
        self.deployment.__class__ = type(cls.__name__, (cls,), {"__del__": lambda self: None})


def serve_on_a_sandbox(state_dir, **config):
    """A module fixture's body: a sandbox (moto, redis, simulator) in `state_dir`, the Serve app on
    it with `config` (admin_token, api_keys, ...) over loopback HTTP; yields the server, then stops
    both. AWS credentials for moto are set for the session, as the fixtures always have."""
    import os

    from cato_sandbox.manager import SandboxSettings, load_sandbox_state, sandbox_down, sandbox_up
    from cato_sandbox.orchestrator_config import sandbox_config

    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    settings = SandboxSettings(state_dir=state_dir, components=["moto", "redis", "simulator"])
    sandbox_up(settings)
    try:
        with ServeAppServer(sandbox_config(load_sandbox_state(settings.state_dir), **config)) as srv:
            yield srv
    finally:
        sandbox_down(settings)
