"""The permission matrix: every URL of the project against every kind of visitor.

The URLs are found by walking the URL resolver, so a URL added later fails `test_every_url_has_a_row` until it
is given its expected outcomes in MATRIX. One scenario (tests/scenario.py) is built once for the whole module
(each test runs in a savepoint that is rolled back):

- patient A: a cleared health form, a recorded past session with a progress photo, a booked future
  appointment, a waitlist entry and an offer;
- patient B: their own health form and appointment (with P2);
- practitioner P1 ("related"): A's practitioner; practitioner P2 ("unrelated"): has never seen A;
- a front-desk member and a clinic admin (signed in with their second factor).
Staff have the admin flag (the most a clinic can give them), so the Django admin's own rules are exercised too.

URL arguments are always A's objects (or P1's, for practitioner pages), so patient B and P2 are asking for
another patient's object. Each cell is its own test: the status of a GET, and of a POST (empty body) where the
URL takes writes. A POST refused for authorisation must change nothing (`snapshot`).
"""

import datetime
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.admin import site as admin_site
from django.db import connection
from django.shortcuts import resolve_url
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from bookings.models import Appointment, WaitlistEntry, WaitlistOffer
from consultations.models import IntakeForm
from tests.helpers import WriteWatch
from tests.scenario import ARGUMENTS, Scenario

ROLES = ("anon", "patient_a", "patient_b", "related", "unrelated", "desk", "admin")

