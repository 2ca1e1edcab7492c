"""What the report's page draws, as data (pure): latency against concurrency per stack, the
traffic share over time, the cost per 1,000 requests per tier. No figure is invented: a chart
with nothing to draw carries the reason instead."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from cato_migrate.core.report import Charts, CostBar, Series
from cato_migrate.ports import Stack

if TYPE_CHECKING:  # report_rows is imported where used, as the report builds
    from cato_migrate.core.report_rows import Lookup

BENCH_STACKS = {"litellm": "legacy", "orchestrator": "new"}


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def charts(look: Lookup, bench: dict[str, Any] | None, bench_name: str = "") -> Charts:
    from cato_migrate.core.report_rows import COST_KEY

    latency, note = latency_series(look, bench, bench_name)
    traffic, tnote = traffic_series(look)
    bars, totals, cnote = cost_bars(look, COST_KEY)
    target = next((m.threshold.value for m in look.runbook.meta.success_metrics
                   if m.measure.source == "load_test_p99" and m.threshold is not None), None)
    return Charts(latency=latency, latency_target_ms=target, latency_note=note, traffic=traffic, traffic_note=tnote,
                  cost=bars, cost_totals=totals, cost_note=cnote)


def latency_series(look: Lookup, bench: dict[str, Any] | None, bench_name: str) -> tuple[list[Series], str]:
    out: list[Series] = []
    step = next((m.measure.key for m in look.runbook.meta.success_metrics if m.measure.source.startswith("load_test")),
                None)
    e = look.last(step, "finished") if step else None
    ramp = (e.evidence.get("ramp") or {}) if e is not None else {}
    pts = sorted((float(lv["concurrency"]), float(lv["p99_ms"])) for lv in ramp.get("levels", [])
                 if isinstance(lv.get("p99_ms"), (int, float)) and isinstance(lv.get("concurrency"), int))
    if e is not None and isinstance(e.evidence.get("p99_ms"), (int, float)) and isinstance(e.evidence.get("concurrency"), int):
        pts = sorted(set(pts) | {(float(e.evidence["concurrency"]), float(e.evidence["p99_ms"]))})
    if pts and e is not None:  # the points come from `e`
        out.append(Series(name="new (week-4 load test)", source=f"journal {step}, {look.env}, {_date(e.at)}", points=pts))
    out += bench_series(bench, bench_name)
    missing = [s for s in ("new", "legacy") if not any(x.name.startswith(s) for x in out)]
    why = {"new": f"new: not measured (step {step} has no ramp in the journal)",
           "legacy": "legacy: not measured at a stated concurrency (the journal's canary analysis is live traffic; "
                     "no bench/results file read)"}
    return out, "; ".join(why[s] for s in missing)


def bench_series(bench: dict[str, Any] | None, name: str) -> list[Series]:
    """p99 per concurrency per stack from a bench/results JSON (bench/gateway_compare.py): the first
    scenario and model latency it ran, the worst p99 over its rounds."""
    if not isinstance(bench, dict) or not isinstance(bench.get("cells"), list):
        return []
    cells = [c for c in bench["cells"] if isinstance(c, dict) and c.get("target") in BENCH_STACKS
             and isinstance(c.get("p99"), (int, float)) and isinstance(c.get("concurrency"), int)]
    if not cells:
        return []
    scenario, lat = cells[0].get("scenario"), cells[0].get("latency_ms")
    machine = bench.get("machine") or {}
    out = []
    for target, stack in BENCH_STACKS.items():
        worst: dict[int, float] = {}
        for c in cells:
            if c["target"] == target and c.get("scenario") == scenario and c.get("latency_ms") == lat:
                worst[c["concurrency"]] = max(worst.get(c["concurrency"], 0.0), float(c["p99"]))
        if worst:
            out.append(Series(name=f"{stack} (bench, {scenario})", points=sorted((float(k), v) for k, v in worst.items()),
                              source=f"{name or bench.get('timestamp', 'bench')}: {bench.get('label', '')}; "
                                     f"{machine.get('cores', '?')} cores, model simulated at {lat} ms; worst p99 of "
                                     "the rounds; the bench machine, not this environment"))
    return out


def traffic_series(look: Lookup) -> tuple[Series | None, str]:
    from cato_migrate.core.traffic import TRAFFIC_KEY

    pts = []
    for e in look.entries:
        pct = e.evidence.get("served_percentage") if e.key == TRAFFIC_KEY and e.event in ("finished", "failed") else None
        if isinstance(pct, int):
            pts.append((e.at, float(pct)))
    if not pts:
        return None, "not measured: no traffic change in the journal (`cato-migrate canary set N`)"
    return Series(name="new stack share (%)", source=f"journal {TRAFFIC_KEY}: served percentage read back after "
                  f"each change, {look.env}, {_date(pts[0][0])} to {_date(pts[-1][0])}", points=pts), ""


def cost_bars(look: Lookup, key: str) -> tuple[list[CostBar], dict[str, float], str]:
    from cato_migrate.core.report_rows import cost_entry

    found, why = cost_entry(look, key)
    if found is None:
        return [], {}, why
    ev = found[0].evidence
    bars = []
    groups: tuple[tuple[Stack, str], ...] = (("legacy", "by_model"), ("new", "by_tier"))
    for stack, group in groups:
        for name, v in sorted(((ev[stack].get(group) or {})).items()):
            n, usd = v.get("requests") if isinstance(v, dict) else None, v.get("usd") if isinstance(v, dict) else None
            if isinstance(n, int) and n > 0 and isinstance(usd, (int, float)):
                bars.append(CostBar(stack=stack, name=str(name), requests=n, per_1k_usd=round(usd / n * 1000, 6)))
    mix, prices = ev.get("mix") or {}, ev.get("prices") or {}
    totals = {s: float(ev[s]["per_1k_requests_usd"]) for s in ("legacy", "new")}
    return bars, totals, (f"mix '{mix.get('name', '?')}' ({mix.get('prompts', '?')} prompts; {mix.get('description', '')}); "
                          f"prices {prices.get('source', '?')} taken {prices.get('taken_on', '?')}")
