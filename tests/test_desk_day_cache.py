"""The desk's day view is kept per process for the state of what it shows (bookings/frontdesk/day_cache.py):
every kind of change a card, a cell or the page shows must be on the next load, with the kept grid warm.

Each test loads the day twice (the second load must come from the kept grid: nothing built), makes one
change the way the clinic makes it (a service, a form, the admin's save), and reads the change on the next
load. Without the database trigger that bumps the scope of that change, the next load would be the kept
grid again and the test fails: that is what these tests are for (a stale desk could show a flagged patient
as cleared). The clock is set to a fixed morning, so nothing depends on the hour the tests run.
"""

import datetime
import re

import pytest
from django.db import connection
from django.test import Client

from bookings import services, states
from bookings.frontdesk import calendar, day_cache
from bookings.models import Appointment
from clinic import roles
from clinic.models import Closure, WorkingHours
from clinic.services import close_clinic
from consultations import services as consultation_services
from consultations.consent import CONSENT_VERSION
from consultations.selectors import CLEARED, FLAGGED, NO_FORM, PENDING
from practice.models import IntakeConfirmation
from tests.factories import (
    AppointmentFactory,
    ConsultationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SiteFactory,
    TimeOffFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    clear_patient,
    staff_user,
    submitted_intake,
)
from tests.helpers import at, set_clock

# Kept only on PostgreSQL, where the triggers keep it right: without it these fail under REQUIRE_SERVICES=1
# (CI) and are skipped otherwise (tests/conftest.py), never passed over silently.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

DAY = datetime.date(2027, 1, 12)  # a Tuesday


class Desk:
    """The day view as the desk loads it, counting the grids built (a load from the kept grid builds none)."""

    def __init__(self, client, monkeypatch):
        self.client, self.builds = client, 0
        for name in ("day_by_practitioner", "day_by_room"):
            monkeypatch.setattr(calendar, name, self._counted(getattr(calendar, name)))

    def _counted(self, build):
        def counted(*args, **kwargs):
            self.builds += 1
            return build(*args, **kwargs)

        return counted

    def page(self, view="", **headers) -> str:
        response = self.client.get(f"/desk/?date={DAY:%Y-%m-%d}{view}", headers=headers)
        assert response.status_code == 200
        return response.content.decode()

    def warm(self, view="") -> str:
        """Load twice; the second load must be the kept grid."""
        self.page(view)
        built = self.builds
        page = self.page(view)
        assert self.builds == built, "the second load built the grid again: nothing is kept"
        return page

    def card(self, appointment, view="") -> str:
        found = re.search(rf'<a class="cal-appt[^>]*data-appointment="{appointment.pk}".*?</a>', self.page(view), re.S)
        return found.group(0) if found else ""


@pytest.fixture
def desk_user(client, monkeypatch):
    set_clock(monkeypatch, at(DAY, 7))  # 07:00 that morning: the whole grid ahead (it starts at 08:00)
    user = staff_user(roles.FRONT_DESK)
    client.force_login(user)
    return user


@pytest.fixture
def desk(client, monkeypatch, desk_user):
    return Desk(client, monkeypatch)


@pytest.fixture
def consultation():
    return ConsultationFactory(name="Skin consultation", duration_minutes=60, buffer_after_minutes=0)


@pytest.fixture
def practitioner(consultation):
    practitioner = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart", treatments=[consultation])
    WorkingHoursFactory(practitioner=practitioner, weekday=DAY.weekday())  # 09:00-17:00
    RoomFactory()
    return practitioner


@pytest.fixture
def booked(practitioner, consultation):
    patient = PatientFactory(user__first_name="Jo", user__last_name="Bloggs")
    return AppointmentFactory(patient=patient, practitioner=practitioner, treatment=consultation, start_at=at(DAY, 10))


def cell(desk_page, practitioner, hour, minute=0) -> str:
    """'free', 'covered' or 'gone' for the practitioner's cell at that time."""
    slot = f'data-slot="{practitioner.pk}@{at(DAY, hour, minute):%Y-%m-%dT%H:%MZ}"'
    if slot not in desk_page:
        return "gone"
    return "covered" if "cal-covered" in desk_page.split(slot)[0][-120:] else "free"


# --- appointments ------------------------------------------------------------------------------------------


