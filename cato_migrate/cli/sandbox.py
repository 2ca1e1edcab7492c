"""The local rehearsal sandbox (loopback only): moto, the AppConfig and DynamoDB layers, redis-server, the model simulator, a real LiteLLM proxy (the legacy stack) and the gateway; Ray and the orchestrator on demand."""
from __future__ import annotations

import typer

from cato_migrate.cli import _common, _render

app = typer.Typer(no_args_is_help=True)


def _settings():
    from cato_migrate.sandbox.manager import SandboxSettings

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
    from cato_migrate.sandbox.manager import sandbox_up

    data = sandbox_up(_settings())

    def human(c) -> None:
        c.print("sandbox already up" if data.get("already_up") else "[green]sandbox up[/green]")
        _components_table(c, data)

    _render.emit(_common.output(), data, human)


@app.command("down")
def down() -> None:
    """Stop exactly what `sandbox up` started, and nothing else."""
    from cato_migrate.sandbox.manager import sandbox_down

    data = sandbox_down(_settings())

    def human(c) -> None:
        c.print(f"stopped: {_render.esc(', '.join(data.get('stopped', [])) or 'nothing')}")
        for s in data.get("skipped", []):
            c.print(f"left alone: {_render.esc(s['name'])} ({_render.esc(s['reason'])})")

    _render.emit(_common.output(), data, human)


@app.command("status")
def status() -> None:
    """Each component's URL, pid and live health."""
    from cato_migrate.sandbox.manager import sandbox_status

    data = sandbox_status(_settings())

    def human(c) -> None:
        c.print("sandbox [green]up[/green]" if data.get("up") else "sandbox [yellow]not up[/yellow] (run: cato-migrate sandbox up)")
        _components_table(c, data)

    _render.emit(_common.output(), data, human)