# One row per URL name; a second line (POST) for URLs that take writes. Columns: anonymous visitor, patient A,
# patient B, practitioner P1 (A's), practitioner P2 (not A's), front desk, clinic admin.
#   200, 400, 403, 404, 405 ...  the status code. One rule (clinic/access.py): 403 for a role that may never
#                                come to the page (staff on a patient's own pages, the desk on clinical ones),
#                                404 for the right role asking for someone else's object
#   login                        302 to the sign-in page (LOGIN_URL, with ?next=; the admin's own for /admin/)
#   302                          a redirect somewhere else (never a sign-in page)
#   gone                         302 to the admin's index: the admin's answer for an object outside what the user
#                                may see (as for one that does not exist)
# The API answers 403 to anonymous callers: session authentication sends no WWW-Authenticate, so DRF does not
# use 401.
MATRIX = """
name                                method  anon   A      B      P1     P2     desk   admin
# public pages
home                                GET     200    200    200    200    200    200    200
treatment_detail                    GET     200    200    200    200    200    200    200
practitioner_list                   GET     200    200    200    200    200    200    200
practitioner_detail                 GET     200    200    200    200    200    200    200
practitioner_edit                   GET     login  403    403    200    403    403    200
                                    POST    login  403    403    200    403    403    200
practitioner_calendar_settings      GET     login  403    403    200    403    403    200
                                    POST    login  403    403    302    403    403    302
practitioner_calendar_feed          GET     200    200    200    200    200    200    200
# operations: the health check answers everyone (clinic/health.py); it shows which service fails, no data
health                              GET     200    200    200    200    200    200    200
# accounts
signup                              GET     200    302    302    302    302    302    302
                                    POST    200    302    302    302    302    302    302
login                               GET     200    302    302    302    302    302    302
                                    POST    200    302    302    302    302    302    302
# signed links in messages: a forged token is refused alike for everyone (tests/test_signed_links.py has the rest)
signed_link                         GET     404    404    404    404    404    404    404
                                    POST    404    404    404    404    404    404    404
# the SMS provider's webhooks: POST only, and only with Twilio's signature (tests/test_sms_twilio.py)
sms_status                          GET     405    405    405    405    405    405    405
                                    POST    403    403    403    403    403    403    403
sms_inbound                         GET     405    405    405    405    405    405    405
                                    POST    403    403    403    403    403    403    403
# setting a password is only offered in a session a link opened
link_set_password                   GET     login  404    404    404    404    404    404
                                    POST    login  404    404    404    404    404    404
logout                              GET     405    405    405    405    405    405    405
                                    POST    302    302    302    302    302    302    302
profile                             GET     login  200    200    302    302    403    403
                                    POST    login  200    200    302    302    403    403
start                               GET     login  302    302    302    302    302    302
my_data                             GET     login  200    200    403    403    403    403
my_data_json                        GET     login  200    200    403    403    403    403
erasure_request                     GET     login  200    200    403    403    403    403
                                    POST    login  400    400    403    403    403    403
two_factor_setup                    GET     login  302    302    200    200    200    200
                                    POST    login  302    302    200    200    200    200
two_factor_verify                   GET     login  302    302    302    302    302    200
                                    POST    login  302    302    302    302    302    200
password_change                     GET     login  200    200    200    200    200    200
                                    POST    login  200    200    200    200    200    200
password_change_done                GET     login  200    200    200    200    200    200
password_reset                      GET     200    200    200    200    200    200    200
                                    POST    200    200    200    200    200    200    200
password_reset_done                 GET     200    200    200    200    200    200    200
password_reset_confirm              GET     200    200    200    200    200    200    200
password_reset_complete             GET     200    200    200    200    200    200    200
# the patient's health form, consent and progress
intake_home                         GET     login  200    200    403    403    403    403
intake_form                         GET     login  200    200    403    403    403    403
                                    POST    login  200    200    403    403    403    403
consent_sign                        GET     login  200    200    403    403    403    403
                                    POST    login  200    200    403    403    403    403
intake_confirm                      GET     login  200    404    403    403    403    403
                                    POST    login  302    404    403    403    403    403
my_progress                         GET     login  200    200    403    403    403    403
photo_consent                       GET     login  405    405    403    403    403    403
                                    POST    login  302    302    403    403    403    403
aftercare_check_in                  GET     login  200    404    403    403    403    403
                                    POST    login  200    404    403    403    403    403
# practitioners' pages: health data
review_queue                        GET     login  403    403    200    200    403    200
intake_review                       GET     login  403    403    200    404    403    200
                                    POST    login  403    403    200    404    403    403
my_day                              GET     login  403    403    200    200    403    200
practice_patient                    GET     login  403    403    200    404    403    200
practice_course_plan                GET     login  403    403    405    405    403    405
                                    POST    login  403    403    200    404    403    200
practice_pin_alert                  GET     login  403    403    405    405    403    405
                                    POST    login  403    403    200    404    403    200
practice_unpin_alert                GET     login  403    403    405    405    403    405
                                    POST    login  403    403    302    404    403    302
practice_session_record             GET     login  403    403    200    404    403    200
                                    POST    login  403    403    200    404    403    200
session_photo                       GET     login  200    404    200    404    403    200
# the patient's bookings and waitlist
book_start                          GET     login  200    200    403    403    403    403
book_treatment                      GET     login  200    200    403    403    403    403
book_times                          GET     login  200    200    403    403    403    403
book_confirm                        GET     login  400    400    403    403    403    403
                                    POST    login  400    400    403    403    403    403
my_appointments                     GET     login  200    200    403    403    403    403
appointment_detail                  GET     login  200    404    403    403    403    403
appointment_cancel                  GET     login  200    404    403    403    403    403
                                    POST    login  302    404    403    403    403    403
appointment_reschedule              GET     login  200    404    403    403    403    403
                                    POST    login  200    404    403    403    403    403
appointment_reschedule_times        GET     login  200    404    403    403    403    403
appointment_ics                     GET     login  200    404    200    404    200    200
waitlist_mine                       GET     login  200    200    403    403    403    403
waitlist_join                       GET     login  200    200    403    403    403    403
                                    POST    login  400    400    403    403    403    403
waitlist_leave                      GET     login  405    405    403    403    403    403
                                    POST    login  302    404    403    403    403    403
waitlist_offer                      GET     login  200    404    403    403    403    403
                                    POST    login  302    404    403    403    403    403
# payments: the patient's deposit step and payments, receipts, Stripe's webhook (unsigned: 404 without keys)
payments:mine                       GET     login  200    200    403    403    403    403
payments:deposit                    GET     login  302    404    403    403    403    403
                                    POST    login  302    404    403    403    403    403
payments:deposit_return             GET     login  302    404    403    403    403    403
payments:document_pdf               GET     login  200    404    404    404    200    200
payments:stripe_webhook             GET     405    405    405    405    405    405    405
                                    POST    404    404    404    404    404    404    404
# payments: the desk's till (an empty POST is refused with a message and goes back)
payments:desk_take                  GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    302    302
payments:desk_sell_package          GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    302    302
payments:desk_refund                GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    302    302
payments:desk_waive_fee             GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    302    302
payments:desk_invoice               GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    302    302
payments:desk_package_refund        GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    403    302
# the front desk
desk:calendar                       GET     login  403    403    403    403    200    200
desk:week                           GET     login  403    403    403    403    200    200
desk:day_sheet                      GET     login  403    403    403    403    200    200
desk:week_all                       GET     login  403    403    403    403    200    200
desk:month                          GET     login  403    403    403    403    200    200
desk:panel_book                     GET     login  403    403    403    403    200    200
                                    POST    login  403    403    403    403    302    302
desk:panel_patients                 GET     login  403    403    403    403    200    200
desk:panel_appointment              GET     login  403    403    403    403    200    200
desk:panel_move                     GET     login  403    403    403    403    200    200
                                    POST    login  403    403    403    403    302    302
desk:appointment                    GET     login  403    403    403    403    200    200
desk:move                           GET     login  403    403    403    403    200    200
                                    POST    login  403    403    403    403    200    200
desk:cancel                         GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    302    302
desk:status                         GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    302    302
desk:patients                       GET     login  403    403    403    403    200    200
desk:patient_new                    GET     login  403    403    403    403    200    200
                                    POST    login  403    403    403    403    200    200
desk:patient                        GET     login  403    403    403    403    200    200
desk:patient_form_link              GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    302    302
desk:inbox                          GET     login  403    403    403    403    200    200
desk:inbox_done                     GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    302    302
desk:reminder_send_again            GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    302    302
desk:book                           GET     login  403    403    403    403    200    200
                                    POST    login  403    403    403    403    200    200
desk:closures                       GET     login  403    403    403    403    200    200
                                    POST    login  403    403    403    403    200    200
desk:closure_remove                 GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    302    302
desk:rota                           GET     login  403    403    403    403    200    200
desk:rota_edit                      GET     login  403    403    403    403    200    200
                                    POST    login  403    403    403    403    200    200
waitlist_desk                       GET     login  403    403    403    403    200    200
waitlist_desk_add                   GET     login  403    403    403    403    200    200
                                    POST    login  403    403    403    403    400    400
waitlist_desk_remove                GET     login  403    403    403    403    405    405
                                    POST    login  403    403    403    403    302    302
# the owner's reports: clinic admins only (clinic.access.may_see_reports)
reports:index                       GET     login  403    403    403    403    403    200
reports:utilisation                 GET     login  403    403    403    403    403    200
reports:attendance                  GET     login  403    403    403    403    403    200
reports:revenue                     GET     login  403    403    403    403    403    200
reports:courses                     GET     login  403    403    403    403    403    200
reports:screening                   GET     login  403    403    403    403    403    200
reports:messages                    GET     login  403    403    403    403    403    200
# the JSON API
api_treatment_list                  GET     200    200    200    200    200    200    200
api_treatment_detail                GET     200    200    200    200    200    200    200
api_practitioner_list               GET     200    200    200    200    200    200    200
api_practitioner_detail             GET     200    200    200    200    200    200    200
api_availability                    GET     200    200    200    200    200    200    200
api_appointment_list                GET     403    200    200    403    403    403    403
                                    POST    403    400    400    403    403    403    403
api_appointment_detail              GET     403    200    404    403    403    403    403
api_appointment_cancel              GET     403    405    405    403    403    403    403
                                    POST    403    200    404    403    403    403    403
api_schema                          GET     200    200    200    200    200    200    200
api_docs                            GET     200    200    200    200    200    200    200
# the Django admin (representative pages, see ADMIN_URLS_KEPT; staff here have the admin flag)
admin:index                         GET     login  login  login  200    200    200    200
admin:clinic_patient_changelist     GET     login  login  login  200    200    200    200
admin:clinic_patient_change         GET     login  login  login  200    gone   200    200
admin:clinic_practitioner_change    GET     login  login  login  200    gone   200    200
admin:auditlog_logentry_changelist  GET     login  login  login  403    403    403    200
"""

