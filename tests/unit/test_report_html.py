"""The report page: one self-contained file, user text escaped, charts drawn from the data."""
from __future__ import annotations

import re

from cato_migrate.core.report import build_report
from cato_migrate.core.report_html import render_html
from cato_migrate.core.report_svg import nice_ticks
from tests.report_world import World, demo_world

EVIL = '<script>alert("x")</script><img src=http://evil.example/x.png onerror=alert(1)>'


def page(w, **kw) -> str:
    r = build_report(w.ctx().runbook, w.store.journal("local"), w.store.audit("local", 100_000), env="local",
                     now=w.clock.now(), dual_write=w.gateway.counts, **kw)
    return render_html(r)


def test_user_text_is_escaped_everywhere(tmp_path):
    w = demo_world(tmp_path)
    w.step("p4.w16.delete-litellm", forced_reason=EVIL)             # an override's reason (audit-free path)
    w.check("p2.exit.context-persists", "fail", EVIL)                # a check's message
    w.attest("p4.w16.team-trained", by='"><b>x</b>', note=EVIL)    # a sign-off's note
    c = w.ctx(reason=EVIL)
    c.audit("guardrail.override", "traffic.flag", EVIL, problems=[EVIL])
    html = page(w)
    assert "<script" not in html and "<img" not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "onerror=alert(1)&gt;" in html  # shown as text, inert


def test_the_page_loads_nothing_from_anywhere(tmp_path):
    html = page(demo_world(tmp_path))
    assert not re.search(r"<(script|link|img|iframe|object|embed|base)\b", html, re.I)
    assert not re.search(r"\b(src|href|xlink:href)\s*=", html, re.I)
    assert "url(" not in html and "@import" not in html and "xmlns" not in html


def test_charts_draw_the_measured_points(tmp_path):
    html = page(demo_world(tmp_path))
    latency = html[html.index('id="chart-latency"'):html.index('id="chart-traffic"')]
    assert len(re.findall(r'<circle class="point"', latency)) == 4
    assert 'data-x="20" data-y="150"' in latency and 'class="target"' in latency
    traffic = html[html.index('id="chart-traffic"'):html.index('id="chart-cost"')]
    assert re.findall(r'data-y="(\d+)"', traffic) == ["10", "0", "10", "50", "0", "10", "50", "100"]
    cost = html[html.index('id="chart-cost"'):]
    assert 'data-group="new" data-label="bedrock_sonnet" data-value="5.625"' in cost
    assert html.count('<tr>') >= 5 + 4 + 16


def test_absent_measurements_say_not_measured_in_the_charts_place(tmp_path):
    html = page(World(tmp_path))
    assert html.count('data-missing="1"') == 4  # three charts and the drills
    assert "<svg" not in html
    assert "not measured: run `cato-migrate cost measure`" in html


def test_nice_ticks_cover_the_range():
    assert nice_ticks(0, 150) == [0, 50, 100, 150]
    assert nice_ticks(0, 1100)[-1] >= 1100 and nice_ticks(0, 1100)[0] == 0
    assert nice_ticks(5, 5)[0] <= 5 <= nice_ticks(5, 5)[-1]
