"""What the local sandbox runs: one `Component` per process, in an ordered REGISTRY.

Adding a component means appending one `Component(...)` to REGISTRY (or calling `register`):
a name, how to build its command line from a `LaunchContext` (its port, the settings, the URLs
of the components already started), how to tell it is healthy, and what it depends on. The
manager starts components in registry order (dependencies first), on 127.0.0.1 and free ports.

Health checks (health.py) use raw sockets and urllib so that importing this module stays cheap (no
boto3, redis or moto imports).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cato_migrate.errors import BadInput
from cato_sandbox.health import HOST, http_answers, redis_ping, tcp_open
from cato_sandbox.ingress import ingress_env



@dataclass(frozen=True)
class LaunchContext:
    """What a component's `argv` may use: its own port, the settings, started components' URLs."""

    port: int
    settings: Any  # SandboxSettings (kept untyped here to avoid an import cycle)
    urls: dict[str, str]
    state_dir: Path

    @property
    def python(self) -> str:
        return sys.executable

    def url_of(self, name: str) -> str:
        try:
            return self.urls[name]
        except KeyError:
            raise BadInput(f"sandbox component needs {name!r}, which has not been started") from None


def http_url(port: int) -> str:
    return f"http://{HOST}:{port}"


@dataclass(frozen=True)
class Component:
    """One sandbox process.

    argv:        LaunchContext -> command line.
    health:      (url, port) -> True once it serves; called repeatedly, must be quick.
    url:         port -> the URL recorded in the state file for clients to use.
    depends_on:  names of components that must be started (and healthy) first.
    prerequisite: () -> None if it can run here, else a message saying what to install.
    health_timeout_s: overrides the settings' health timeout for slow starters.
    env:         extra environment variables for the process.
    """

    name: str
    description: str
    argv: Callable[[LaunchContext], list[str]]
    health: Callable[[str, int], bool]
    url: Callable[[int], str] = http_url
    depends_on: tuple[str, ...] = ()
    prerequisite: Callable[[], str | None] = field(default=lambda: None)
    health_timeout_s: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    env_for: Callable[[LaunchContext], dict[str, str]] | None = None  # environment that depends on the launch
    on_demand: bool = False  # started by a later command (`orchestrator install`), not by `sandbox up`


# --- the components -------------------------------------------------------------------------

def _moto_argv(ctx: LaunchContext) -> list[str]:
    # moto_server's own main, with DynamoDB Query reading one partition (see moto_main.py)
    return [ctx.python, "-m", "cato_sandbox.moto_main", "-H", HOST, "-p", str(ctx.port)]


def _moto_prereq() -> str | None:
    exe = Path(sys.executable).parent / "moto_server"
    if os.access(exe, os.X_OK) or (importlib.util.find_spec("moto")
                                   and importlib.util.find_spec("flask")):
        return None
    return "moto server is not installed: run `pip install 'moto[server]'` (or `make setup`)"


def _appconfig_argv(ctx: LaunchContext) -> list[str]:
    return [ctx.python, "-m", "cato_sandbox.appconfig_layer",
            "--host", HOST, "--port", str(ctx.port),
            "--moto-url", ctx.url_of("moto"),
            "--minute-seconds", repr(float(ctx.settings.minute_seconds))]


def _appconfig_prereq() -> str | None:
    if importlib.util.find_spec("cato_sandbox.appconfig_layer") is None:
        return ("the AppConfig deployment layer (cato_sandbox/appconfig_layer.py) is "
                "missing from this checkout: update the checkout or reinstall cato-migrate")
    return None


def _redis_argv(ctx: LaunchContext) -> list[str]:
    return [shutil.which("redis-server") or "redis-server", "--port", str(ctx.port),
            "--bind", HOST, "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", str(ctx.state_dir)]


def _redis_prereq() -> str | None:
    if shutil.which("redis-server") is None:
        return ("redis-server is not on PATH: run `apt-get install -y redis-server` "
                "(or `make setup`)")
    return None


def _simulator_argv(ctx: LaunchContext) -> list[str]:
    return [ctx.python, "-m", "cato_sandbox.model_simulator",
            "--host", HOST, "--port", str(ctx.port)]


def _simulator_prereq() -> str | None:
    if importlib.util.find_spec("aiohttp") is None:
        return "the model simulator needs aiohttp: run `pip install aiohttp` (or `make setup`)"
    return None


def _ray_argv(ctx: LaunchContext) -> list[str]:
    ray = Path(ctx.python).parent / "ray"
    return [str(ray), "start", "--head", "--block", f"--port={ctx.port}", "--node-ip-address=127.0.0.1",
            "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"]


def _ray_prereq() -> str | None:
    if importlib.util.find_spec("ray") is None:
        return "Ray is not installed: run `make setup` (installs the orchestrator extra)"
    return None


def orchestrator_token(state_dir: Path) -> Path:
    """The sandbox orchestrator's admin token file (0600), created on first use."""
    path = Path(state_dir) / "orchestrator.token"
    if not path.exists():
        import secrets

        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
    return path


