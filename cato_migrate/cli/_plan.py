"""How every `--dry-run` prints: what would happen, in order, and that nothing changed."""
from __future__ import annotations


def printer(result: dict):
    from cato_migrate.cli._render import esc

    def human(c) -> None:
        c.print("[bold]dry run[/bold]: nothing was changed")
        for i, line in enumerate(result.get("would", []), 1):
            style = "red" if line.startswith("REFUSE") else ""
            text = esc(line)
            c.print(f"  {i}. " + (f"[{style}]{text}[/{style}]" if style else text))
        c.print(esc(result.get("message", "")))

    return human
