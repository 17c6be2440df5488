"""Query budgets: every main page and endpoint runs a fixed number of queries, however much data there is.

Each page is fetched in the permission matrix's scenario (tests/test_permission_matrix.py), then again after
`grow` has added several times the data it shows (more practitioners, patients, appointments today and in
patient A's history, health forms to review, waitlist entries). The count must not change, and must stay
within the budget written here: a page that starts looping over rows fails with the queries it ran.
"""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from bookings import availability
from bookings.frontdesk import day_cache
from bookings.models import Appointment, InboundMessage, WaitlistEntry
from clinic.models import Closure, Patient, Practitioner, TimeOff, Treatment
from payments import services as payment_services
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    WorkingHoursFactory,
    submitted_intake,
)
from tests.scenario import ARGUMENTS

# (URL name, who asks, extra query string): budget. Budgets are today's counts: lower them when a page gets
# cheaper, never raise one without saying why in the commit.
BUDGETS = {
    ("home", "anon", ""): 3,
    ("practitioner_list", "anon", ""): 2,
    ("practitioner_detail", "anon", ""): 3,
    ("treatment_detail", "anon", ""): 3,
    ("api_treatment_list", "anon", ""): 1,
    ("api_practitioner_list", "anon", ""): 2,
    ("api_practitioner_detail", "anon", ""): 2,
    ("api_availability", "anon", "availability"): 2,
    ("profile", "patient_a", ""): 1,
    ("my_appointments", "patient_a", ""): 2,
    ("appointment_detail", "patient_a", ""): 4,
    ("appointment_ics", "patient_a", ""): 2,
    ("book_start", "patient_a", ""): 3,  # + the clearance: "Consultation first" marks
    # The treatment and the chooser's practitioners and sites from the availability catalogue (-3, -1).
    ("book_treatment", "patient_a", ""): 5,
    ("book_times", "patient_a", ""): 5,  # the closed day comes with the cached times; the treatment (-1)
    ("intake_home", "patient_a", ""): 7,
    ("waitlist_mine", "patient_a", ""): 3,
    ("my_progress", "patient_a", ""): 7,
    ("api_appointment_list", "patient_a", ""): 2,
    ("api_appointment_detail", "patient_a", ""): 2,
    ("api_availability", "patient_a", "availability"): 5,
    ("my_day", "related", ""): 12,  # + the clinical alert banners (consultations.alerts: 3)
    ("practice_patient", "related", ""): 18,  # + the alert banner (3; it holds the conditions) and unpinned alerts
    ("review_queue", "related", ""): 5,
    ("intake_review", "related", ""): 13,  # + the alert banner
    ("practitioner_calendar_feed", "anon", ""): 2,
    ("health", "anon", ""): 0,  # its SELECT 1 runs on a connection of its own (a check may not share one)
    # The desk's screening status and alert come from one read (screening_and_alerts): 4 queries, not 6.
    ("desk:calendar", "desk", ""): 11,  # + 'Closed: ...' banner, + "Alert: see practitioner" (1), + the sites (1)
    ("desk:calendar", "desk", "rooms"): 9,  # + "Alert: see practitioner", + the site switcher's sites
    ("desk:week", "desk", ""): 10,  # + "Alert: see practitioner", + whether there are several sites
    ("desk:week_all", "desk", ""): 9,  # + "Alert: see practitioner", + the site switcher's sites
    ("desk:month", "desk", ""): 2,
    ("desk:panel_appointment", "desk", ""): 7,  # + "Alert: see practitioner"
    ("desk:day_sheet", "desk", ""): 7,  # + "Alert: see practitioner"
    ("desk:patients", "desk", "search"): 3,
    # The till (payments, through bookings' hooks): payments, their refunds and receipts, packages (+5 each).
    ("desk:patient", "desk", ""): 17,  # + "Alert: see practitioner"
    ("desk:inbox", "desk", ""): 3,
    ("desk:appointment", "desk", ""): 12,  # + "Alert: see practitioner"
    ("desk:closures", "desk", ""): 4,
    ("desk:rota", "desk", ""): 3,
    ("desk:rota_edit", "desk", ""): 7,  # the sites, once for every span row (+1)
    ("desk:patients", "desk", ""): 3,  # today's and recent patients
    ("waitlist_desk", "desk", ""): 5,  # + each entry's offers
    ("payments:mine", "patient_a", ""): 6,
    # The owner's reports (reports/selectors.py): aggregates in SQL, the same count for a day or three years.
    # Each page's first 2 are the signed-in admin's (the user with their roles, the second factor's device; the
    # session is read from Redis and saved at most once a minute); then the practitioners
    # and the sites (the filter's choices, the reports' names), the report's own transaction (a savepoint here,
    # its release, and SET LOCAL jit/work_mem: reports/views.py), and its reads.
    ("reports:index", "admin", ""): 2,
    ("reports:utilisation", "admin", "report"): 15,  # 3 aggregates, hours, closures, sites, time off, rooms
    ("reports:utilisation", "admin", "report-year"): 15,
    ("reports:attendance", "admin", "report"): 10,  # one grouped count (every breakdown), names, reasons
    ("reports:attendance", "admin", "report-year"): 10,
    # taken (4 sums), refunded, kept, used; month, practitioner, treatment (each payments and refunds); names;
    # outstanding (3)
    ("reports:revenue", "admin", "report"): 21,
    ("reports:revenue", "admin", "report-year"): 21,
    # patients (1 aggregate), course plans, their appointments, their grades (subqueries: none depends on rows)
    ("reports:courses", "admin", "report"): 11,
    ("reports:courses", "admin", "report-year"): 11,
    ("reports:screening", "admin", "report"): 14,  # links, forms, flags, decisions, waits, suspensions, check-ins
    ("reports:screening", "admin", "report-year"): 14,
    ("reports:messages", "admin", "report"): 8,  # one aggregate by kind and channel
    ("reports:messages", "admin", "report-year"): 8,
}