def _orchestrator_argv(ctx: LaunchContext) -> list[str]:
    return [ctx.python, "-m", "cato_sandbox.orchestrator_main", "--ray-address", ctx.url_of("ray"),
            "--port", str(ctx.port), "--state-dir", str(ctx.state_dir),
            "--admin-token-file", str(orchestrator_token(ctx.state_dir)),
            "--api-key-file", str(litellm_key(ctx.state_dir))]


# The legacy stack: a real LiteLLM proxy from its own virtualenv (never the product's .venv).
_REPO = Path(__file__).resolve().parents[1]
LITELLM_VENV = _REPO / ".venv-litellm"
LITELLM_CONFIG = _REPO / "config" / "litellm.yaml"
# Puts the master key (read from a 0600 file, so it is in neither argv nor sandbox.json) and the
# upstream URL into the environment config/litellm.yaml reads, then execs the proxy (same pid).
_LITELLM_LAUNCH = ("import os, sys; os.environ['LITELLM_MASTER_KEY'] = open(sys.argv[1]).read().strip(); "
                   "os.environ['CATO_LEGACY_API_BASE'] = sys.argv[2]; os.execv(sys.argv[3], sys.argv[3:])")


def litellm_key(state_dir: Path) -> Path:
    """The sandbox LiteLLM proxy's master key file (0600), created on first use."""
    path = Path(state_dir) / "litellm.key"
    if not path.exists():
        import secrets

        path.touch(mode=0o600)
        path.write_text("sk-" + secrets.token_hex(32))
    return path


def _litellm_argv(ctx: LaunchContext) -> list[str]:
    return [str(LITELLM_VENV / "bin" / "python"), "-c", _LITELLM_LAUNCH, str(litellm_key(ctx.state_dir)),
            ctx.url_of("simulator") + "/v1", str(LITELLM_VENV / "bin" / "litellm"),
            "--config", str(LITELLM_CONFIG), "--host", HOST, "--port", str(ctx.port), "--num_workers", "1"]


def _litellm_prereq() -> str | None:
    if not os.access(LITELLM_VENV / "bin" / "litellm", os.X_OK):
        return (f"the LiteLLM proxy (legacy stack) is not installed in {LITELLM_VENV}: run `make setup` "
                "(it builds that separate virtualenv)")
    return None


def _gateway_argv(ctx: LaunchContext) -> list[str]:
    from cato_migrate.settings import load_settings

    s = load_settings()  # the flag the CLI in this directory drives (cato-migrate.toml, CATO_*)
    return [ctx.python, "-m", "cato_sandbox.gateway", "--host", HOST, "--port", str(ctx.port),
            "--state-dir", str(ctx.state_dir), "--appconfig-url", ctx.url_of("appconfig"),
            "--application", s.appconfig_application, "--environment", s.appconfig_env_name,
            "--profile", s.appconfig_profile, "--flag", s.flag_name, "--region", s.region]


def _prometheus_argv(ctx: LaunchContext) -> list[str]:
    from cato_sandbox.prometheus_server import DIR_NAME, prometheus_argv, write_config, write_targets

    root = ctx.state_dir / DIR_NAME
    write_config(root)
    # The targets started so far; manager.write_state keeps them current as components come and go.
    write_targets(ctx.state_dir, {"components": [{"name": n, "url": u} for n, u in ctx.urls.items()]})
    return prometheus_argv(root, HOST, ctx.port)


def _prometheus_prereq() -> str | None:
    from cato_sandbox.prometheus_server import prometheus_prereq

    return prometheus_prereq()


