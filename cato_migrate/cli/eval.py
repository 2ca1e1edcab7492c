"""Offline evaluations of the orchestrator's routing and semantic cache on labelled files."""
from __future__ import annotations

from pathlib import Path

import typer

from cato_migrate.cli import _common, _render

app = typer.Typer(no_args_is_help=True)


def _existing(path: Path) -> Path:
    from cato_migrate.errors import BadInput

    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    return path


def _about(path: Path, exc: Exception) -> str:
    text = str(exc)
    return text if str(path) in text else f"{path}: {text}"


@app.command("routing")
def routing(cases: Path = typer.Option(..., "--cases", help='JSONL lines {"query", "domain", "expected_tier"}.')) -> None:
    """Accuracy, confusion table and p99 decision time of the complexity router.

    Example: cato-migrate eval routing --cases evals/routing_cases.jsonl
    """
    from cato_migrate.errors import BadInput
    from orchestrator.evals.routing_eval import evaluate_routing

    try:
        result = evaluate_routing(_existing(cases))
    except ValueError as exc:
        raise BadInput(_about(cases, exc)) from exc

    def human(c) -> None:
        c.print(f"[bold]accuracy[/bold] {result['accuracy']:.1%} on {result['n']} queries   "
                f"[bold]decision[/bold] p50 {result['p50_decision_ms']:.3f} ms, p99 {result['p99_decision_ms']:.3f} ms")
        tiers = sorted({*result["confusion"], *(p for row in result["confusion"].values() for p in row)})
        t = _render.table("expected \\ predicted", *(_render.esc(p) for p in tiers))  # tiers come from the file
        for exp in tiers:
            row = result["confusion"].get(exp, {})
            t.add_row(_render.esc(exp), *(str(row.get(p, 0)) for p in tiers))
        c.print(t)
        for m in result.get("mistakes", [])[:5]:
            c.print(f"[dim]miss:[/dim] {_render.esc(m)}")

    _render.emit(_common.output(), result, human)


@app.command("cache")
def cache(pairs: Path = typer.Option(..., "--pairs", help='JSONL lines {"first", "second", "same_answer"}.')) -> None:
    """Paraphrase hit rate, near-miss false-hit rate and lookup p99 of the semantic cache.

    Example: cato-migrate eval cache --pairs evals/cache_pairs.jsonl
    """
    from cato_migrate.errors import BadInput, ExternalError
    from orchestrator.cache.embedder import EmbedderUnavailable
    from orchestrator.evals.cache_eval import evaluate_cache

    try:
        result = evaluate_cache(_existing(pairs))
    except EmbedderUnavailable as exc:
        raise ExternalError(f"the embedding model is not installed: {exc}", hint="run `make setup`") from exc
    except ValueError as exc:
        raise BadInput(_about(pairs, exc)) from exc

    def human(c) -> None:
        c.print(f"[bold]paraphrase hit rate[/bold] {result['paraphrase_hit_rate']:.1%}   "
                f"[bold]near-miss false hits[/bold] {result['near_miss_false_hit_rate']:.1%}   "
                f"[bold]lookup[/bold] p99 {result['p99_lookup_ms']:.2f} ms   (n={result['n']})")
        for f in result.get("failures", [])[:5]:
            c.print(f"[dim]{_render.esc(f)}[/dim]")

    _render.emit(_common.output(), result, human)