# The scenario's objects that belong to patient A: for these, patient B and practitioner P2 ask for another
# patient's object and must get 403 or 404, whatever the table says.
PATIENT_A_OBJECTS = {"appointment", "past_appointment", "intake", "patient", "photo", "entry", "offer", "alert"}
# Pages that show clinical detail (health-form answers, session records, photos): never the front desk's.
CLINICAL = {
    "intake_review",
    "practice_patient",
    "practice_course_plan",
    "practice_pin_alert",
    "practice_unpin_alert",
    "practice_session_record",
    "session_photo",
}

# Patterns left out of the matrix, each for a reason:
# - the Django admin's own pages (every model's add/change/delete/history, its login, logout, password
#   change, jsi18n, app index): all behind the admin's `is_staff` check and the model permissions of
#   clinic/roles.py, with the project's own rules per model admin tested in tests/test_roles.py. The
#   representative pages kept show the staff check, the permissions and the per-object rules for every role.
# - the DEBUG-only media pattern (`static()`, no name): it serves MEDIA_ROOT (practitioners' public profile
#   photos) in development only; clinical photos are never under MEDIA_ROOT (tests/test_private_photos.py).
ADMIN_URLS_KEPT = {
    "admin:index",
    "admin:clinic_patient_changelist",
    "admin:clinic_patient_change",
    "admin:clinic_practitioner_change",
    "admin:auditlog_logentry_changelist",
}
QUERY = {
    "api_availability": lambda s: {
        "treatment": s.treatment_slug,
        "practitioner": s.practitioner_slug,
        "from": s.today.isoformat(),
        "to": (s.today + datetime.timedelta(days=6)).isoformat(),
    }
}
REFUSALS = {"login", "gone", "401", "403", "404", "405"}