REGISTRY: list[Component] = [
    Component(
        name="moto",
        description="moto server: local stand-in for the AWS APIs (AppConfig, DynamoDB, ...)",
        argv=_moto_argv,
        health=http_answers("/moto-api/"),
        prerequisite=_moto_prereq,
    ),
    Component(
        name="appconfig",
        description="AppConfig deployment layer (environments, strategies, deployments, "
                    "appconfigdata) in front of moto",
        argv=_appconfig_argv,
        health=http_answers("/healthz", ok=lambda code: code == 200),
        depends_on=("moto",),
        prerequisite=_appconfig_prereq,
    ),
    Component(
        name="redis",
        description="redis-server: working memory for the orchestrator",
        argv=_redis_argv,
        health=redis_ping,
        url=lambda port: f"redis://{HOST}:{port}",
        prerequisite=_redis_prereq,
    ),
    Component(
        name="simulator",
        description="model simulator: vLLM (OpenAI), Bedrock Converse and SageMaker APIs with "
                    "deterministic answers and configurable latency/faults",
        argv=_simulator_argv,
        health=http_answers("/ping", ok=lambda code: code == 200),
        prerequisite=_simulator_prereq,
    ),
    Component(
        name="ray",
        description="local Ray head node (on demand: `cato-migrate orchestrator install`)",
        argv=_ray_argv,
        health=tcp_open,
        url=lambda port: f"{HOST}:{port}",
        prerequisite=_ray_prereq,
        health_timeout_s=90.0,
        env={"RAY_USAGE_STATS_ENABLED": "0"},
        env_for=lambda ctx: ingress_env(ctx.settings.ingress, ctx.state_dir),
        on_demand=True,
    ),
    Component(
        name="orchestrator",
        description="the Cato orchestrator as a Ray Serve app (on demand: `cato-migrate orchestrator install`)",
        argv=_orchestrator_argv,
        health=http_answers("/healthz", ok=lambda code: code == 200),
        depends_on=("ray", "simulator", "redis", "moto"),
        prerequisite=_ray_prereq,
        health_timeout_s=180.0,
        env={"RAY_USAGE_STATS_ENABLED": "0"},
        env_for=lambda ctx: ingress_env(ctx.settings.ingress, ctx.state_dir),
        on_demand=True,
    ),
    Component(
        name="dynamodb",
        description="DynamoDB global-table layer in front of moto (replicas, cross-region replication "
                    "with a lag, pause/resume at /admin/replication)",
        argv=lambda ctx: [ctx.python, "-m", "cato_sandbox.dynamodb_layer", "--host", HOST,
                          "--port", str(ctx.port), "--moto-url", ctx.url_of("moto"), "--lag-ms", "50"],
        health=http_answers("/healthz", ok=lambda code: code == 200),
        depends_on=("moto",),
    ),
    Component(
        name="litellm",
        description="the legacy stack: a real LiteLLM proxy (.venv-litellm, config/litellm.yaml) "
                    "in front of the model simulator",
        argv=_litellm_argv,
        health=http_answers("/health/readiness", ok=lambda code: code == 200),
        depends_on=("simulator",),
        prerequisite=_litellm_prereq,
        health_timeout_s=120.0,  # cold start ~8-15 s; more on a busy 2-core machine
        env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "CATO_LEGACY_API_KEY": "sandbox",
             "LITELLM_TELEMETRY": "False"},
    ),
    Component(
        name="gateway",
        description="the gateway clients talk to: splits traffic between LiteLLM and the "
                    "orchestrator by the AppConfig flag (sticky per user; /metrics)",
        argv=_gateway_argv,
        health=http_answers("/healthz", ok=lambda code: code == 200),
        depends_on=("appconfig", "litellm"),
        prerequisite=_simulator_prereq,  # aiohttp
    ),
    Component(
        name="prometheus",
        description="a real Prometheus server scraping the gateway and the orchestrator every 1 s, "
                    "with the canary alerting rules (deploy/prometheus); data under <state_dir>/prometheus",
        argv=_prometheus_argv,
        health=http_answers("/-/ready", ok=lambda code: code == 200),
        depends_on=("gateway",),
        prerequisite=_prometheus_prereq,
    ),
]


def register(component: Component, registry: list[Component] | None = None) -> None:
    """Append a component to the registry (names must be unique)."""
    reg = REGISTRY if registry is None else registry
    if any(c.name == component.name for c in reg):
        raise BadInput(f"sandbox component {component.name!r} is already registered")
    reg.append(component)


def order_components(registry: list[Component], only: list[str] | None = None) -> list[Component]:
    """The components to start, dependencies first, otherwise in registry order.

    `only` selects a subset by name; the dependencies of what it selects are added. Unknown
    names, unknown dependencies and cycles are BadInput.
    """
    by_name = {c.name: c for c in registry}
    for c in registry:
        for dep in c.depends_on:
            if dep not in by_name:
                raise BadInput(f"sandbox component {c.name!r} depends on unknown {dep!r}")
    wanted = [c.name for c in registry if not c.on_demand] if only is None else list(only)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise BadInput(f"unknown sandbox component(s): {', '.join(unknown)}",
                       hint=f"known: {', '.join(by_name)}")
    selected: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name not in selected:
            selected.add(name)
            stack.extend(by_name[name].depends_on)
    ordered: list[Component] = []
    done: set[str] = set()
    pending = [c for c in registry if c.name in selected]
    while pending:
        ready = next((c for c in pending if all(d in done for d in c.depends_on)), None)
        if ready is None:
            raise BadInput("sandbox components depend on each other in a cycle: "
                           + ", ".join(c.name for c in pending))
        ordered.append(ready)
        done.add(ready.name)
        pending.remove(ready)
    return ordered