def test_a_booking_shows_at_once(desk, desk_user, practitioner, consultation):
    assert cell(desk.warm(), practitioner, 13) == "free"
    patient = PatientFactory(user__first_name="Nia", user__last_name="Walker")
    services.book_appointment(
        patient=patient,
        treatment=consultation,
        practitioner=practitioner,
        start_at=at(DAY, 13),
        booked_by=desk_user,
        source=Appointment.Source.PHONE,
    )
    page = desk.page()
    assert "Nia Walker" in page and cell(page, practitioner, 13) == "covered"


def test_the_minute_reload_is_not_modified_until_the_grid_is(
    client, desk, desk_user, practitioner, consultation, monkeypatch
):
    """htmx's reload of the grid carries an ETag of its bytes: asked again with it, the answer is 304 without
    a body while nothing changed; a booking, or the clock passing a cell's start, gives a new grid and a new
    tag. The page itself is never answered 304 (its token is the request's own)."""
    day_page, hx = f"/desk/?date={DAY:%Y-%m-%d}", {"HX-Request": "true"}
    first = client.get(day_page, headers=hx)
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and "private" in first["Cache-Control"]
    assert "no-cache" in first["Cache-Control"] and "HX-Request" in first["Vary"]
    again = client.get(day_page, headers={**hx, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    assert client.get(day_page, headers={"If-None-Match": etag}).status_code == 200  # the page: never
    assert client.get(day_page, headers={**hx, "If-None-Match": '"other"'}).content == first.content

    services.book_appointment(
        patient=PatientFactory(user__first_name="Nia", user__last_name="Walker"),
        treatment=consultation,
        practitioner=practitioner,
        start_at=at(DAY, 13),
        booked_by=desk_user,
        source=Appointment.Source.PHONE,
    )
    booked = client.get(day_page, headers={**hx, "If-None-Match": etag})
    assert booked.status_code == 200 and "Nia Walker" in booked.content.decode() and booked["ETag"] != etag
    etag = booked["ETag"]
    assert client.get(day_page, headers={**hx, "If-None-Match": etag}).status_code == 304
    set_clock(monkeypatch, at(DAY, 9, 1))  # past the 09:00 cell
    client.force_login(desk_user)  # two hours on: the staff session has timed out (idle)
    later = client.get(day_page, headers={**hx, "If-None-Match": etag})
    assert later.status_code == 200 and cell(later.content.decode(), practitioner, 9) == "gone"


def test_a_cancellation_shows_at_once(desk, desk_user, booked, practitioner):
    assert "Jo Bloggs" in desk.card(booked) and cell(desk.warm(), practitioner, 10) == "covered"
    services.cancel_appointment(booked, by=desk_user, reason="Feeling unwell")
    page = desk.page()
    assert desk.card(booked) == "" and cell(page, practitioner, 10) == "free"
    assert "Cancelled (1)" in page and "Feeling unwell" in page


def test_a_check_in_shows_at_once(desk, desk_user, booked):
    desk.warm()
    assert "status-booked" in desk.card(booked)
    services.check_in(booked, by=desk_user)
    assert "status-checked_in" in desk.card(booked)


def test_a_no_show_shows_at_once(desk, desk_user, booked, monkeypatch):
    set_clock(monkeypatch, at(DAY, 11, 30))  # after it started
    desk.warm()
    services.mark_no_show(booked, by=desk_user)
    assert "status-no_show" in desk.card(booked)


def test_a_move_shows_at_once(desk, desk_user, booked, practitioner):
    assert desk.warm() and "10:00–11:00" in desk.card(booked)
    services.reschedule_appointment(booked, new_start_at=at(DAY, 14), by=desk_user)
    page = desk.page()
    assert "14:00–15:00" in desk.card(booked)
    assert cell(page, practitioner, 10) == "free" and cell(page, practitioner, 14) == "covered"


def test_a_move_to_another_practitioner_shows_in_their_column(desk, desk_user, booked, consultation):
    ben = PractitionerFactory(user__first_name="Ben", user__last_name="Cole", treatments=[consultation])
    WorkingHoursFactory(practitioner=ben, weekday=DAY.weekday())
    page = desk.warm()
    assert cell(page, ben, 10) == "free"
    services.reschedule_appointment(booked, new_start_at=at(DAY, 10), practitioner=ben, by=desk_user)
    assert cell(desk.page(), ben, 10) == "covered"


def test_a_confirmation_shows_at_once(desk, booked):
    desk.warm()
    assert "Confirmed" not in desk.card(booked)
    services.confirm_appointment(booked, by=booked.patient.user, via="text")
    assert "Confirmed" in desk.card(booked)


def test_a_paid_deposit_shows_at_once(desk, practitioner, consultation):
    held = AppointmentFactory(
        practitioner=practitioner,
        treatment=consultation,
        start_at=at(DAY, 15),
        status=Appointment.Status.AWAITING_DEPOSIT,
    )
    desk.warm()
    assert "status-awaiting_deposit" in desk.card(held)
    assert services.confirm_awaited_deposit(held)  # what payments calls once Stripe says it is paid
    assert "status-booked" in desk.card(held)


# --- the practitioners' days --------------------------------------------------------------------------------


def test_time_off_shows_at_once(desk, practitioner):
    assert cell(desk.warm(), practitioner, 15) == "free"
    TimeOffFactory(practitioner=practitioner, start_at=at(DAY, 14), end_at=at(DAY, 16))
    page = desk.page()
    assert cell(page, practitioner, 15) == "covered" and 'title="Time off"' in page


def test_a_closure_shows_at_once(desk, desk_user, practitioner):
    assert cell(desk.warm(), practitioner, 15) == "free"
    close_clinic(first_day=DAY, last_day=DAY, reason="Staff training", by=desk_user)
    page = desk.page()
    assert "Closed: Staff training" in page and cell(page, practitioner, 15) == "gone"
    Closure.objects.all().delete()
    assert cell(desk.page(), practitioner, 15) == "free"


def test_working_hours_show_at_once(desk, practitioner):
    assert cell(desk.warm(), practitioner, 18) == "gone"
    WorkingHours.objects.filter(practitioner=practitioner).update(end=datetime.time(19))
    assert cell(desk.page(), practitioner, 18) == "free"


def test_a_practitioners_new_name_shows_at_once(desk, practitioner):
    desk.warm()
    practitioner.user.last_name = "Stone"
    practitioner.user.save()
    assert "Amelia Stone" in desk.page()


def test_a_rooms_new_name_shows_at_once_by_room(desk, booked):
    assert booked.room.name in desk.warm("&view=rooms")
    booked.room.name = "Garden room"
    booked.room.save()
    assert "Garden room" in desk.page("&view=rooms")


# --- the patients -------------------------------------------------------------------------------------------


def test_a_patients_new_name_shows_at_once(desk, booked):
    desk.warm()
    booked.patient.user.first_name = "Joanna"
    booked.patient.user.save()
    assert "Joanna Bloggs" in desk.card(booked)


def test_a_health_form_sent_shows_at_once(desk, booked):
    desk.warm()
    assert NO_FORM.label in desk.card(booked)
    submitted_intake(booked.patient)
    assert PENDING.label in desk.card(booked)


def test_a_flagged_form_shows_at_once_even_after_a_clearance(desk, practitioner, consultation):
    """The case that matters most: a cleared patient sends a form that flags; the desk must not say cleared."""
    patient = clear_patient(PatientFactory())
    appointment = AppointmentFactory(
        patient=patient, practitioner=practitioner, treatment=consultation, start_at=at(DAY, 11)
    )
    desk.warm()
    assert CLEARED.label in desk.card(appointment)
    submitted_intake(patient, anticoagulants=["warfarin"])
    card = desk.card(appointment)
    assert CLEARED.label not in card and "Alert: see practitioner" in card, card


def test_a_form_that_flags_shows_at_once(desk, booked):
    desk.warm()
    submitted_intake(booked.patient, anticoagulants=["warfarin"])
    card = desk.card(booked)
    assert FLAGGED.label in card and "Alert: see practitioner" in card


def test_a_review_shows_at_once(desk, booked, practitioner):
    intake = submitted_intake(booked.patient)
    desk.warm()
    assert PENDING.label in desk.card(booked)
    consultation_services.record_review(intake, reviewer=practitioner.user, decision="cleared")
    assert CLEARED.label in desk.card(booked)


def test_a_pinned_alert_shows_at_once(desk, booked, practitioner):
    desk.warm()
    assert "Alert: see practitioner" not in desk.card(booked)
    consultation_services.pin_alert(booked.patient, by=practitioner.user, text="Latex allergy")
    assert "Alert: see practitioner" in desk.card(booked)


def test_a_signed_consent_shows_at_once(desk, practitioner):
    session = TreatmentFactory(name="Thighs session", duration_minutes=60, buffer_after_minutes=0)
    appointment = AppointmentFactory(practitioner=practitioner, treatment=session, start_at=at(DAY, 12))
    desk.warm()
    assert "To do: consent" in desk.card(appointment)
    consultation_services.sign_consent(appointment.patient, signed_name="Pat Example")
    assert CONSENT_VERSION and "To do: consent" not in desk.card(appointment)


def test_a_confirmed_health_form_shows_at_once(desk, practitioner):
    session = TreatmentFactory(name="Thighs session", duration_minutes=60, buffer_after_minutes=0)
    patient = clear_patient(PatientFactory())
    appointment = AppointmentFactory(
        patient=patient, practitioner=practitioner, treatment=session, start_at=at(DAY, 12)
    )
    desk.warm()
    assert "To do: confirm health form" in desk.card(appointment)
    intake = patient.intake
    IntakeConfirmation.objects.create(appointment=appointment, intake=intake, intake_version=intake.version)
    assert "To do: confirm health form" not in desk.card(appointment)


def test_a_form_shows_on_every_day_the_patient_comes_and_leaves_other_days_kept(desk, booked, practitioner):
    """What a card shows of a patient is bumped on the dates their visits start (bookings 0028): their other
    day shows it too; a day they do not come on is kept as it was."""
    later = AppointmentFactory(patient=booked.patient, practitioner=practitioner, treatment=booked.treatment,
                               start_at=at(DAY + datetime.timedelta(days=14), 10))  # fmt: skip
    other_view = f"&date={DAY + datetime.timedelta(days=14):%Y-%m-%d}"
    quiet_view = f"&date={DAY + datetime.timedelta(days=7):%Y-%m-%d}"
    desk.warm(quiet_view)
    desk.page(other_view)
    assert NO_FORM.label in desk.card(later, other_view) and NO_FORM.label in desk.card(booked)
    built = desk.builds
    submitted_intake(booked.patient, anticoagulants=["warfarin"])
    desk.page(quiet_view)
    assert desk.builds == built  # nothing of that day changed: kept
    assert FLAGGED.label in desk.card(booked) and FLAGGED.label in desk.card(later, other_view)


# --- the moment, and who asks -------------------------------------------------------------------------------


def test_the_kept_grid_follows_the_clock(desk, desk_user, practitioner, monkeypatch):
    """Cells before now and the "now" line are put in at each load, not kept."""
    page = desk.warm()
    assert cell(page, practitioner, 9) == "free" and "cal-now" not in page  # 07:00: before the window
    built = desk.builds
    set_clock(monkeypatch, at(DAY, 12, 10))
    desk.client.force_login(desk_user)  # hours later: the staff session has timed out (idle)
    page = desk.page()
    assert desk.builds == built  # the same kept grid
    assert cell(page, practitioner, 9) == "gone" and cell(page, practitioner, 12, 15) == "free"
    assert re.search(r'<div class="cal-now cal-r-\d+ cal-s-1" title="Now">', page)
    assert desk.page(**{"HX-Request": "true"}).count('title="Now"') == 1  # htmx's reload: the grid alone


def test_the_kept_grid_reads_as_one_built_fresh_at_every_moment_around_a_cell_and_a_row(
    desk, desk_user, booked, practitioner, monkeypatch
):
    """A kept grid hands out the bytes it last wrote while the cells shown and the "now" line stay the same
    (day_cache.Kept.pieces): at each instant around a cell's start (10:15, every 15 minutes) and a row's
    (every 5 minutes), a microsecond either side, it reads as the grid built afresh at that instant."""
    tick = datetime.timedelta(microseconds=1)
    instants = [at(DAY, 10, 14) - tick, at(DAY, 10, 14), at(DAY, 10, 15) - tick, at(DAY, 10, 15)]
    second = datetime.timedelta(seconds=1)
    instants += [at(DAY, 10, 15) + tick, at(DAY, 10, 20) - second, at(DAY, 10, 20), at(DAY, 10, 20) + tick]
    instants += [at(DAY, 10, 29), at(DAY, 10, 30) + tick, at(DAY, 21), at(DAY, 23, 59)]
    fresh = []
    for instant in instants:
        set_clock(monkeypatch, instant)
        desk.client.force_login(desk_user)  # hours on: the staff session times out (idle)
        day_cache.forget()
        fresh.append(desk.page(**{"HX-Request": "true"}))
    day_cache.forget()
    desk.page()
    built = desk.builds
    for instant, expected in zip(instants, fresh, strict=True):
        set_clock(monkeypatch, instant)
        desk.client.force_login(desk_user)
        assert desk.page(**{"HX-Request": "true"}) == expected, instant
    assert desk.builds == built  # all from the kept grid
    assert cell(fresh[3], practitioner, 10, 15) != "gone" and cell(fresh[4], practitioner, 10, 15) == "gone"
    assert len(set(fresh)) > 4  # the moments differ: cells leave, the line moves


def test_a_kept_grid_is_the_grid_built_fresh(desk, booked, monkeypatch):
    set_clock(monkeypatch, at(DAY, 10, 20))  # a "now" line and cells from now on
    fresh = desk.page(**{"HX-Request": "true"})
    built = desk.builds
    assert desk.page(**{"HX-Request": "true"}) == fresh and desk.builds == built


def test_what_depends_on_who_asks_is_not_kept(client, desk, booked):
    first = desk.warm()
    other = staff_user(roles.FRONT_DESK, first_name="Other", last_name="Desk")
    client.force_login(other)
    built = desk.builds
    second = desk.page()
    assert desk.builds == built  # the grid kept for the first user
    token = re.compile(r'"X-CSRFToken": "([^"]+)"')
    assert token.search(first).group(1) != token.search(second).group(1)


def test_a_kept_load_reads_only_the_state_and_who_asks(desk, booked):
    """Cold, the day view costs its pinned queries (tests/test_query_budgets.py); kept, the state and the page
    around the grid: the user (with whether they have a second factor, clinic.backends), the desk's sites, the
    state."""
    from django.test.utils import CaptureQueriesContext

    desk.warm()
    with CaptureQueriesContext(connection) as kept:
        desk.page()
    assert len(kept) == 3, [q["sql"][:120] for q in kept.captured_queries]


def test_a_visit_moved_in_from_another_day_shows_at_once(desk, desk_user, practitioner, consultation):
    """A patient with nothing that day until a move: the day's state names no scope of theirs, so only the
    room's scope on the new date (bumped by the move) can tell the kept day that it changed."""
    other_day = DAY + datetime.timedelta(days=7)
    patient = PatientFactory(user__first_name="Ada", user__last_name="Moved")
    visit = AppointmentFactory(patient=patient, practitioner=practitioner, treatment=consultation,
                               start_at=at(other_day, 10))  # fmt: skip
    assert "Ada Moved" not in desk.warm()
    services.reschedule_appointment(visit, new_start_at=at(DAY, 15), by=desk_user)
    page = desk.page()
    assert "Ada Moved" in page and cell(page, practitioner, 15) == "covered"


# --- the page around the grid -------------------------------------------------------------------------------

CSRF = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")([^"]+)"')


