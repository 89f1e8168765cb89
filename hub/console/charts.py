"""Bar charts as inline SVG, drawn on the server (no script, no chart library): stacked bars over
time buckets, one colour per series, a scale with round steps, and each bar segment titled with
its bucket, series and value (what a pointer or a screen reader finds)."""

from __future__ import annotations

import math
from collections.abc import Callable

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 72, 8, 10, 36
PALETTE = ("#0b5cad", "#e07b00", "#1e7a34", "#8e44ad", "#b3261e", "#00838f", "#6d4c41", "#5b6470")
MAX_X_LABELS = 12


def nice_top(value: float) -> int:
    """The smallest 1, 2 or 5 × 10^k at or above `value` (1 for nothing): the scale's top."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return int(step * power)
    return int(10 * power)


def colours(keys: list[str]) -> dict[str, str]:
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}


def stacked_bars(
    chart_id: str,
    title: str,
    buckets: list[tuple[str, str]],
    series: list[str],
    values: dict[tuple[str, str], int],
    fmt: Callable[[int], str],
    names: dict[str, str] | None = None,
) -> Markup:
    """An SVG of one bar per bucket, stacked by series.

    buckets: (label as stored, label as shown), in order; values: (bucket label, series) → value
    (missing: 0; negative values are drawn as 0); fmt: a value as text (money or a count)."""
    names = names or {}
    totals = [sum(max(0, values.get((b, s), 0)) for s in series) for b, _ in buckets]
    top = nice_top(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(buckets))
    bar_w = max(1.0, slot * 0.7)
    out = [
        f'<svg id="{escape(chart_id)}" class="chart" role="img" aria-labelledby="{escape(chart_id)}-title" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" style="max-width: {WIDTH}px" '
        f'data-top="{top}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
    ]
    for i in range(5):  # the scale: 0, ¼, ½, ¾ and the top (a step that is no whole number: unlabelled)
        y = TOP + plot_h - plot_h * i / 4
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d4d9df"/>')
        if top * i % 4 == 0:
            out.append(
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                f"{escape(fmt(top * i // 4))}</text>"
            )
    every = max(1, math.ceil(len(buckets) / MAX_X_LABELS))
    palette = colours(series)
    for i, (label, shown) in enumerate(buckets):
        x = LEFT + slot * i + (slot - bar_w) / 2
        y = TOP + plot_h
        for s in series:
            value = max(0, values.get((label, s), 0))
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            text = (
                f"{shown} · {names.get(s, s)}: {fmt(value)}" if len(series) > 1 else f"{shown}: {fmt(value)}"
            )
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{palette[s]}" '
                f'data-bucket="{escape(label)}" data-series="{escape(s)}" data-value="{value}">'
                f"<title>{escape(text)}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="11">{escape(shown)}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))


def legend(series: list[str], names: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(name, colour) of each series, for the legend beside a chart."""
    palette = colours(series)
    return [((names or {}).get(s, s), palette[s]) for s in series]
