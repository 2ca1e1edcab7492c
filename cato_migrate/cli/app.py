"""The `cato-migrate` command. Verbs live one per file; heavy imports happen inside them."""
from __future__ import annotations

import sys
from typing import Any, Optional

import typer
from typer import _click  # typer's vendored click: its Context is what a group's invoke() receives
from typer.core import TyperGroup

from cato_migrate.cli import _common
from cato_migrate.errors import EXIT_CODES_HELP

HELP = f"""Run Cato's LiteLLM -> vLLM/Ray Serve/Bedrock migration runbook: executable,
resumable steps, exit criteria, AppConfig traffic shifts and rollback.

{EXIT_CODES_HELP}"""

PROG = "cato-migrate"
INTERRUPTED = "interrupted; run `cato-migrate status` to see where things stand"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


class _Interrupted(Exception):
    """Ctrl-C, carried past typer/click (which would turn it into a silent exit or an 'Aborted!')."""


class _Root(TyperGroup):
    def invoke(self, ctx: _click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Interrupted() from exc


# add_completion: `--install-completion` / `--show-completion` (typer's; they import nothing heavy).
app = typer.Typer(cls=_Root, help=HELP, no_args_is_help=True, add_completion=True, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]}, pretty_exceptions_enable=False)


@app.callback()
def _globals(
    ctx: typer.Context,
    env: Optional[str] = typer.Option(None, "--env", envvar="CATO_ENV", help="local | staging | production."),
    output: Optional[str] = typer.Option(None, "--output", "-o", envvar="CATO_OUTPUT", help="table | json (report also: html)."),
    yes: Optional[bool] = typer.Option(None, "--yes", "-y", envvar="CATO_YES", help="Do not ask for confirmation (production)."),
) -> None:
    from cato_migrate.errors import BadInput

    if env is not None and env not in ("local", "staging", "production"):
        raise BadInput(f"--env must be local, staging or production, got {env!r}")
    # html is a page only `report` writes; any other verb would silently print a table instead
    if output is not None and output not in ("table", "json") and not (output == "html" and ctx.invoked_subcommand == "report"):
        raise BadInput(f"--output must be table or json, got {output!r}"
                       + (" (html: only `cato-migrate report --output html --out FILE`)" if output == "html" else ""))
    st = ctx.ensure_object(_common.CliState)  # main() (or a test) may have passed one in: keep its injections
    st.env, st.output, st.yes = env, output, yes
    # Unknown CATO_* variables are warned about where settings are first read (CliState.load_settings),
    # so that `cato-migrate phase --help` does not load the settings model.


def _register() -> None:
    from cato_migrate.cli import (announce, attest, canary, decommission, doctor, eval, history, lock, notify,
                                  orchestrator, phase, report, rollback, sandbox, state, status, validate)

    app.command("status", help=status.__doc__)(status.status)
    app.add_typer(phase.app, name="phase", help=phase.__doc__)
    app.command("validate", help=validate.__doc__)(validate.validate)
    app.add_typer(canary.app, name="canary", help=canary.__doc__)
    app.command("rollback", help=rollback.__doc__)(rollback.rollback)
    app.command("decommission", help=decommission.__doc__)(decommission.decommission)
    app.command("history", help=history.__doc__)(history.history)
    app.add_typer(lock.app, name="lock", help=lock.__doc__)
    app.command("attest", help=attest.__doc__)(attest.attest)
    app.add_typer(sandbox.app, name="sandbox", help=sandbox.__doc__)
    app.add_typer(orchestrator.app, name="orchestrator", help=orchestrator.__doc__)
    app.add_typer(eval.app, name="eval", help=eval.__doc__)
    app.command("doctor", help=doctor.__doc__)(doctor.doctor)
    app.add_typer(notify.app, name="notify", help=notify.__doc__)
    app.command("announce", help=announce.__doc__)(announce.announce)
    app.add_typer(state.app, name="state", help=state.__doc__)
    app.command("report", help=report.__doc__)(report.report)
    from cato_migrate.cli import cost

    app.add_typer(cost.app, name="cost", help=cost.__doc__)


_register()


_VALUED = {"--env": "env", "--output": "output", "-o": "output"}
_FLAGS = {"--yes": "yes", "-y": "yes"}


def hoist_globals(argv: list[str]) -> list[str]:
    """Accept global options anywhere (`canary status --output json`), like kubectl does."""
    head, rest, i = [], [], 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest.extend(argv[i:])
            break
        name, eq, val = a.partition("=")
        if name in _VALUED and (eq or i + 1 < len(argv)):
            head += [name, val] if eq else [name, argv[i + 1]]
            i += 1 if eq else 2
            continue
        if a in _FLAGS:
            head.append(a)
        else:
            rest.append(a)
        i += 1
    return head + rest


def main(argv: list[str] | None = None, obj: _common.CliState | None = None) -> int:
    """Run one command; `obj`: the invocation's state (ctx.obj), where a test injects a console,
    settings or a RunContext factory. Errors are rendered here, after typer is done."""
    from cato_migrate.errors import CatoError

    argv = hoist_globals(list(sys.argv[1:] if argv is None else argv))
    st = obj if obj is not None else _common.CliState()
    try:
        rv = app(args=argv, prog_name=PROG, standalone_mode=False, obj=st)
    except (_Interrupted, KeyboardInterrupt):
        sys.stderr.write(f"\n{INTERRUPTED}\n")
        return EXIT_INTERRUPTED
    except CatoError as exc:
        from cato_migrate.cli import _render

        _render.error(st.output or _output_from_env(), exc, st)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:  # typer's --show-completion / --install-completion exit this way
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except typer.Abort:
        sys.stderr.write("aborted; nothing was changed\n")
        return 2
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # click usage errors (typer vendors click)
            exc.show()
            return 2
        raise
    return rv if isinstance(rv, int) else 0


def _output_from_env() -> str:
    import os

    return "json" if os.environ.get("CATO_OUTPUT") == "json" else "table"


def entry() -> None:
    import os

    # On its first model pydantic reads every installed distribution's entry points looking for
    # plugins (20-30 ms of each start-up here); this CLI uses none. A caller's own setting wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    sys.exit(main())