def test_a_kept_page_renders_no_template_and_reads_as_one_rendered_afresh(client, desk, booked):
    desk.warm()
    response = client.get(f"/desk/?date={DAY:%Y-%m-%d}")
    assert response.status_code == 200 and response.templates == []  # the kept page: nothing rendered
    kept = response.content.decode()
    assert len(CSRF.findall(kept)) == 2 and "Jo Bloggs" in kept
    day_cache.forget()
    fresh = desk.page()
    assert desk.builds == 2
    assert CSRF.sub(r"\1TOKEN", kept) == CSRF.sub(r"\1TOKEN", fresh)


def test_a_kept_pages_token_is_the_requests_own_and_the_desk_acts_with_it(desk_user, booked):
    """Who acts from a kept page (htmx sends the page's token) is checked as from any page; what they did is
    shown by the next load, its message once (written afresh), then the kept page again."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(desk_user)
    day_page = f"/desk/?date={DAY:%Y-%m-%d}"
    client.get(day_page)
    page = client.get(day_page)
    assert page.templates == []
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page.content.decode()).group(1)
    url = f"/desk/appointments/{booked.pk}/{states.CHECK_IN}/"
    assert client.post(url, {"next": day_page}).status_code == 403  # no token: refused
    assert client.post(url, {"next": day_page}, headers={"X-CSRFToken": token}).status_code == 302
    shown = client.get(day_page)
    assert shown.templates != [] and "Jo Bloggs (" in shown.content.decode() and "checked in" in shown.content.decode()
    again = client.get(day_page).content.decode()
    assert "checked in." not in again and "status-checked_in" in again
    assert client.get(day_page).templates == []  # kept again


def test_each_reload_of_a_kept_page_carries_a_token_of_its_own(desk_user, booked):
    """The kept page is handed out as bytes (clinic/kept_pages.py): each reload still gets a token masked
    afresh for it (as a rendered page gets one), of the request's own secret, in both places the page holds
    one; the rest is the same bytes, and the grid's minute reload is the page's grid."""
    from django.conf import settings
    from django.middleware.csrf import _unmask_cipher_token

    client = Client(enforce_csrf_checks=True)
    client.force_login(desk_user)
    day_page = f"/desk/?date={DAY:%Y-%m-%d}"
    client.get(day_page)
    pages = [client.get(day_page) for _ in range(3)]
    assert all(page.templates == [] for page in pages)  # kept
    found = [CSRF.findall(page.content.decode()) for page in pages]
    assert all(len(one) == 2 and one[0][1] == one[1][1] for one in found)  # one token a page, as rendered
    tokens = [one[0][1] for one in found]
    assert len(set(tokens)) == 3  # each reload's own
    secret = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert {_unmask_cipher_token(token) for token in tokens} == {secret}
    texts = {CSRF.sub(r"\1TOKEN", page.content.decode()) for page in pages}
    assert len(texts) == 1
    grid = client.get(day_page, headers={"HX-Request": "true"}).content.decode()
    assert grid.startswith('<div id="desk-grid"') and grid in texts.pop() and "Jo Bloggs" in grid
    url = f"/desk/appointments/{booked.pk}/{states.CHECK_IN}/"
    assert client.post(url, {"next": day_page}, headers={"X-CSRFToken": tokens[0]}).status_code == 302


def test_each_desk_user_gets_their_own_page_around_the_grid(client, desk, desk_user, booked):
    """The navigation for each one's roles, the site switcher with each one's own site."""
    from clinic.models import default_site

    london = default_site()
    manchester = SiteFactory(name="Manchester", slug="manchester")
    first = desk.warm("&site=all")
    assert "(your site)" not in first and 'href="/admin/"' not in first
    other = staff_user(roles.FRONT_DESK, first_name="Other", last_name="Desk")
    other.is_staff = True  # sees the admin's link
    other.save()
    london.staff.add(other)
    client.force_login(other)
    built = desk.builds
    page = desk.page("&site=all")
    assert desk.builds == built  # the same kept grid, another page around it
    assert 'href="/admin/"' in page
    switcher = page.split('aria-label="Sites"')[1].split("</nav>")[0]
    assert re.search(rf'{london.name} <span class="visually-hidden">\(your site\)</span>', switcher)
    assert "Manchester <span" not in switcher and manchester.slug in switcher
    # The first user again: their page, still without either.
    client.force_login(desk_user)
    again = desk.page("&site=all")
    assert "(your site)" not in again and 'href="/admin/"' not in again


def test_a_panel_opened_by_the_address_is_written_for_that_request(client, desk, booked, practitioner):
    desk.warm()
    slot = f"{practitioner.pk}@{at(DAY, 13):%Y-%m-%dT%H:%MZ}"
    response = client.get(f"/desk/?date={DAY:%Y-%m-%d}&book={slot}")
    assert response.templates != []  # written for this request
    opened = response.content.decode().split('id="desk-panel"')[1].split("</aside>")[0]
    assert "New appointment" in opened and "with Amelia Hart" in opened
    assert "New appointment" not in desk.page()  # the kept page again: no panel
