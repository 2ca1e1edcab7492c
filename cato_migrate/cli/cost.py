"""What the stacks cost: the same request mix priced on both (`measure`), today's spend against the budget (`status`).

Examples: cato-migrate cost measure --requests 40;  cato-migrate cost status --output json
"""
from __future__ import annotations

import sys

import typer

from cato_migrate.cli import _common, _render

app = typer.Typer(no_args_is_help=True, help=__doc__)


def _stacks(s):
    """(legacy, new) chat clients: the sandbox's on --env local, else the URLs and key from settings."""
    from cato_migrate.adapters.cost_http import LegacyChat, OrchestratorChat
    from cato_migrate.errors import BadInput
    from cato_migrate.wiring import environment_profile, legacy_url, orchestrator_api_key, orchestrator_url

    legacy = legacy_url(s)
    new = orchestrator_url(s)
    key = orchestrator_api_key(s)
    missing = [n for n, v in (("legacy_url (CATO_LEGACY_URL)", legacy), ("orchestrator_url (CATO_ORCHESTRATOR_URL)", new),
                              ("orchestrator_api_key (CATO_ORCHESTRATOR_API_KEY)", key)) if not v]
    if missing:
        raise BadInput(f"cost measure needs {', '.join(missing)} for {s.env}; nothing was sent",
                       hint=environment_profile(s).start_hint or f"set them under [environments.{s.env}] in cato-migrate.toml")
    return LegacyChat(legacy, key), OrchestratorChat(new, key)


def _confirm_spend(s, requests: int) -> None:
    """Outside the sandbox the requests reach real Bedrock and SageMaker: they cost money."""
    from cato_migrate.errors import BadInput
    from cato_migrate.wiring import environment_profile

    if not environment_profile(s).model_calls_cost_money or s.yes:
        return
    what = f"cost measure sends {requests} requests to each stack in {s.env} (real model calls, real money)"
    if not sys.stdin.isatty():
        raise BadInput(f"{what}; pass --yes to go on", hint="e.g. cato-migrate cost measure --requests 40 --yes")
    if not typer.confirm(f"{what}. Go on?"):
        raise BadInput("not confirmed; nothing was sent")


def measure(
    requests: int = typer.Option(40, "--requests", "-n", min=1, max=10_000, help="Requests sent to EACH stack (the mix: cato_migrate/core/cost_mix.py)."),
) -> None:
    """Send the same request mix to LiteLLM and the orchestrator, price both, journal cost.comparison."""
    from cato_migrate.core.cost_measure import measure as run
    from cato_migrate.core.price_loader import load_prices

    s = _common.settings()
    table = load_prices(s.pricing_file)
    legacy, new = _stacks(s)
    _confirm_spend(s, requests)
    legacy.check()
    new.check()  # a stack that is down: exit 4 before the lock, nothing journaled
    with _common.mutating("cost measure") as ctx:
        ev = run(ctx, legacy, new, table, requests, progress=ctx.progress)

    def human(c) -> None:
        t = _render.table("stack", "tier / model", "requests", "input tok", "output tok", "USD",
                          title=f"cost over {requests} requests per stack ({ev['mix']['name']}, prices of "
                                f"{ev['prices']['taken_on']})")
        for name, row in ev["legacy"]["by_model"].items():
            t.add_row("legacy", _render.esc(name), str(row["requests"]), str(row["input_tokens"]),
                      str(row["output_tokens"]), f"{row['usd']:.6f}")
        for name, row in ev["new"]["by_tier"].items():
            hits = f" ({row['cache_hits']} cached)" if row["cache_hits"] else ""
            t.add_row("new", _render.esc(name), f"{row['requests']}{hits}", str(row["input_tokens"]),
                      str(row["output_tokens"]), f"{row['usd']:.6f}")
        c.print(t)
        lg, nw = ev["legacy"], ev["new"]
        c.print(f"legacy ${lg['total_usd']:.6f} (${lg['per_1k_requests_usd']:.4f} per 1,000), from {lg['source']}")
        c.print(f"new    ${nw['total_usd']:.6f} (${nw['per_1k_requests_usd']:.4f} per 1,000); cache saved "
                f"${nw['saved_usd']:.6f} on {nw['cache_hits']} hits")
        eff = ev["efficiency"]
        c.print(f"efficiency {eff:+.1%} (new/legacy - 1; negative is cheaper), journaled as cost.comparison"
                if eff is not None else "efficiency [yellow]not measured[/yellow]: some answers had no price")

    _render.emit(_common.output(), {"env": s.env, **ev}, human)


def status() -> None:
    """Today's spend of the new stack against cost_daily_budget_usd; over it: a warning and a budget.exceeded notification."""
    from cato_migrate.adapters.cost_http import read_spend
    from cato_migrate.core.cost_measure import budget_status

    ctx = _common.reading()
    s = ctx.settings
    v = budget_status(ctx, lambda: read_spend(*ctx.services.spend_sources()), s.cost_daily_budget_usd)

    def human(c) -> None:
        style = {"exceeded": "red", "within": "green", "unmeasured": "yellow"}.get(v.status, "")
        label = f"[{style}]{v.status.replace('_', ' ')}[/{style}]" if style else v.status.replace("_", " ")
        c.print(f"cost {label}: {_render.esc(v.message)}")
        c.print(f"[dim]source: {_render.esc(v.source)}[/dim]")

    _render.emit(_common.output(), {"env": ctx.env, **v.to_dict()}, human)
    if v.status == "exceeded":  # exit 1: a check failed (the budget); the notifier has the event
        _render.err().print("[bold yellow]warning:[/bold yellow] the daily cost budget is exceeded"
                            + (" (budget.exceeded notification queued)" if ctx.notify is not None else
                               " (no notification channel configured)"))
        raise typer.Exit(1)


app.command("measure")(measure)
app.command("status")(status)
