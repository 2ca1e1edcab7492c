"""The orchestrator: install it on the environment, and check it works end to end."""
from __future__ import annotations

import time

import typer

from cato_migrate.cli import _common, _render

app = typer.Typer(no_args_is_help=True)


@app.command("install")
def install() -> None:
    """Start a local Ray cluster (sandbox component), deploy the Serve app, wait until healthy.

    Example: cato-migrate orchestrator install --env local
    """
    from cato_migrate.errors import BadInput

    s = _common.settings()
    if s.env != "local":
        raise BadInput(f"orchestrator install on {s.env} (KubeRay RayService on EKS) is not implemented yet; "
                       "nothing was changed", hint="use --env local to install it on the sandbox")
    from cato_migrate.sandbox.manager import sandbox_add
    from cato_migrate.cli.sandbox import _settings as sandbox_settings

    t0 = time.monotonic()
    with _common.mutating("orchestrator install") as ctx:
        sb = sandbox_settings()
        ray = sandbox_add(sb, "ray")
        orch = sandbox_add(sb, "orchestrator")
        ctx.audit("orchestrator.install", "orchestrator", "", url=orch["url"], ray=ray["url"],
                  already_up=orch["already_up"])
        ctx.journal("orchestrator.install", "finished", evidence={"url": orch["url"], "ray": ray["url"]})
    data = {"url": orch["url"], "ray": ray["url"], "already_up": orch["already_up"],
            "seconds": round(time.monotonic() - t0, 1)}
    _render.emit(_common.output(), data, lambda c: c.print(
        f"[green]ok[/green] orchestrator {'already ' if orch['already_up'] else ''}serving on {orch['url']} "
        f"(Ray at {ray['url']}; {data['seconds']}s)"))


@app.command("check")
def check() -> None:
    """Probe health, routing, context, circuit breaker and cache; exit 1 if any fails."""
    from cato_migrate.core import probes

    ctx = _common.reading()
    api = ctx.services.orchestrator_api()
    results = [probes.probe_health(api), probes.probe_routing(api), probes.probe_context(api)]
    try:
        faults = ctx.services.fault_injector()
        results.append(probes.probe_breaker(api, faults))
    except Exception as exc:  # no simulator: say so rather than pass
        results.append(probes.ProbeResult("breaker", False, f"could not plant a backend fault: {exc}"))
    results.append(probes.probe_cache(api))
    ok = all(r.ok for r in results)
    data = {"ok": ok, "probes": [r.__dict__ for r in results]}

    def human(c) -> None:
        t = _render.table("probe", "result", "evidence")
        for r in results:
            t.add_row(r.name, _render.styled("pass" if r.ok else "fail"), r.message)
        c.print(t)

    _render.emit(_common.output(), data, human)
    if not ok:
        raise typer.Exit(1)
