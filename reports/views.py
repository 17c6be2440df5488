"""The owner's report pages: thin. The filter form reads the query string, the selector builds the report,
and the same report gives the page or one of its tables as CSV (`?csv=<table>`), so a download is exactly
the rows on screen."""

from django.db import connection, transaction
from django.shortcuts import render

from clinic.access import reports_required

from . import selectors
from .filters import ReportFilterForm
from .tables import csv_response

REPORTS = {
    "utilisation": (
        "Utilisation",
        "Booked hours over working hours, per practitioner, per room and by weekday and hour.",
        selectors.utilisation,
    ),
    "attendance": (
        "Attendance",
        "No-shows and late cancellations by practitioner, treatment, weekday, lead time, reminder and deposit; "
        "why patients cancel.",
        selectors.attendance,
    ),
    "revenue": (
        "Revenue",
        "Taken, refunded and kept as fees; package sales and sessions used; by month, practitioner and "
        "treatment; what is outstanding.",
        selectors.revenue,
    ),
    "courses": (
        "Courses and patients",
        "New and returning patients; courses started, completed, overdue and abandoned; how grades changed "
        "over completed courses.",
        selectors.courses,
    ),
    "screening": (
        "Screening and safety",
        "Health forms sent, flags by rule, how long decisions take, clearances suspended, concerning aftercare "
        "check-ins and their follow-up.",
        selectors.screening,
    ),
    "messages": (
        "Messages",
        "Reminders and other messages sent, failed and retried, by kind and channel.",
        selectors.messages,
    ),
}


def tuned_for_reports() -> None:
    """PostgreSQL compiles a query over many rows to machine code first (JIT) when it looks costly: for a
    year of the bench clinic's appointments that took 2.1 s of a 2.2 s answer, for grouped counts that run in
    well under a second without it. And with the default 4 MB of sort memory, a year's grouping sorted on disk
    instead of hashing in memory. The reports change both for their own transaction only (`SET LOCAL`)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")


@reports_required
def index(request):
    reports = [(slug, title, summary) for slug, (title, summary, _) in REPORTS.items()]
    return render(request, "reports/index.html", {"reports": reports})


def report_view(slug: str):
    title, summary, build = REPORTS[slug]

    @reports_required
    def view(request):
        form = ReportFilterForm(request.GET)
        context = {"slug": slug, "title": title, "summary": summary, "form": form, "reports": REPORTS}
        if not form.is_valid():
            return render(request, "reports/report.html", context, status=400)
        filters = form.filters()
        with transaction.atomic():
            tuned_for_reports()
            report = build(filters, form.practitioners())
        wanted = request.GET.get("csv")
        if wanted is not None:
            table = report.table(wanted)
            if table is None:
                context["problem"] = "There is no such table to download: use a link under a table."
                return render(request, "reports/report.html", context, status=400)
            return csv_response(slug, table, filters)
        context.update(report=report, query=filters.query())
        return render(request, "reports/report.html", context)

    view.__name__ = f"report_{slug}"
    return view
