"""What every verb shares: the invocation's state (typer's ctx.obj), settings, confirmation and the lock.

The app callback (cli/app.py) fills one `CliState` per invocation and click keeps it on the context
(`ctx.obj`); the helpers here find it through click's current context, so verbs stay parse -> core ->
render. A test passes its own (`main(argv, obj=CliState(...))`, or CliRunner's `obj=`) to inject a
console, settings or a RunContext factory (fakes, a SQLite store in a tmp dir): no module globals.
"""
from __future__ import annotations

import shlex
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

import typer

from cato_migrate.errors import BadInput, ExternalError, Unverified

if TYPE_CHECKING:
    from rich.console import Console

    from cato_migrate.core.context import RunContext
    from cato_migrate.settings import Settings


@dataclass
class CliState:
    """One invocation's global options and what a test may inject in place of the real thing."""

    env: Optional[str] = None      # --env / CATO_ENV
    output: Optional[str] = None   # --output / CATO_OUTPUT
    yes: Optional[bool] = None     # --yes / CATO_YES
    out: Optional[Console] = None  # stdout console; None: one made on first use
    err: Optional[Console] = None  # stderr console (progress, errors)
    settings: Optional[Settings] = None  # None: load_settings() with the options above
    context: Optional[Callable[..., RunContext]] = None  # None: wiring.make_context
    _loaded: Optional[tuple[tuple[Any, ...], Settings]] = field(default=None, repr=False)

    def load_settings(self) -> Settings:
        if self.settings is not None:
            return self.settings
        key = (self.env, self.output, self.yes)  # read once per invocation (report changes output first)
        if self._loaded is None or self._loaded[0] != key:
            from cato_migrate.settings import load_settings

            if self._loaded is None:
                warn_unknown_variables()
            self._loaded = (key, load_settings(env=self.env, output=self.output, yes=self.yes))
        return self._loaded[1]

    def make_context(self, settings: Settings, **kw: Any) -> RunContext:
        if self.context is not None:
            return self.context(settings, **kw)
        from cato_migrate import wiring  # looked up per call: tests may replace wiring.make_context

        return wiring.make_context(settings, **kw)


def warn_unknown_variables() -> None:
    """A mistyped CATO_* variable would otherwise be silently ignored; say so (once), but go on."""
    from cato_migrate.settings import unknown_env_vars

    unknown = unknown_env_vars()
    if unknown:
        sys.stderr.write(f"warning: ignoring unknown variable(s) {', '.join(unknown)} "
                         "(no cato-migrate setting has that name; see the README's settings)\n")


def state() -> CliState:
    """The running command's CliState (ctx.obj); defaults when no command runs (a unit test of the wiring)."""
    from typer._click.globals import get_current_context  # typer vendors click; this is its context stack

    ctx = get_current_context(silent=True)
    obj = ctx.find_object(CliState) if ctx is not None else None
    return obj if obj is not None else CliState()


def settings() -> Settings:
    return state().load_settings()


def output() -> str:
    st = state()
    return st.output or st.load_settings().output


def command_line() -> str:
    return "cato-migrate " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def require_reason(force: bool, reason: str | None) -> str:
    if force and not (reason and reason.strip()):
        raise BadInput("--force needs --reason TEXT (it goes in the audit log); nothing was changed")
    return (reason or "").strip()


def confirm_production(s: Settings, what: str) -> None:
    if s.env != "production" or s.yes:
        return
    if not sys.stdin.isatty():
        raise BadInput(f"{what} in production needs confirmation; pass --yes (or CATO_YES=1) when not interactive")
    typed = typer.prompt(f"{what} in PRODUCTION. Type 'production' to go on")
    if typed.strip() != "production":
        raise BadInput("not confirmed; nothing was changed")


@contextmanager
def mutating(what: str, *, force: bool = False, reason: str = "", preempt: bool = False,
             progress: Callable[[str], None] | None = None) -> Iterator[RunContext]:
    """Confirm (production), take the lock (or preempt it), yield a RunContext, release."""
    from cato_migrate.cli import _render
    from cato_migrate.core.fencing import attach_lease
    from cato_migrate.core.lock import LeaseKeeper

    st = state()
    s = st.load_settings()
    confirm_production(s, what)
    # bound to this command's console: progress also comes from the lease keeper's heartbeat thread
    ctx = st.make_context(s, force=force, reason=reason, progress=progress or partial(_render.progress, st=st))
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
        flag_now = flag_state_now(ctx)
        exc.details = {**exc.details, "flag_now": flag_now}
        exc.message = f"{exc.message}; the flag now: {flag_now}"
        raise
    finally:
        keeper.release()
        if ctx.notify is not None:
            from cato_migrate.adapters.outbox import spawn_flush

            spawn_flush(s)  # detached: a receiver that is down never holds this command up


def flag_state_now(ctx: RunContext) -> str:
    from cato_migrate.errors import CatoError

    try:
        from cato_migrate.core.traffic import flag_status

        st = flag_status(ctx.services.traffic_flag())
    except CatoError as exc:
        return f"could not be read ({exc.message[:160]}); run `cato-migrate canary status`"
    dep = f", deployment #{st.deployment.number} {st.deployment_state}" if st.deployment else ""
    return f"serves {st.served_percentage}% (configured {st.configured_percentage}%{dep})"


def reading() -> RunContext:
    """A RunContext for read-only verbs (no lock, no confirmation)."""
    st = state()
    return st.make_context(st.load_settings())
