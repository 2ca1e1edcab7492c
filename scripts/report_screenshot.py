"""Draw docs/report.png: a `cato-migrate report --output html` page, in headless Chromium.

Usage:
  python scripts/report_screenshot.py --html PAGE [OUT.png]   the page a run wrote (make demo:
                                                              .cato-migrate/demo/report.html)
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_WIDTH, _HEIGHT = 1200, 2700


def main(argv: list[str]) -> int:
    from scripts import chromium

    if argv[:1] != ["--html"] or len(argv) < 2 or not Path(argv[1]).is_file():
        print("--html needs the page a run wrote, e.g. .cato-migrate/demo/report.html (run make demo)",
              file=sys.stderr)
        return 2
    page = Path(argv[1])
    out = Path(argv[2] if len(argv) > 2 else ROOT / "docs" / "report.png")
    chromium.screenshot(page, out, _WIDTH, _HEIGHT)
    print(f"wrote {out} from {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
