"""The only printer. People get rich tables on stdout; scripts get `--output json`.

Progress and errors go to stderr so stdout stays parseable. The consoles are the running command's
(cli/_common.CliState: a test injects its own); rich itself is imported on first print, not for --help.
"""
from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from cato_migrate.cli._common import CliState
    from cato_migrate.errors import CatoError

STATUS_STYLE = {
    "pass": "green", "done": "green", "resumed": "green", "skipped": "dim", "finished": "green",
    "fail": "red", "failed": "red", "unverified": "red",
    "waiting": "yellow", "planned": "cyan", "running": "yellow", "pending": "dim",
    "not_implemented": "magenta", "attested": "green", "started": "yellow",
    "clear": "green", "fired": "red", "unmeasured": "yellow", "not_monitored": "magenta",
}


def styled(status: str) -> str:
    style = STATUS_STYLE.get(status, "")
    label = status.replace("_", " ")
    return f"[{style}]{label}[/{style}]" if style else label


def esc(text: object) -> str:
    """User text (reasons, command lines, ids, names) is never read as rich markup."""
    from rich.markup import escape

    return escape(str(text))


def clip(text: str, width: int) -> str:
    """One line of at most `width` characters for a table cell; --output json keeps the whole text."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _state(st: CliState | None) -> CliState:
    from cato_migrate.cli._common import state

    return st if st is not None else state()


def out(st: CliState | None = None) -> Console:
    """stdout's console: the injected one, else one made (and kept on the state) on first use."""
    st = _state(st)
    if st.out is None:
        from rich.console import Console

        st.out = Console(highlight=False, soft_wrap=True)
    return st.out


def err(st: CliState | None = None) -> Console:
    st = _state(st)
    if st.err is None:
        from rich.console import Console

        st.err = Console(stderr=True, highlight=False, soft_wrap=True)
    return st.err


def _write_json(data: Any, st: CliState | None = None) -> None:
    st = _state(st)
    f = st.out.file if st.out is not None else sys.stdout  # an injected console captures json too
    f.write(json.dumps(data, indent=2, default=str) + "\n")
    f.flush()


def emit(output: str, data: Any, human: Callable[[Console], None]) -> None:
    if output == "json":
        _write_json(data)
    else:
        human(out())


def table(*columns: str, title: str | None = None) -> Table:
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    return t


def progress(message: str, st: CliState | None = None) -> None:
    err(st).print(f"[dim]…[/dim] {esc(message)}")  # progress text quotes names, URLs and vendor messages


def error(output: str, exc: CatoError, st: CliState | None = None) -> None:
    """An error the command ended with; `st`: the invocation's state (main() calls this after it ends)."""
    if output == "json":
        _write_json(exc.to_dict(), st)
        return
    # Messages quote user text (reasons, ids, paths, a lock holder's command line): never markup.
    console = err(st)
    console.print(f"[bold red]error:[/bold red] {esc(exc.message)}")
    if exc.hint:
        console.print(f"[bold]next:[/bold] {esc(exc.hint)}")
