"""A report's table: what the page shows and what its CSV download holds, from the same rows, so the file
is exactly what the owner saw. Cells are already the text shown (rates as percentages to one decimal,
money to the penny without a symbol; the column says the unit)."""

import csv
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.http import HttpResponse
from django.utils.text import slugify


@dataclass
class Table:
    key: str  # the CSV's name in the URL (?csv=key)
    caption: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""

    def add(self, *cells) -> None:
        self.rows.append([cell if isinstance(cell, str) else str(cell) for cell in cells])


def percent(part: int | float | Decimal, whole: int | float | Decimal) -> str:
    """'12.5' for 1 of 8; '-' when there is nothing to divide by (not 0: nothing happened)."""
    if not whole:
        return "-"
    value = Decimal(part) * 100 / Decimal(whole)
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def money(amount) -> str:
    return str(Decimal(amount or 0).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def hours(duration) -> str:
    """A duration (timedelta, or None for none) as hours to one decimal."""
    seconds = duration.total_seconds() if duration else 0
    return str((Decimal(seconds) / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def csv_response(report_slug: str, table: Table, filters) -> HttpResponse:
    name = slugify(f"{report_slug} {table.key} {filters.start} {filters.end}")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    writer = csv.writer(response)
    writer.writerow(table.columns)
    writer.writerows([[safe_cell(cell) for cell in row] for row in table.rows])
    return response


def safe_cell(cell: str) -> str:
    """A spreadsheet runs a cell that starts with =, +, - or @ as a formula: free text (a cancellation reason a
    patient typed) is kept as text with a leading apostrophe. Numbers (-1.5) stay numbers."""
    if cell != "-" and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            Decimal(cell)
        except ArithmeticError:
            return "'" + cell
    return cell