PAGES = [
    pytest.param(*key, budget, id=f"{key[0]}-{key[1]}{'-' + key[2] if key[2] else ''}")
    for key, budget in BUDGETS.items()
]


def query_string(kind: str, s) -> dict:
    if kind == "availability":
        first = timezone.localdate() + datetime.timedelta(days=1)
        return {"treatment": s.treatment_slug, "from": first, "to": first + datetime.timedelta(days=13)}
    if kind == "rooms":
        return {"view": "rooms"}
    if kind == "search":
        return {"q": "a"}
    if kind.startswith("report"):  # the weeks around today, or a year: the same queries either way
        today = timezone.localdate()
        days = 365 if kind == "report-year" else 28
        return {
            "start": (today - datetime.timedelta(days=days)).isoformat(),
            "end": (today + datetime.timedelta(days=7)).isoformat(),
        }
    return {}


def grow(s, round_: int) -> None:
    """More of everything the pages show; each round adds as much again (at other times of day)."""
    treatment = Treatment.objects.get(slug=s.treatment_slug)
    related = Practitioner.objects.get(pk=s.practitioner)
    patient_a = Patient.objects.get(pk=s.patient)
    now = timezone.now()
    day_start = timezone.localtime(now).replace(hour=9, minute=0, second=0, microsecond=0)
    for _ in range(4):
        practitioner = PractitionerFactory(treatments=[treatment])
        for weekday in range(7):
            WorkingHoursFactory(practitioner=practitioner, weekday=weekday)
        AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=day_start)
    for n in range(4):  # the related practitioner's day, and the desk's: 90 minutes apart, rounds after another
        patient = PatientFactory()
        submitted_intake(patient)
        AppointmentFactory(
            patient=patient,
            practitioner=related,
            treatment=treatment,
            start_at=day_start + datetime.timedelta(minutes=90 * (4 * round_ + n)),
        )
        WaitlistEntry.objects.create(patient=patient, treatment=treatment, created_by=patient.user)
    closure = Closure.objects.get(pk=s.closure)  # appointments to move on a closed day; time off ahead
    for n in range(2):
        on_closed_day = datetime.datetime.combine(closure.first_day, datetime.time(9 + 2 * (2 * round_ + n)))
        AppointmentFactory(practitioner=related, treatment=treatment, start_at=timezone.make_aware(on_closed_day))
        off_start = now + datetime.timedelta(days=20 + 2 * round_ + n)
        TimeOff.objects.create(practitioner=related, start_at=off_start, end_at=off_start + datetime.timedelta(hours=3))
    for n in range(3):  # texts for the desk's inbox, from patient A and from unknown numbers
        InboundMessage.objects.create(
            provider_ref=f"SM-grow-{round_}-{n}",
            from_number=f"+44770090{round_}{n:03d}",
            body="Can I come earlier?",
            received_at=now,
            patient=patient_a if n % 2 else None,
            intent="other",
            needs_desk=True,
        )
    booked = Appointment.objects.get(pk=s.appointment)
    for _ in range(2):  # patient A's money: desk payments for the booked visit, each partly refunded
        payment = payment_services.take_desk_payment(
            patient=patient_a, amount=Decimal("20"), method="cash", by=s.users["desk"], appointment=booked
        )
        payment_services.refund_payment(payment=payment, amount=Decimal("5"), by=s.users["desk"], reason="Goodwill")
    for n in range(4):  # patient A's history
        AppointmentFactory(
            patient=patient_a,
            practitioner=related,
            treatment=treatment,
            start_at=now - datetime.timedelta(days=60 + 35 * (4 * round_ + n)),
            status=Appointment.Status.COMPLETED if n % 2 else Appointment.Status.CANCELLED,
        )


