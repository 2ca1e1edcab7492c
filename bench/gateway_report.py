"""Reporting for bench/gateway_compare.py: medians across rounds, ratios, docs/performance.md, PNG plots."""
from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

DOC_LEVELS = (50, 200, 2000)
ERROR_BUDGET = 0.001  # saturation: highest rps with < 0.1% errors + timeouts + 429s


def _med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 1) if xs else None


def aggregate(results: dict) -> dict:
    """Per (L, scenario, target, c): the median across rounds (min-max of rps), added latency, saturation."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for c in results["cells"]:
        groups[(c["latency_ms"], c["scenario"], c["target"], c["concurrency"])].append(c)
    rows = {}
    for key, cells in groups.items():
        req = sum(c["requests"] for c in cells)
        bad = sum(c["errors"] + c["timeouts"] + c["http_429"] for c in cells)
        rows[key] = {
            "latency_ms": key[0], "scenario": key[1], "target": key[2], "concurrency": key[3], "rounds": len(cells),
            "rps": _med([c["rps"] for c in cells]), "rps_min": min(c["rps"] for c in cells),
            "rps_max": max(c["rps"] for c in cells),
            **{k: _med([c[k] for c in cells]) for k in ("p50", "p90", "p99", "ttft_p50", "ttft_p99",
                                                      "cpu_ms_per_req", "deps_cpu_ms_per_req", "loadgen_cpu_pct")},
            "rss_mb_max": max(c["rss_mb"] for c in cells),
            "requests": req, "errors": sum(c["errors"] for c in cells), "http_429": sum(c["http_429"] for c in cells),
            "timeouts": sum(c["timeouts"] for c in cells), "error_rate": round(bad / req, 4) if req else None,
            "cache_hit_rate": _med([c["cache_hit_rate"] for c in cells]),
            "client_bound": any(c["client_bound"] for c in cells),
        }
    baselines = {"litellm": "direct-openai", "orchestrator": "direct-bedrock"}
    for (L, scen, tgt, conc), row in rows.items():
        base = rows.get((L, scen, baselines.get(tgt), conc))
        for k in ("p50", "p99", "ttft_p50"):
            row[f"added_{k}"] = (round(row[k] - base[k], 1) if base and row[k] is not None and base[k] is not None
                                 else None)
    sat = {}
    for (L, scen, tgt, _), row in rows.items():
        s = sat.setdefault(f"{L}|{scen}|{tgt}", {"latency_ms": L, "scenario": scen, "target": tgt,
                                                 "rps_clean": None, "at_clean": None, "rps_any": None, "at_any": None})
        if row["rps"] is not None and (s["rps_any"] is None or row["rps"] > s["rps_any"]):
            s["rps_any"], s["at_any"] = row["rps"], row["concurrency"]
        if row["error_rate"] is not None and row["error_rate"] < ERROR_BUDGET and (
                s["rps_clean"] is None or row["rps"] > s["rps_clean"]):
            s["rps_clean"], s["at_clean"] = row["rps"], row["concurrency"]
    ratios = {}
    for key, s in sat.items():
        if s["target"] != "orchestrator":
            continue
        lite = sat.get(key.replace("|orchestrator", "|litellm"))
        if lite:
            ratios[f"{s['latency_ms']:g} ms {s['scenario']}"] = {
                "orchestrator_rps": s["rps_clean"], "litellm_rps": lite["rps_clean"],
                "ratio_clean": (round(s["rps_clean"] / lite["rps_clean"], 2)
                                if s["rps_clean"] and lite["rps_clean"] else None),
                "ratio_any_errors": (round(s["rps_any"] / lite["rps_any"], 2)
                                     if s["rps_any"] and lite["rps_any"] else None)}
    return {"rows": list(rows.values()), "saturation": list(sat.values()), "ratios": ratios}


def print_ratios(results: dict) -> None:
    print("\norchestrator / LiteLLM throughput at saturation (highest rps with <0.1% errors; any errors):")
    for k, r in results["summary"]["ratios"].items():
        print(f"  {k:24s} orchestrator {r['orchestrator_rps']} rps / LiteLLM {r['litellm_rps']} rps = "
              f"{r['ratio_clean']}x  (ignoring errors: {r['ratio_any_errors']}x)")


def write_plots(results: dict, prefix: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["summary"]["rows"]
    out = []
    for L in sorted({r["latency_ms"] for r in rows}):
        for scen in results["scenarios"]:
            fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
            any_row = False
            for tgt in results["targets"]:
                pts = sorted((r["concurrency"], r["p50"], r["p99"]) for r in rows
                             if r["latency_ms"] == L and r["scenario"] == scen and r["target"] == tgt
                             and r["p50"] is not None)
                if not pts:
                    continue
                any_row = True
                a1.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=tgt)
                a2.plot([p[0] for p in pts], [p[2] for p in pts], marker="o", label=tgt)
            if not any_row:
                plt.close(fig)
                continue
            for ax, what in ((a1, "p50"), (a2, "p99")):
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xlabel("concurrent clients (closed loop)")
                ax.set_ylabel(f"{what} latency, ms")
                ax.grid(True, which="both", alpha=0.3)
                ax.legend(fontsize=8)
            fig.suptitle(f"{scen}, simulator latency {L:g} ms ({results['timestamp']}, {results['profile']})")
            fig.tight_layout()
            path = Path(f"{prefix}-{scen}-{L:g}ms.png")
            fig.savefig(path, dpi=90)
            plt.close(fig)
            out.append(path)
    return out


def _f(x, nd=0):
    if x is None:
        return "—"
    return f"{x:,.{nd}f}"


def write_doc(results: dict, doc: Path, json_path: Path, plots: list[Path]) -> None:
    m, lb, la = results["machine"], results["load_before"], results["load_after"]
    rows = results["summary"]["rows"]
    levels = sorted({r["concurrency"] for r in rows})
    shown = [c for c in DOC_LEVELS if c in levels] or levels
    noisy = lb["loadavg"][0] > 0.2 * (m["cores"] or 1) or la["loadavg"][0] > (m["cores"] or 1)
    rel = lambda p: Path("..") / p.relative_to(doc.parent.parent) if p.is_absolute() else p  # noqa: E731
    L_ = []
    w = L_.append
    w("# Gateway performance: simulator direct vs LiteLLM vs orchestrator\n")
    w(f"Generated by `bench/gateway_compare.py` ({results['profile']} profile) on {results['timestamp']}; "
      f"raw data: `{rel(json_path)}`. Rerun: `make bench` (full) or `make bench BENCH_ARGS=--quick`.\n")
    if results["profile"] == "quick" or noisy:
        w("> **These figures are noisy.** " + ("Quick profile: few levels, seconds-long steps, small counts. "
                                                if results["profile"] == "quick" else "")
          + (f"The machine was shared with other work (1-min load {lb['loadavg'][0]} before, {la['loadavg'][0]} "
             f"after, on {m['cores']} cores). " if noisy else "")
          + "Use them for direction, not as the headline; the full profile on a quiet machine is the reference.\n")
    w("## Machine\n")
    w(f"- {m['cpu_model']}, {m['cores']} cores, {m['ram_gb']} GiB RAM, kernel {m['kernel']}")
    w(f"- Python {m['python']} (bench, orchestrator), Ray {m['ray']}, aiohttp {m['aiohttp']}; "
      f"LiteLLM {m['litellm']} ({m['litellm_python']}, `.venv-litellm`, 1 worker)")
    w(f"- load average before {lb['loadavg']} (CPU busy {lb['cpu_busy_pct_1s']}%, steal {lb['steal_pct_1s']}%), "
      f"after {la['loadavg']} (busy {la['cpu_busy_pct_1s']}%); wall time {results['wall_s']} s, "
      f"sandbox start-up {results.get('startup', {}).get('seconds')} s")
    w(f"- settings: {results['settings']}; orchestrator overrides {results['orch_overrides'] or 'none'}, "
      f"env {results['orch_env'] or 'none (as the sandbox starts it)'}\n")
    w("## What is compared\n")
    w("One simulator (`cato_sandbox.model_simulator`), tier `bedrock_haiku` for every target, latency set "
      "with `PUT /admin/config {\"tiers\": {\"*\": {\"ttft_ms\": L, \"per_token_ms\": 0}}}` (so time to first "
      "token ≈ time to the end in streaming).\n")
    w("| target | endpoint | added latency measured against |")
    w("|---|---|---|")
    w("| direct-openai | simulator `POST /v1/chat/completions`, model `anthropic.claude-3-haiku-20240307-v1:0` "
      "(what LiteLLM forwards) | — |")
    w("| direct-bedrock | simulator `POST /model/anthropic.claude-3-haiku-20240307-v1:0/converse[-stream]` "
      "(what the orchestrator calls) | — |")
    w("| litellm | LiteLLM proxy `POST /v1/chat/completions`, model `claude-3-haiku` | direct-openai |")
    w("| orchestrator | Ray Serve `POST /v1/chat/completions`, model `claude-3-haiku` (pinned to Haiku) | "
      "direct-bedrock |\n")
    w("All take the sandbox's bearer key (`<state_dir>/litellm.key`; the orchestrator maps it to principal "
      "`sandbox`). Scenarios: **stateless** (unique questions, no `user`: cache misses), **sessions** (3 turns per "
      "virtual user with `user`, full history resent each turn), **paraphrase** (~30% popular context-free "
      "questions from `evals/cache_pairs.jsonl` or their paraphrase, from new conversations), **streaming** "
      "(`stream: true`, TTFT and time to `[DONE]`). The orchestrator's DynamoDB is moto directly "
      "(no global-table layer) and Redis is local: session figures are sandbox figures, not AWS ones. CPU ms/req "
      "is psutil over the whole process tree (direct: the simulator; LiteLLM: its proxy process tree; "
      "orchestrator: the Ray head's tree — GCS, raylet, workers, Serve proxy/controller/replica — plus the "
      "driver); the orchestrator's Redis+moto CPU is reported apart as `deps`.\n")
    w("## Results (median of rounds)\n")
    for L in sorted({r["latency_ms"] for r in rows}):
        for scen in results["scenarios"]:
            sel = [r for r in rows if r["latency_ms"] == L and r["scenario"] == scen and r["concurrency"] in shown]
            if not sel:
                continue
            stream = scen == "streaming"
            w(f"### {scen}, simulator latency {L:g} ms\n")
            w("| c | target | rps (min–max) | p50 | p90 | p99 | added p50 / p99 | "
              + ("TTFT p50 (added) | " if stream else "") + "errors / 429 / timeouts (of n) | CPU ms/req | RSS MB | "
              "cache hits | gen CPU |")
            w("|---|---|---|---|---|---|---|" + ("---|" if stream else "") + "---|---|---|---|---|")
            for r in sorted(sel, key=lambda r: (r["concurrency"], results["targets"].index(r["target"]))):
                added = ("—" if r["added_p50"] is None else f"{r['added_p50']:+,.0f} / {r['added_p99']:+,.0f}")
                at = r["added_ttft_p50"]
                ttft = f"{_f(r['ttft_p50'])} ({'—' if at is None else format(at, '+,.0f')}) | " if stream else ""
                cpu = _f(r["cpu_ms_per_req"], 2) + (f" (+deps {_f(r['deps_cpu_ms_per_req'], 2)})"
                                                    if r["deps_cpu_ms_per_req"] else "")
                hits = "—" if r["cache_hit_rate"] is None else f"{r['cache_hit_rate']:.0%}"
                w(f"| {r['concurrency']} | {r['target']} | {_f(r['rps'], 1)} ({_f(r['rps_min'], 1)}–{_f(r['rps_max'], 1)}) "
                  f"| {_f(r['p50'])} | {_f(r['p90'])} | {_f(r['p99'])} | {added} | {ttft}{r['errors']} / {r['http_429']} / "
                  f"{r['timeouts']} (of {r['requests']}) | {cpu} | {_f(r['rss_mb_max'])} | {hits} | "
                  f"{_f(r['loadgen_cpu_pct'])}%{' ⚠' if r['client_bound'] else ''} |")
            w("")
    w("## Throughput at saturation: orchestrator / LiteLLM\n")
    w("Saturation = the highest median rps over the levels run with < 0.1% errors + timeouts + 429s "
      f"(levels run: {levels}; with the quick profile this is a lower bound, not the true ceiling).\n")
    w("| latency, scenario | orchestrator rps | LiteLLM rps | ratio | ratio ignoring errors |")
    w("|---|---|---|---|---|")
    for k, r in results["summary"]["ratios"].items():
        w(f"| {k} | {_f(r['orchestrator_rps'], 1)} | {_f(r['litellm_rps'], 1)} | {_f(r['ratio_clean'], 2)}× | "
          f"{_f(r['ratio_any_errors'], 2)}× |")
    w("")
    failures = [c for c in results["cells"] if c["target"] == "orchestrator" and (c["errors"] or c["timeouts"]
                                                                                  or c["http_429"])]
    w("## Orchestrator failures under load\n")
    if not failures:
        w("None: every orchestrator request in the measured windows answered 200.\n")
    else:
        w("| L | scenario | c | round | status → count | first error body |")
        w("|---|---|---|---|---|---|")
        for c in failures:
            first = "; ".join(f"{k}: {v[:160]}" for k, v in c["error_samples"].items()).replace("|", "\\|")
            w(f"| {c['latency_ms']:g} | {c['scenario']} | {c['concurrency']} | {c['round']} | {c['error_kinds']} | "
              f"`{first}` |")
        w("")
    if plots:
        w("## Latency vs concurrency\n")
        for p in plots:
            w(f"![{p.stem}]({rel(p)})")
        w("")
    for n in results.get("notes", []):
        w(f"- {n}")
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text("\n".join(L_) + "\n")
