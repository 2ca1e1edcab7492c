"""The report page opened in a real browser: headless Chromium (Debian's `chromium`, installed by
`make setup`) renders a demo-like report; the rendered DOM holds the success table's rows and
charts whose SVG elements carry the measured figures, and the page asked for nothing from the
network (proxies point at a closed port, hosts resolve to nothing, and the DOM holds no element
that loads anything)."""
from __future__ import annotations

import re
import struct

import pytest

from cato_migrate.core.report import build_report
from cato_migrate.core.report_html import render_html
from scripts import chromium
from tests.report_world import demo_world

pytestmark = pytest.mark.skipif(chromium.find() is None,
                                reason="chromium is not installed: `make setup` installs it (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    w = demo_world(d)
    r = build_report(w.ctx().runbook, w.store.journal("local"), w.store.audit("local", 100_000), env="local",
                     now=w.clock.now(), dual_write=w.gateway.counts)
    path = d / "report.html"
    path.write_text(render_html(r), encoding="utf-8")
    return path


def test_chromium_renders_the_table_and_the_charts(page):
    dom = chromium.dump_dom(page)
    metrics = dom[dom.index('<table class="metrics">'):]
    metrics = metrics[:metrics.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", metrics, re.S)
    assert len(rows) == 1 + 5  # the header and the runbook's five metrics
    for title, state in (("Max concurrent requests", "not_met"), ("p99 latency", "met"),
                         ("Cost efficiency", "met")):
        row = next(r for r in rows if title in r)
        assert f'data-state="{state}"' in row
    charts = {cid: dom[dom.index(f'id="chart-{cid}"'):] for cid in ("latency", "traffic", "cost")}
    assert len(re.findall(r'<circle class="point"[^>]*data-y="[\d.]+"', charts["latency"].split("</svg>")[0])) == 4
    assert len(re.findall(r'<circle class="point"', charts["traffic"].split("</svg>")[0])) == 8
    assert len(re.findall(r'<rect class="bar"[^>]*data-value="[\d.]+"', charts["cost"].split("</svg>")[0])) == 7
    assert "<polyline" in charts["latency"] and "target &lt; 1000 ms" in charts["latency"]


def test_the_page_makes_no_network_request(page):
    assert chromium.loads_anything(chromium.dump_dom(page)) == []


def test_the_network_check_sees_a_planted_fetch(tmp_path):
    planted = tmp_path / "planted.html"
    planted.write_text('<!DOCTYPE html><html><head><style>body{background:url(http://example.com/x.png)}</style>'
                       '</head><body><img src="http://example.com/y.png"></body></html>')
    found = chromium.loads_anything(chromium.dump_dom(planted))
    assert "<img" in found and any(f.startswith("src") for f in found) and "url(" in found


def test_the_screenshot_is_a_drawn_page(page, tmp_path):
    out = chromium.screenshot(page, tmp_path / "shot.png", 1200, 1600)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 1600) and len(data) > 50_000  # tables and charts, not a blank page
