"""The orchestrator: install it on the environment, and check it works end to end."""
from __future__ import annotations

import time

import typer

from cato_migrate.cli import _common, _render

app = typer.Typer(no_args_is_help=True)
ORCHESTRATOR_MANIFEST = "k8s/ray-serve/cato-orchestrator.yaml"


@app.command("install")
def install() -> None:
    """Apply the orchestrator's RayService and wait until it serves (local: Ray head + the Serve app).

    Example: cato-migrate orchestrator install --env local
    """
    from cato_migrate.core.engine import find_step, run_step_again
    from cato_migrate.wiring import orchestrator_url, ray_url

    s = _common.settings()
    t0 = time.monotonic()
    with _common.mutating("orchestrator install") as ctx:
        # The runbook's own deploy step (one install path: same apply, same verify), applied again even
        # when it is done, so the orchestrator comes back after a full rollback scaled it to 0.
        _, week, step = find_step(ctx, "k8s_apply", manifest=ORCHESTRATOR_MANIFEST)
        wl = ctx.services.workloads()
        before = wl.status(s.orchestrator_workload, s.workload_namespace)
        already = before.exists and before.desired > 0 and before.is_ready
        applied = run_step_again(ctx, week, step, key="orchestrator.install").evidence.get("applied", [])
        st = wl.status(s.orchestrator_workload, s.workload_namespace)
        url, ray = orchestrator_url(s), ray_url(s)
        ctx.audit("orchestrator.install", f"{s.workload_namespace}/{s.orchestrator_workload}", "", url=url,
                  applied=applied, already_up=already, step=step.id)
    data = {"url": url, "ray": ray, "already_up": already, "applied": applied, "workload": st.model_dump(),
            "seconds": round(time.monotonic() - t0, 1)}
    where = f" on {_render.esc(url)}" if url else ""
    _render.emit(_common.output(), data, lambda c: c.print(
        f"[green]ok[/green] orchestrator {'already ' if already else ''}serving{where} "
        f"({st.ready}/{st.desired} ready: {_render.esc(st.detail or st.kind)}; {data['seconds']}s)"))


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
            t.add_row(r.name, _render.styled("pass" if r.ok else "fail"), _render.esc(r.message))
        c.print(t)

    _render.emit(_common.output(), data, human)
    if not ok:
        raise typer.Exit(1)
