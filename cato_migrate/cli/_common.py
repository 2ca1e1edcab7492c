"""What every verb shares: global options, settings, confirmation and the lock."""
from __future__ import annotations

import shlex
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import typer

from cato_migrate.errors import BadInput, ExternalError, Unverified


@dataclass
class Globals:
    env: str | None = None
    output: str | None = None
    yes: bool | None = None


GLOBALS = Globals()


def settings():
    from cato_migrate.settings import load_settings

    return load_settings(env=GLOBALS.env, output=GLOBALS.output, yes=GLOBALS.yes)


def output() -> str:
    return GLOBALS.output or settings().output


def command_line() -> str:
    return "cato-migrate " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def require_reason(force: bool, reason: str | None) -> str:
    if force and not (reason and reason.strip()):
        raise BadInput("--force needs --reason TEXT (it goes in the audit log); nothing was changed")
    return (reason or "").strip()


def confirm_production(s, what: str) -> None:
    if s.env != "production" or s.yes:
        return
    if not sys.stdin.isatty():
        raise BadInput(f"{what} in production needs confirmation; pass --yes (or CATO_YES=1) when not interactive")
    typed = typer.prompt(f"{what} in PRODUCTION. Type 'production' to go on")
    if typed.strip() != "production":
        raise BadInput("not confirmed; nothing was changed")


@contextmanager
def mutating(what: str, *, force: bool = False, reason: str = "", preempt: bool = False, progress=None):
    """Confirm (production), take the lock (or preempt it), yield a RunContext, release."""
    from cato_migrate.cli import _render
    from cato_migrate.core.fencing import attach_lease
    from cato_migrate.core.lock import LeaseKeeper
    from cato_migrate.wiring import make_context

    s = settings()
    confirm_production(s, what)
    ctx = make_context(s, force=force, reason=reason, progress=progress or _render.progress)
    keeper = LeaseKeeper(ctx.store, ctx.clock, env=s.env, actor=ctx.actor, command=command_line(),
                         ttl=s.lock_ttl_seconds, progress=ctx.progress)
    keeper.acquire(preempt=preempt, reason=reason)
    attach_lease(ctx, keeper)
    if ctx.notify is not None:
        ctx.notify(keeper.lease)  # a preemption/takeover it audited is an event
    try:
        yield ctx
    except Unverified as exc:
        if ctx.notify is not None:
            ctx.notify(exc)  # exit 5 is an event; queued before the lock goes
        raise
    except ExternalError as exc:
        # exit 4: say where the traffic flag stands now, read live, so nobody has to guess
        state = flag_state_now(ctx)
        exc.details = {**exc.details, "flag_now": state}
        exc.message = f"{exc.message}; the flag now: {state}"
        raise
    finally:
        keeper.release()
        if ctx.notify is not None:
            from cato_migrate.adapters.outbox import spawn_flush

            spawn_flush(s)  # detached: a receiver that is down never holds this command up


def flag_state_now(ctx) -> str:
    from cato_migrate.errors import CatoError

    try:
        from cato_migrate.core.traffic import flag_status

        st = flag_status(ctx.services.traffic_flag())
    except CatoError as exc:
        return f"could not be read ({exc.message[:160]}); run `cato-migrate canary status`"
    dep = f", deployment #{st.deployment.number} {st.deployment_state}" if st.deployment else ""
    return f"serves {st.served_percentage}% (configured {st.configured_percentage}%{dep})"


def reading():
    """A RunContext for read-only verbs (no lock, no confirmation)."""
    from cato_migrate.wiring import make_context

    return make_context(settings())
