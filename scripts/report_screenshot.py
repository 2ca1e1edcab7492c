"""Draw docs/report.png: `cato-migrate report --output html` of a demo-like state, in headless Chromium.

The state is tests/report_world.py's (the records `make demo` leaves, written through the core
API, figures of the same size as the sandbox's), plus the newest bench/results file for the
side-by-side latency chart. Usage: python scripts/report_screenshot.py [OUT.png]
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> int:
    from cato_migrate.cli.report import _bench
    from cato_migrate.core.report import build_report
    from cato_migrate.core.report_html import render_html
    from tests import chromium
    from tests.report_world import demo_world

    out = Path(argv[0] if argv else ROOT / "docs" / "report.png")
    with tempfile.TemporaryDirectory() as tmp:
        w = demo_world(Path(tmp))
        bench, name = _bench("auto")
        r = build_report(w.ctx().runbook, w.store.journal("local"), w.store.audit("local", 100_000), env="local",
                         now=w.clock.now(), dual_write=w.gateway.counts, bench=bench, bench_name=name)
        page = Path(tmp) / "report.html"
        page.write_text(render_html(r), encoding="utf-8")
        chromium.screenshot(page, out, 1200, 2700)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
