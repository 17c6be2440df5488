"""The reports' charts, rendered on the server as SVG (no JavaScript), accessible the way the progress chart
is: `practice.progress_chart.svg_open` names the image by its <title> and describes it in its <desc>, every
mark has its own <title>, and the page shows the same data as a table beside it. Colours come from classes
(static/reports/reports.css), never inline styles: the content security policy forbids them.
"""

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import mark_safe

from practice.progress_chart import svg_open

WIDTH = 520  # narrow enough that a phone (390 px) shows its 12 px text at 9 px, not 7
LABEL_WIDTH = 170
VALUE_WIDTH = 70
BAR_HEIGHT, BAR_GAP, TOP, BOTTOM = 18, 8, 8, 8


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # what the bar says, e.g. '12.5%' or '£1,200.00'


def bar_chart(ident: str, title: str, description: str, bars: list[Bar]) -> str:
    """Horizontal bars, one per label, from a zero line (negative values go left of it)."""
    height = TOP + BOTTOM + max(1, len(bars)) * (BAR_HEIGHT + BAR_GAP)
    out = svg_open(ident, title, description, width=WIDTH, height=height, css_class="report-chart")
    low = min([0.0, *(bar.value for bar in bars)])
    high = max([0.0, *(bar.value for bar in bars)])
    span = (high - low) or 1.0
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    zero = LABEL_WIDTH + plot * (0 - low) / span
    for index, bar in enumerate(bars):
        y = TOP + index * (BAR_HEIGHT + BAR_GAP)
        length = plot * abs(bar.value) / span
        x = zero if bar.value >= 0 else zero - length
        label = escape(bar.label)
        out.append('<g class="bar">')
        out.append(f"<title>{label}: {escape(bar.text)}</title>")
        short = escape(bar.label[:24])
        out.append(f'<text class="label" x="{LABEL_WIDTH - 8}" y="{y + 13}" text-anchor="end">{short}</text>')
        out.append(f'<rect x="{x:.1f}" y="{y}" width="{max(length, 0.5):.1f}" height="{BAR_HEIGHT}"/>')
        out.append(f'<text class="value" x="{WIDTH - VALUE_WIDTH + 6}" y="{y + 13}">{escape(bar.text)}</text>')
        out.append("</g>")
    out.append(f'<line class="axis" x1="{zero:.1f}" y1="{TOP - 4}" x2="{zero:.1f}" y2="{height - BOTTOM + 4}"/>')
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped or a number


HEAT_CELL, HEAT_LEFT, HEAT_TOP = 36, 44, 24
HEAT_LEVELS = 6  # classes heat-0 (empty) .. heat-5 (full or over)


def heat_level(share: float | None) -> int:
    if share is None or share <= 0:
        return 0
    return min(HEAT_LEVELS - 1, 1 + int(share * (HEAT_LEVELS - 2) + 0.0001)) if share < 1 else HEAT_LEVELS - 1


def heat_map(ident: str, title: str, description: str, rows: list[str], columns: list[str], cells) -> str:
    """A grid: `cells[r][c]` is (share or None, text). Darker is fuller; a cell's <title> says its figure with
    the row's whole name (the axis shows its first three letters: 'Wed')."""
    width = HEAT_LEFT + len(columns) * HEAT_CELL + 8
    height = HEAT_TOP + len(rows) * HEAT_CELL + 8
    out = svg_open(ident, title, description, width=width, height=height, css_class="report-heat")
    for c, column in enumerate(columns):
        x = HEAT_LEFT + c * HEAT_CELL + HEAT_CELL / 2
        out.append(f'<text class="tick" x="{x}" y="{HEAT_TOP - 8}" text-anchor="middle">{escape(column)}</text>')
    for r, row in enumerate(rows):
        y = HEAT_TOP + r * HEAT_CELL
        label_y = y + HEAT_CELL / 2 + 4
        out.append(f'<text class="tick" x="{HEAT_LEFT - 6}" y="{label_y}" text-anchor="end">{escape(row[:3])}</text>')
        for c, (share, text) in enumerate(cells[r]):
            x = HEAT_LEFT + c * HEAT_CELL
            out.append(
                f'<rect class="heat-{heat_level(share)}" x="{x + 1}" y="{y + 1}" width="{HEAT_CELL - 2}" '
                f'height="{HEAT_CELL - 2}"><title>{escape(row)} {escape(columns[c])}: {escape(text)}</title></rect>'
            )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped or a number
