"""The only printer. People get rich tables on stdout; scripts get `--output json`.

Progress and errors go to stderr so stdout stays parseable.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

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
    return escape(str(text))


def clip(text: str, width: int) -> str:
    """One line of at most `width` characters for a table cell; --output json keeps the whole text."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def emit(output: str, data: Any, human: Callable[[Console], None]) -> None:
    if output == "json":
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        sys.stdout.flush()
    else:
        human(out)


def table(*columns: str, title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    return t


def progress(message: str) -> None:
    err.print(f"[dim]…[/dim] {esc(message)}")  # progress text quotes names, URLs and vendor messages


def error(output: str, exc) -> None:
    if output == "json":
        sys.stdout.write(json.dumps(exc.to_dict(), indent=2, default=str) + "\n")
        sys.stdout.flush()
        return
    # Messages quote user text (reasons, ids, paths, a lock holder's command line): never markup.
    err.print(f"[bold red]error:[/bold red] {esc(exc.message)}")
    if exc.hint:
        err.print(f"[bold]next:[/bold] {esc(exc.hint)}")
