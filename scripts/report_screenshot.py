"""Draw docs/report.png: a `cato-migrate report --output html` page, in headless Chromium.

Usage:
  python scripts/report_screenshot.py --html PAGE [OUT.png]   the page a run wrote (make demo:
                                                              .cato-migrate/demo/report.html)
  python scripts/report_screenshot.py [OUT.png]               a demo-like state: tests/report_world.py's
                                                              records, written through the core API,
                                                              plus the newest bench/results file
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_WIDTH, _HEIGHT = 1200, 2700


def _world_page(tmp: Path) -> Path:
    from cato_migrate.cli.report import _bench
    from cato_migrate.core.report import build_report
    from cato_migrate.core.report_html import render_html
    from tests.report_world import demo_world

    w = demo_world(tmp)
    bench, name = _bench("auto")
    r = build_report(w.ctx().runbook, w.store.journal("local"), w.store.audit("local", 100_000), env="local",
                     now=w.clock.now(), dual_write=w.gateway.counts, bench=bench, bench_name=name)
    page = tmp / "report.html"
    page.write_text(render_html(r), encoding="utf-8")
    return page


def main(argv: list[str]) -> int:
    from tests import chromium

    html = None
    if argv[:1] == ["--html"]:
        if len(argv) < 2 or not Path(argv[1]).is_file():
            print("--html needs the page a run wrote, e.g. .cato-migrate/demo/report.html (run make demo)",
                  file=sys.stderr)
            return 2
        html, argv = Path(argv[1]), argv[2:]
    out = Path(argv[0] if argv else ROOT / "docs" / "report.png")
    with tempfile.TemporaryDirectory() as tmp:
        page = html or _world_page(Path(tmp))
        chromium.screenshot(page, out, _WIDTH, _HEIGHT)
    print(f"wrote {out} from {page if html else 'tests/report_world.py'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