def parse_matrix(text: str) -> dict[tuple[str, str], dict[str, str]]:
    rows, name = {}, None
    for line in text.strip().splitlines()[1:]:
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] not in ("GET", "POST"):
            name, words = words[0], words[1:]
        method, cells = words[0], words[1:]
        assert len(cells) == len(ROLES), f"{name} {method}: {len(cells)} cells, expected {len(ROLES)}"
        rows[(name, method)] = dict(zip(ROLES, cells, strict=True))
    return rows


EXPECTED = parse_matrix(MATRIX)


# --- the URL patterns --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str | None
    namespace: str
    route: str
    params: frozenset


def project_routes(patterns=None, prefix="", namespace="", params=frozenset()):
    """Every URL pattern of the project with its full name (namespace included) and its arguments."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        here = params | set(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from project_routes(entry.url_patterns, prefix + str(entry.pattern), inner, frozenset(here))
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield Route(name, namespace, prefix + str(entry.pattern), frozenset(here))


def is_excluded(route: Route) -> bool:
    if route.namespace.startswith(f"{admin_site.name}:"):
        return route.name not in ADMIN_URLS_KEPT
    return route.name is None and route.route.lstrip("^").startswith(settings.MEDIA_URL.lstrip("/"))


def matrix_routes() -> dict[str, Route]:
    return {route.name: route for route in project_routes() if not is_excluded(route)}


def test_every_url_has_a_row():
    routes = matrix_routes()
    unnamed = [route.route for route in project_routes() if route.name is None and not is_excluded(route)]
    assert not unnamed, f"URL patterns without a name cannot be in the matrix: {unnamed}"
    in_table = {name for name, _ in EXPECTED}
    missing = sorted(set(routes) - in_table)
    assert not missing, "\n".join(f"give {name} its expected outcomes in the matrix" for name in missing)
    gone = sorted(in_table - set(routes))
    assert not gone, f"rows for URLs that no longer exist: {gone}"
    assert all((name, "GET") in EXPECTED for name in routes), "every URL needs a GET row"


def test_every_url_argument_comes_from_the_scenario():
    for name, route in matrix_routes().items():
        given = set(ARGUMENTS.get(name, {}))
        assert given == set(route.params), f"{name} takes {sorted(route.params)}: set them in ARGUMENTS"


def test_the_table_never_expects_another_patients_object_to_be_reachable():
    """A guard on the table itself: nobody can 'fix' a failing cell by writing a hole in as expected."""
    for (name, method), cells in EXPECTED.items():
        if set(ARGUMENTS.get(name, {}).values()) & PATIENT_A_OBJECTS:
            for role in ("patient_b", "unrelated"):
                assert cells[role] in REFUSALS, f"{name} {method}: {role} reaches patient A's object"
        if name in CLINICAL:
            assert cells["desk"] in REFUSALS, f"{name} {method}: the front desk reaches clinical detail"


# --- the cells ---------------------------------------------------------------------------------------------


def project_models() -> list:
    from django.apps import apps

    apps_with_data = ("clinic", "consultations", "bookings", "practice", "payments")
    return [m for label in apps_with_data for m in apps.get_app_config(label).get_models()]


def snapshot(s: Scenario):
    """Row counts of every table of the project's apps, and patient A's objects as stored: what a refused
    write must leave exactly as it was."""
    models = project_models()
    counts = ", ".join(f"(SELECT COUNT(*) FROM {connection.ops.quote_name(m._meta.db_table)})" for m in models)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        row = dict(zip([m._meta.label for m in models], cursor.fetchone(), strict=True))
    from clinic.models import Patient, Practitioner, User
    from practice.models import PhotoConsent, SessionRecord

    objects = [
        (Patient, s.patient),
        (User, s.users["patient_a"].pk),
        (Appointment, s.appointment),
        (Appointment, s.past_appointment),
        (IntakeForm, s.intake),
        (WaitlistEntry, s.entry),
        (WaitlistOffer, s.offer),
        (Practitioner, s.practitioner),
    ]
    state = [model.objects.filter(pk=pk).values().first() for model, pk in objects]
    state.append(list(SessionRecord.objects.filter(appointment_id=s.past_appointment).values()))
    state.append(list(PhotoConsent.objects.filter(patient_id=s.patient).values()))
    return row, state


CELLS = [
    pytest.param(name, method, role, id=f"{name}-{method}-{role}") for (name, method) in EXPECTED for role in ROLES
]


@pytest.mark.parametrize("name, method, role", CELLS)
def test_cell(name, method, role, scenario, db, browser):
    expected = EXPECTED[(name, method)][role]
    url = reverse(name, kwargs={k: getattr(scenario, v) for k, v in ARGUMENTS.get(name, {}).items()})
    client = browser
    client.cookies.clear()
    if role != "anon":
        client.cookies[settings.SESSION_COOKIE_NAME] = scenario.sessions[role]
    if method == "GET":
        query = QUERY[name](scenario) if name in QUERY else {}
        response = client.get(url, query)
    else:
        # A refusal writes nothing (compared only if PostgreSQL counts a write: `tests.helpers.WriteWatch`).
        watch = WriteWatch(model._meta.db_table for model in project_models())
        as_json = {"content_type": "application/json"} if name.startswith("api_") else {}  # the API takes JSON only
        response = client.post(url, {}, **as_json)
    assert_outcome(response, expected, f"{method} {url} as {role}", admin=name.startswith(f"{admin_site.name}:"))
    if method == "POST" and expected in REFUSALS:
        compared = watch.before_and_after(lambda: snapshot(scenario))
        assert compared is None or compared[0] == compared[1], f"{method} {url} as {role} was refused but changed data"


def assert_outcome(response, expected: str, what: str, *, admin: bool):
    location = response.get("Location", "")
    if expected == "login":
        login = reverse("admin:login") if admin else resolve_url(settings.LOGIN_URL)
        assert (response.status_code, location.split("?")[0]) == (302, login), f"{what}: {response.status_code}"
        assert "next=" in location, f"{what}: the sign-in page should bring the visitor back"
        return
    if expected == "gone":
        assert (response.status_code, location) == (302, reverse("admin:index")), f"{what}: {response.status_code}"
        return
    assert response.status_code == int(expected), f"{what}: {response.status_code} {location}"
    if response.status_code == 302:
        assert not location.startswith((resolve_url(settings.LOGIN_URL), reverse("admin:login"))), what


# --- a desk user of another site (issue 17) -----------------------------------------------------------------
# Clinic policy (clinic.access.may_see_site_calendar): the front desk of any site may open every desk page,
# every site's calendar included, with the same answers as the scenario's desk (column "desk"); only the
# default view is their own site's (clinic.access.desk_default_sites; tests/test_sites_desk.py).
DESK_OF_ANOTHER_SITE = [
    pytest.param(name, method, id=f"{name}-{method}-desk_of_another_site")
    for (name, method) in EXPECTED
    if name.startswith("desk:") and method == "GET"
]


@pytest.mark.parametrize("name, method", DESK_OF_ANOTHER_SITE)
def test_cell_desk_of_another_site(name, method, scenario, db, browser):
    from clinic import roles
    from tests.factories import SiteFactory, staff_user

    manchester = SiteFactory(name="Manchester", slug="manchester")
    desk = staff_user(roles.FRONT_DESK)
    manchester.staff.add(desk)
    url = reverse(name, kwargs={k: getattr(scenario, v) for k, v in ARGUMENTS.get(name, {}).items()})
    browser.cookies.clear()
    browser.force_login(desk)
    for query in ({}, {"site": "all"}):
        response = browser.get(url, query)
        expected = EXPECTED[(name, method)]["desk"]
        assert_outcome(response, expected, f"GET {url} {query} as a desk user of Manchester", admin=False)