def unpinned_signed_in_queries(role: str) -> int:
    """The budgets are counted as CI runs, on PostgreSQL with Redis. Without Redis a signed-in page reads its
    session row (clinic/sessions.py), and on SQLite the user's roles come in a query of their own
    (clinic/backends.py)."""
    if role == "anon":
        return 0
    return (settings.SESSION_ENGINE != "clinic.sessions") + (connection.vendor != "postgresql")


def queries_for(client, url, query) -> tuple[int, list[str]]:
    # The full computation of an answer (cached answers cost one query: test_availability_cache), with the
    # clinic's set-up as the process last saw it (reloaded only when the set-up changes).
    caches["availability"].clear()
    day_cache.forget()  # the desk's day view is counted as a change leaves it: read again
    availability.catalogue()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, query)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return len(captured), [q["sql"][:160] for q in captured.captured_queries]


@pytest.fixture(scope="module")
def grown(scenario):
    """The scenario with `grow`'s first round, added once for the module inside the scenario's transaction
    (each test's savepoint, and the second round in it, is rolled back after the test): every list a page
    shows has rows, since an empty list may skip a query. Each test added it again before (about half of
    this module's time: a round is some 150 rows through the factories and services). With the settings the
    tests' own fixtures give (tests/conftest.py), as the test added it."""
    with override_settings(CLINIC={**settings.CLINIC, "CLOSED_ON_BANK_HOLIDAYS": False}):
        grow(scenario, 0)
    return scenario


@pytest.mark.parametrize("name, role, kind, budget", PAGES)
def test_page_runs_a_fixed_number_of_queries_whatever_the_data(name, role, kind, budget, grown, db, browser):
    scenario = grown  # with grow's first round
    url = reverse(name, kwargs={k: getattr(scenario, v) for k, v in ARGUMENTS.get(name, {}).items()})
    browser.cookies.clear()
    if role != "anon":
        browser.cookies[settings.SESSION_COOKIE_NAME] = scenario.sessions[role]
    query = query_string(kind, scenario)
    queries_for(browser, url, query)  # warm: first-use lookups (content types) are not the page's, nor
    queries_for(browser, url, query)  # a staff session's idle expiry, pushed back at most once a minute
    small, _ = queries_for(browser, url, query)
    grow(scenario, 1)
    large, sql = queries_for(browser, url, query)
    listing = "\n".join(sql)
    assert large == small, f"{url}: {small} queries, then {large} with more data:\n{listing}"
    budget += unpinned_signed_in_queries(role)
    assert large <= budget, f"{url}: {large} queries, budget {budget}:\n{listing}"
