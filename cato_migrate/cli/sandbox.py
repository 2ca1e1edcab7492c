"""The local rehearsal sandbox (loopback only): moto, the AppConfig and DynamoDB layers, redis-server, the model simulator, a real LiteLLM proxy (the legacy stack) and the gateway; Ray and the orchestrator on demand; drills (traffic, fault)."""
from __future__ import annotations

import typer

from cato_migrate.cli import _common, _render

app = typer.Typer(no_args_is_help=True)


def _settings():
    from cato_sandbox.manager import SandboxSettings

    s = _common.settings()
    return SandboxSettings(state_dir=s.work_dir, minute_seconds=s.sandbox_minute_seconds, ingress=s.sandbox_ingress)


def _components_table(c, data: dict) -> None:
    t = _render.table("component", "url", "pid", "healthy")
    for comp in data.get("components", []):
        t.add_row(_render.esc(comp["name"]), _render.esc(comp.get("url") or ""), str(comp.get("pid") or ""),
                  "[green]yes[/green]" if comp.get("healthy") else "[red]no[/red]")
    c.print(t)


@app.command("up")
def up() -> None:
    """Start the sandbox (idempotent); use it with --env local."""
    from cato_sandbox.manager import sandbox_up

    data = sandbox_up(_settings())
    from cato_sandbox.alarms import seed_for_sandbox  # the infrastructure's part: trigger alarms

    data["alarms"] = seed_for_sandbox(data, _common.settings().region)

    def human(c) -> None:
        c.print("sandbox already up" if data.get("already_up") else "[green]sandbox up[/green]")
        _components_table(c, data)

    _render.emit(_common.output(), data, human)


@app.command("down")
def down() -> None:
    """Stop exactly what `sandbox up` started, and nothing else."""
    from cato_sandbox.manager import sandbox_down

    data = sandbox_down(_settings())

    def human(c) -> None:
        c.print(f"stopped: {_render.esc(', '.join(data.get('stopped', [])) or 'nothing')}")
        for s in data.get("skipped", []):
            c.print(f"left alone: {_render.esc(s['name'])} ({_render.esc(s['reason'])})")

    _render.emit(_common.output(), data, human)


@app.command("status")
def status() -> None:
    """Each component's URL, pid and live health."""
    from cato_sandbox.manager import sandbox_status

    data = sandbox_status(_settings())

    def human(c) -> None:
        c.print("sandbox [green]up[/green]" if data.get("up") else "sandbox [yellow]not up[/yellow] (run: cato-migrate sandbox up)")
        _components_table(c, data)

    _render.emit(_common.output(), data, human)


@app.command("traffic")
def traffic(
    users: int = typer.Option(..., "--users", help="Sticky users sending (ids drill-user-0 .. N-1)."),
    rps: float = typer.Option(..., "--rps", help="Requests per second, all users together."),
    duration: str = typer.Option(..., "--for", help="How long to send, e.g. 30s, 2m (at most rps x for requests)."),
) -> None:
    """Drill: send OpenAI-style chat requests through the sandbox gateway and show what each stack served.

    Example: cato-migrate sandbox traffic --users 300 --rps 20 --for 30s
    """
    from cato_migrate.core.drill import parse_duration, summarize, validate_traffic
    from cato_sandbox.drill import send_traffic

    seconds = parse_duration(duration)
    total = validate_traffic(users, rps, seconds)
    samples, elapsed = send_traffic(_settings().state_dir, users, rps, seconds, total)
    summary = summarize(samples)
    data = {"users": users, "rps": rps, "duration_s": seconds, "elapsed_s": round(elapsed, 2),
            **summary.model_dump()}

    def human(c) -> None:
        c.print(f"sent {summary.sent} requests from {users} users in {elapsed:.1f}s"
                + (f"; [red]{summary.unrouted} got no answer from the gateway[/red]" if summary.unrouted else ""))
        t = _render.table("stack", "requests", "errors", "error rate", "users", "p50 ms", "p99 ms")
        for s in summary.stacks.values():
            rate = "-" if s.error_rate is None else f"{s.error_rate:.1%}"
            t.add_row(s.stack, str(s.requests), str(s.errors), rate, str(s.users),
                      "-" if s.p50_ms is None else f"{s.p50_ms:.0f}", "-" if s.p99_ms is None else f"{s.p99_ms:.0f}")
        c.print(t)
        c.print("statuses: " + ", ".join(f"{k}: {v}" for k, v in summary.statuses.items()))

    _render.emit(_common.output(), data, human)


@app.command("fault")
def fault(
    stack: str = typer.Option(None, "--stack", help="The one stack to fault: new or legacy."),
    error_rate: float = typer.Option(None, "--error-rate", help="Share of the stack's requests that fail (0..1)."),
    latency_ms: float = typer.Option(None, "--latency-ms", help="Latency added to each of the stack's model calls (ms)."),
    clear: bool = typer.Option(False, "--clear", help="Remove planted faults (of --stack only, if given)."),
) -> None:
    """Drill: plant (or clear) a fault on ONE stack, in the model simulator's routes that stack calls.

    Examples: cato-migrate sandbox fault --stack new --error-rate 0.2
              cato-migrate sandbox fault --stack new --latency-ms 2500
              cato-migrate sandbox fault --clear
    """
    from cato_migrate.core.drill import validate_fault
    from cato_sandbox.drill import plant_fault

    validate_fault(stack, error_rate, latency_ms, clear)
    data = plant_fault(_settings().state_dir, stack, error_rate, latency_ms, clear)

    def human(c) -> None:
        if clear:
            c.print(f"cleared the faults on {_render.esc(stack or 'both stacks')}")
        else:
            c.print(f"planted on the {_render.esc(stack)} stack: error rate {error_rate or 0:g}, "
                    f"+{latency_ms or 0:g} ms per model call")
        faults = data["route_faults"]
        c.print("simulator route faults now: " + (", ".join(
            f"{_render.esc(k)} (errors {v['error_rate']:g}, +{v['latency_ms']:g} ms)" for k, v in faults.items())
            or "none"))

    _render.emit(_common.output(), data, human)
