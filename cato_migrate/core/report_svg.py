"""A small SVG chart renderer for the report page (pure: strings in, strings out). Inline in
HTML5, so no xmlns: the page holds no URL at all.

Inline SVG so the page needs nothing from anywhere: no script, no font, no stylesheet from the
network. Every drawn point carries its figures (data-x, data-y, a <title>) so a test, or a
reader hovering, sees the number behind the pixel. Every label goes through `esc`.
"""
from __future__ import annotations

import math
import time
from html import escape
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # the page (report_html) hands this module the report's series
    from cato_migrate.core.report import Series

W, H = 640, 300
PAD_L, PAD_R, PAD_T, PAD_B = 64, 16, 16, 64
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 5 x 10^k steps)."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, v = [], start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    if ticks[-1] < hi:
        ticks.append(round(v, 10))
    return ticks


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 or v == int(v) else f"{v:g}"


Scale = Callable[[float], float]  # data value -> pixel


def _frame(title: str, xt: list[float], yt: list[float], sx: Scale, sy: Scale, xlabel: str, ylabel: str,
           xfmt: Callable[[float], str] = _fmt) -> list[str]:
    out = [f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
           f'aria-label="{esc(title)}"><title>{esc(title)}</title>',
           f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" height="{H - PAD_T - PAD_B}" fill="#fff" stroke="#999"/>']
    for t in yt:
        y = sy(t)
        out.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{esc(_fmt(t))}</text>')
    for i, t in enumerate(xt):
        x = sx(t)
        anchor = "end" if i == len(xt) - 1 and len(xt) > 1 else "middle"  # the last label stays inside the frame
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{H - PAD_B}" y2="{H - PAD_B + 4}" stroke="#999"/>'
                   f'<text x="{x:.1f}" y="{H - PAD_B + 16}" text-anchor="{anchor}" font-size="11">{esc(xfmt(t))}</text>')
    out.append(f'<text x="{(PAD_L + W - PAD_R) / 2}" y="{H - PAD_B + 34}" text-anchor="middle" font-size="12">{esc(xlabel)}</text>'
               f'<text x="14" y="{(PAD_T + H - PAD_B) / 2}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 14 {(PAD_T + H - PAD_B) / 2})">{esc(ylabel)}</text>')
    return out


def _scale(lo: float, hi: float, a: float, b: float) -> Scale:
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _legend(names: list[str]) -> list[str]:
    out: list[str] = []
    x: float = PAD_L
    for i, name in enumerate(names):
        c = COLOURS[i % len(COLOURS)]
        out.append(f'<rect x="{x}" y="{H - 18}" width="10" height="10" fill="{c}"/>'
                   f'<text x="{x + 14}" y="{H - 9}" font-size="11">{esc(name)}</text>')
        x += 24 + 6.5 * len(name)
    return out


def line_chart(title: str, series: list[Series], *, xlabel: str, ylabel: str, hline: float | None = None,
               hline_label: str = "", step: bool = False, time_x: bool = False,
               y_range: tuple[float, float] | None = None) -> str:
    """Series of (x, y) points; `step` draws a step line (a value holds until the next change);
    `time_x` reads x as Unix time."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points] + ([hline] if hline is not None else [])
    xlo, xhi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if xhi == xlo:
        xlo, xhi = xlo - 1, xhi + 1
    ylo, yhi = y_range or (0.0, max(ys) * 1.1 if ys else 1.0)
    yt = nice_ticks(ylo, yhi)
    xt = ([xlo + (xhi - xlo) * i / 4 for i in range(5)] if time_x else nice_ticks(xlo, xhi))
    xlo, xhi = min(xlo, xt[0]), max(xhi, xt[-1])
    sx = _scale(xlo, xhi, PAD_L, W - PAD_R)
    sy = _scale(yt[0], yt[-1], H - PAD_B, PAD_T)
    xfmt = (lambda v: time.strftime("%m-%d %H:%M", time.gmtime(v))) if time_x else _fmt
    out = _frame(title, xt, yt, sx, sy, xlabel, ylabel, xfmt)
    if hline is not None:
        out.append(f'<line class="target" x1="{PAD_L}" x2="{W - PAD_R}" y1="{sy(hline):.1f}" y2="{sy(hline):.1f}" '
                   f'stroke="#555" stroke-dasharray="6 4"/><text x="{W - PAD_R - 4}" y="{sy(hline) - 4:.1f}" '
                   f'text-anchor="end" font-size="11">{esc(hline_label)}</text>')
    for i, s in enumerate(series):
        c = COLOURS[i % len(COLOURS)]
        pts = list(s.points)
        path = []
        for j, (x, y) in enumerate(pts):
            if step and j:
                path.append(f"{sx(x):.1f},{sy(pts[j - 1][1]):.1f}")
            path.append(f"{sx(x):.1f},{sy(y):.1f}")
        if step and pts:
            path.append(f"{W - PAD_R:.1f},{sy(pts[-1][1]):.1f}")
        out.append(f'<g class="series" data-series="{esc(s.name)}"><polyline fill="none" stroke="{c}" stroke-width="2" '
                   f'points="{" ".join(path)}"/>')
        for x, y in pts:
            label = xfmt(x) if time_x else _fmt(x)
            out.append(f'<circle class="point" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{c}" data-x="{x:g}" '
                       f'data-y="{y:g}"><title>{esc(s.name)}: {esc(label)} -&gt; {esc(_fmt(y))}</title></circle>')
        out.append("</g>")
    out += _legend([s.name for s in series])
    out.append("</svg>")
    return "".join(out)


def bar_chart(title: str, bars: list[tuple[str, str, float]], *, unit: str) -> str:
    """Horizontal bars: (group, label, value); one colour per group."""
    groups = list(dict.fromkeys(g for g, _, _ in bars))
    h = PAD_T + 26 * len(bars) + 40
    vmax = max((v for _, _, v in bars), default=1.0) or 1.0
    xt = nice_ticks(0, vmax)
    left = 200
    sx = _scale(0, xt[-1], left, W - PAD_R - 60)
    out = [f'<svg viewBox="0 0 {W} {h}" width="{W}" height="{h}" role="img" '
           f'aria-label="{esc(title)}"><title>{esc(title)}</title>']
    for t in xt:
        out.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{PAD_T}" y2="{h - 30}" stroke="#eee"/>'
                   f'<text x="{sx(t):.1f}" y="{h - 16}" text-anchor="middle" font-size="11">{esc(f"{t:g}")}</text>')
    for i, (g, label, v) in enumerate(bars):
        y = PAD_T + 26 * i
        c = COLOURS[groups.index(g) % len(COLOURS)]
        out.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12">{esc(g)}: {esc(label)}</text>'
                   f'<rect class="bar" x="{left}" y="{y + 3}" width="{max(sx(v) - left, 1):.1f}" height="16" fill="{c}" '
                   f'data-group="{esc(g)}" data-label="{esc(label)}" data-value="{v:g}"><title>{esc(g)} {esc(label)}: '
                   f'{esc(f"{v:.4f}")} {esc(unit)}</title></rect>'
                   f'<text x="{max(sx(v), left) + 4:.1f}" y="{y + 15}" font-size="11">{esc(f"{v:.4f}")}</text>')
    out.append(f'<text x="{(left + W - PAD_R) / 2}" y="{h - 2}" text-anchor="middle" font-size="12">{esc(unit)}</text>')
    out.append("</svg>")
    return "".join(out)
