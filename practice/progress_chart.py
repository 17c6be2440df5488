"""The cellulite grade per area across a course, as a server-rendered SVG line chart (no JavaScript).

One chart per grading scale used. Accessible: the SVG is an image with a <title> and a <desc> that says what
it shows, each point has its own <title>, and `Chart.table` is the same data as a table for the page.
Lower grades are better on both scales, so the chart says so.
"""

import datetime
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import mark_safe

from clinic import clock
from clinic.models import BodyArea

from .models import GRADE_RANGES, GradingScale

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 24, 16, 48
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class GradePoint:
    day: datetime.date
    area: str
    scale: str
    grade: int


@dataclass
class Chart:
    scale: str
    title: str
    description: str
    lines: dict[str, list[tuple[float, float, GradePoint]]] = field(default_factory=dict)  # area -> points
    days: list[datetime.date] = field(default_factory=list)
    svg: str = ""

    @property
    def legend(self) -> list[tuple[str, int]]:
        return [(area_label(area), index % 4) for index, area in enumerate(self.lines)]

    @property
    def table(self) -> tuple[list[str], list[tuple[datetime.date, list[str]]]]:
        """Header (area labels) and rows (a day, the grade of each area that day or '-')."""
        areas = list(self.lines)
        grades = {(p.day, p.area): p.grade for points in self.lines.values() for _, _, p in points}
        rows = [(day, [str(grades.get((day, area), "-")) for area in areas]) for day in self.days]
        return [area_label(area) for area in areas], rows


def area_label(code: str) -> str:
    return dict(BodyArea.choices).get(code, code)


def grade_points(records) -> list[GradePoint]:
    """From session records with their appointment and areas already loaded."""
    zone = clock.zone()
    return [
        GradePoint(record.appointment.start_at.astimezone(zone).date(), area.area, area.scale, area.grade)
        for record in records
        for area in record.areas.all()
    ]


def x_position(day: datetime.date, first: datetime.date, last: datetime.date) -> float:
    span = (last - first).days
    if span == 0:
        return round(LEFT + PLOT_WIDTH / 2, 1)
    return round(LEFT + PLOT_WIDTH * (day - first).days / span, 1)


def y_position(grade: int, scale: str) -> float:
    low, high = GRADE_RANGES[GradingScale(scale)]
    return round(TOP + PLOT_HEIGHT * (high - grade) / (high - low), 1)


def build_charts(points: list[GradePoint]) -> list[Chart]:
    charts = []
    for scale in GradingScale:
        own = sorted((p for p in points if p.scale == scale), key=lambda p: (p.area, p.day))
        if not own:
            continue
        days = sorted({p.day for p in own})
        chart = Chart(scale=scale.value, title=f"Cellulite grade per area: {scale.label}", description="", days=days)
        for point in own:
            position = (x_position(point.day, days[0], days[-1]), y_position(point.grade, scale))
            chart.lines.setdefault(point.area, []).append((*position, point))
        chart.description = _describe(chart, scale)
        chart.svg = _render(chart, scale)
        charts.append(chart)
    return charts


def _describe(chart: Chart, scale) -> str:
    low, high = GRADE_RANGES[scale]
    parts = []
    for area, points in chart.lines.items():
        first, last = points[0][2], points[-1][2]
        parts.append(
            f"{area_label(area)}: {first.grade} on {first.day:%-d %B %Y} to {last.grade} on {last.day:%-d %B %Y}"
            f" ({len(points)} session{'s' if len(points) != 1 else ''})"
        )
    return f"Grades from {low} to {high}; lower is better. " + "; ".join(parts) + "."


def _ticks(scale) -> list[int]:
    low, high = GRADE_RANGES[scale]
    step = 1 if high - low <= 5 else 2
    return list(range(low, high + 1, step)) if (high - low) % step == 0 else [*range(low, high, step), high]


def svg_open(ident: str, title: str, description: str, *, width: int, height: int, css_class: str) -> list[str]:
    """The accessible opening of a server-rendered chart: an image named by its <title> and described by its
    <desc> (what it shows, in words). Every chart of the project starts here (this one, and the owner's
    reports in `reports.charts`); the caller adds the marks and the closing </svg>."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]


def _render(chart: Chart, scale) -> str:
    ident = f"grade-chart-{chart.scale}"
    out = svg_open(ident, chart.title, chart.description, width=WIDTH, height=HEIGHT, css_class="grade-chart")
    for tick in _ticks(scale):
        y = y_position(tick, scale)
        out.append(f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}"/>')
        out.append(f'<text class="tick" x="{LEFT - 8}" y="{y + 4}" text-anchor="end">{tick}</text>')
    base = TOP + PLOT_HEIGHT
    out.append(f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>')
    for day in chart.days:
        x = x_position(day, chart.days[0], chart.days[-1])
        out.append(f'<text class="tick" x="{x}" y="{base + 20}" text-anchor="middle">{day:%-d %b}</text>')
    for index, (area, points) in enumerate(chart.lines.items()):
        css = f"series series-{index % 4}"
        coords = " ".join(f"{x},{y}" for x, y, _ in points)
        out.append(f'<g class="{css}" data-area="{escape(area)}">')
        out.append(f'<polyline points="{coords}"/>')
        for x, y, point in points:
            out.append(
                f'<circle cx="{x}" cy="{y}" r="4"><title>{escape(area_label(area))}, '
                f"{point.day:%-d %B %Y}: {point.grade}</title></circle>"
            )
        out.append("</g>")
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped or a number
