"""Small charts drawn on the server: SVG markup as a string, for the console's pages.

Where it sits: pure functions the console's templates call with a series an API operation
already returned (the insights' buckets). The console's Content-Security-Policy allows
no inline style and no script, so the markup uses presentation attributes and CSS classes
(`chart`, `bar`, `line`, `dot`, `axis`, `label`) that the console's stylesheet colours.
Every text is escaped; a chart is an image with a title for assistive technology.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import escape

#: room for the title above the plot, and the labels below it
TITLE_H = 16
LABEL_H = 14


def _number(value: float) -> str:
    """A value as a label shows it: no trailing zeros, at most two decimals."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _svg_open(*, title: str, summary: str, width: int, height: int, kind: str) -> str:
    label = escape(f"{title}: {summary}" if summary else title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img"'
        f' width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' aria-label="{label}"><title>{label}</title>'
        f'<text class="title" x="0" y="{TITLE_H - 4}">{escape(title)}</text>'
    )


def _scale(values: Sequence[float]) -> float:
    """The top of the value axis: the largest value, or 1 when all are zero or none."""
    top = max((v for v in values if v > 0), default=0.0)
    return top if top > 0 else 1.0


def bar_chart(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    unit: str = "",
    width: int = 320,
    height: int = 120,
) -> str:
    """One bar per point (label, value); a missing value (None) draws no bar."""
    plot_h = height - TITLE_H - LABEL_H
    values = [v or 0.0 for _, v in points]
    top = _scale(values)
    summary = ", ".join(
        f"{label} {'no data' if v is None else _number(v) + (' ' + unit if unit else '')}"
        for label, v in points
    )
    parts = [_svg_open(title=title, summary=summary, width=width, height=height, kind="bar")]
    base = TITLE_H + plot_h
    parts.append(f'<line class="axis" x1="0" y1="{base}" x2="{width}" y2="{base}"/>')
    if not points:
        parts.append(
            f'<text class="empty" x="{width // 2}" y="{base - plot_h // 2}">no data</text>'
        )
    slot = width / max(len(points), 1)
    for i, (label, value) in enumerate(points):
        x = i * slot + slot * 0.1
        text = f"{escape(label)}: {'no data' if value is None else _number(value)}"
        if value is not None:
            h = round(max(value, 0.0) / top * plot_h, 2)
            parts.append(
                f'<rect class="bar" x="{x:.2f}" y="{base - h:.2f}" width="{slot * 0.8:.2f}"'
                f' height="{h:.2f}"><title>{text}</title></rect>'
            )
        parts.append(
            f'<text class="label" x="{i * slot + slot / 2:.2f}" y="{height - 2}"'
            f' text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def sparkline(
    values: Sequence[float | None],
    *,
    title: str,
    unit: str = "",
    width: int = 120,
    height: int = 32,
) -> str:
    """A line through the values, left to right; a gap (None) breaks the line."""
    plot_h = height - TITLE_H
    top = _scale([v or 0.0 for v in values])
    known = [v for v in values if v is not None]
    summary = (
        f"latest {_number(known[-1])}{' ' + unit if unit else ''}, highest {_number(max(known))}"
        if known
        else "no data"
    )
    parts = [_svg_open(title=title, summary=summary, width=width, height=height, kind="line")]
    step = width / max(len(values) - 1, 1)
    runs: list[list[str]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
            continue
        y = TITLE_H + plot_h - max(value, 0.0) / top * plot_h
        runs[-1].append(f"{i * step:.2f},{y:.2f}")
    for run in runs:
        if len(run) > 1:
            parts.append(f'<polyline class="line" fill="none" points="{" ".join(run)}"/>')
        elif run:
            cx, cy = run[0].split(",")
            parts.append(f'<circle class="dot" cx="{cx}" cy="{cy}" r="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)
