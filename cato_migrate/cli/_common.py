"""What every verb shares: global options, settings, confirmation and the lock."""
from __future__ import annotations

import shlex
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import typer

from cato_migrate.errors import BadInput


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
    from cato_migrate.core.lock import LeaseKeeper
    from cato_migrate.wiring import make_context

    s = settings()
    confirm_production(s, what)
    ctx = make_context(s, force=force, reason=reason, progress=progress or _render.progress)
    keeper = LeaseKeeper(ctx.store, ctx.clock, env=s.env, actor=ctx.actor, command=command_line(),
                         ttl=s.lock_ttl_seconds)
    keeper.acquire(preempt=preempt, reason=reason)
    ctx.lease = keeper
    try:
        yield ctx
    finally:
        keeper.release()


def reading():
    """A RunContext for read-only verbs (no lock, no confirmation)."""
    from cato_migrate.wiring import make_context

    return make_context(settings())
