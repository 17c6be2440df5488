"""The desk runs the day from the calendar (issue 15): a click on a free cell opens a pre-filled booking panel,
a dropped card or a time picked from the Move list moves an appointment, walk-ins are booked from now on while
online booking keeps its notice, and each card and day-sheet row says what the patient must still fill in.

Every request is what the browser sends: htmx's GETs and POSTs with the `HX-Request` header, slots as the cells
and lists carry them (`<practitioner id>@<UTC start>`). Times are chosen relative to now in a practitioner's
day that covers the whole clock, so nothing depends on the hour the tests run.
"""

import datetime
import re

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from bookings import availability, services
from bookings.models import Appointment, AppointmentEvent
from clinic import roles
from consultations.consent import CONSENT_VERSION
from consultations.models import Consent, IntakeForm
from practice.models import IntakeConfirmation
from tests.factories import (
    AppointmentFactory,
    ClearedPatientFactory,
    ConsultationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    staff_user,
)
from tests.helpers import LONDON, at, book_online, open_around_the_clock, soon

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def key(instant) -> str:
    return instant.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ")


def panel_messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def desk(client):
    user = staff_user(roles.FRONT_DESK)
    client.force_login(user)
    return user


@pytest.fixture
def treatment():
    return TreatmentFactory(
        name="Thighs session", duration_minutes=60, buffer_after_minutes=15, min_days_between_sessions=28
    )


@pytest.fixture
def practitioner(treatment):
    RoomFactory(name="Room A")
    practitioner = PractitionerFactory(
        user__first_name="Amelia", user__last_name="Hart", treatments=[treatment, ConsultationFactory()]
    )
    return open_around_the_clock(practitioner)


@pytest.fixture
def patient():
    return ClearedPatientFactory(user__first_name="Jo", user__last_name="Bloggs", phone="07700 900123")


def book_in_panel(client, practitioner, start_at, patient, treatment, source="phone", **extra):
    data = {
        "slot": f"{practitioner.pk}@{key(start_at)}",
        "patient": patient.pk,
        "treatment": treatment.pk,
        "source": source,
        **extra,
    }
    return client.post("/desk/panel/book/", data, headers=HTMX)


# --- click a free cell, book in the panel ------------------------------------------------------------------


def test_the_day_grid_offers_a_cell_for_every_step_of_working_hours_from_now_on(client, desk, practitioner):
    day = timezone.localdate() + datetime.timedelta(days=2)
    page = client.get(f"/desk/?date={day:%Y-%m-%d}").content.decode()
    cells = re.findall(rf'data-slot="{practitioner.pk}@([^"]+)"', page)
    assert len(cells) == 95  # 00:00 to 23:30, every 15 minutes (23:45 closes)
    assert cells[0] == key(at(day, 0)) and cells[40] == key(at(day, 10))
    assert 'aria-label="Book ' in page
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    assert "data-slot" not in client.get(f"/desk/?date={yesterday:%Y-%m-%d}").content.decode()


def test_a_cell_opens_the_panel_pre_filled_and_the_desk_books_there(client, desk, practitioner, patient, treatment):
    start = at(timezone.localdate() + datetime.timedelta(days=3), 10)
    panel = client.get("/desk/panel/book/", {"slot": f"{practitioner.pk}@{key(start)}"}, headers=HTMX)
    html = panel.content.decode()
    assert panel.status_code == 200 and "<html" not in html
    assert "New appointment" in html and "Amelia Hart" in html and "10:00" in html
    assert f'value="{practitioner.pk}@{key(start)}"' in html
    assert "Thighs session" in html  # the practitioner's treatments to choose from
    assert "Room A is free then" in html

    found = client.get("/desk/panel/patients/", {"q": "Bloggs"}, headers=HTMX).content.decode()
    assert f'value="{patient.pk}"' in found and "Jo Bloggs" in found

    response = book_in_panel(client, practitioner, start, patient, treatment)
    assert response.status_code == 200 and response["HX-Trigger"] == "desk-changed"
    appointment = Appointment.objects.get(patient=patient)
    assert appointment.start_at == start and appointment.practitioner == practitioner
    assert appointment.source == Appointment.Source.PHONE and appointment.room.name == "Room A"
    assert "Booked Thighs session for Jo Bloggs" in response.content.decode()
    event = appointment.events.get()
    assert event.action == AppointmentEvent.Action.BOOKED and event.by == desk


def test_a_refusal_is_shown_in_the_panel_and_books_nothing(client, desk, practitioner, patient, treatment):
    start = at(timezone.localdate() + datetime.timedelta(days=3), 10)
    AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=start)
    response = book_in_panel(client, practitioner, start, patient, treatment)
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Trigger" not in response
    assert "Not booked: This time was just taken" in html and 'role="alert"' in html
    assert "Free nearby" in html  # the service's nearest free times, each opening the panel there
    assert not Appointment.objects.filter(patient=patient).exists()

    not_cleared = PatientFactory()
    response = book_in_panel(client, practitioner, start + datetime.timedelta(hours=3), not_cleared, treatment)
    assert "Not booked:" in response.content.decode()
    assert not Appointment.objects.filter(patient=not_cleared).exists()


def test_the_course_interval_is_refused_in_place(client, desk, practitioner, patient, treatment):
    first = at(timezone.localdate() + datetime.timedelta(days=3), 10)
    book_online(patient, treatment, practitioner, first)
    response = book_in_panel(client, practitioner, first + datetime.timedelta(days=7), patient, treatment)
    assert "at least 28 days apart" in response.content.decode()
    assert Appointment.objects.filter(patient=patient).count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"slot": "nonsense"},
        {"slot": "999999@2030-01-01T10:00Z", "patient": "1", "treatment": "1"},
        {"slot": "1@not-a-date"},
        {"slot": "1@2030-01-01T10:00"},  # no offset
    ],
)
def test_bad_panel_input_is_refused_without_a_500(client, desk, practitioner, patient, data):
    response = client.post("/desk/panel/book/", data, headers=HTMX)
    assert response.status_code == 200
    assert "Not booked" in response.content.decode()
    assert not Appointment.objects.exists()
    assert client.get("/desk/panel/book/", data, headers=HTMX).status_code == 200


def test_without_javascript_a_panel_post_goes_back_to_the_calendar(client, desk, practitioner, patient, treatment):
    start = at(timezone.localdate() + datetime.timedelta(days=3), 10)
    response = book_in_panel(client, practitioner, start, patient, treatment)
    assert response.status_code == 200  # htmx
    response = client.post(
        "/desk/panel/book/",
        {"slot": f"{practitioner.pk}@{key(start + datetime.timedelta(hours=2))}", "patient": patient.pk},
    )
    assert response.status_code == 302 and response["Location"].startswith("/desk/")
    assert any(m.startswith("Not booked") for m in panel_messages(response))


def test_a_new_patient_comes_back_to_the_calendar_with_the_panel_open(client, desk, practitioner):
    start = at(timezone.localdate() + datetime.timedelta(days=3), 10)
    slot = f"{practitioner.pk}@{key(start)}"
    back = f"/desk/?date={start.astimezone(LONDON):%Y-%m-%d}&book={slot}"
    response = client.post(
        "/desk/patients/new/?" + f"next={back.replace('&', '%26')}",
        {"first_name": "Wal", "last_name": "Kin", "phone": "07700 900555", "date_of_birth": "1980-01-01"},
    )
    assert response.status_code == 302
    assert not Appointment.objects.exists()  # nothing booked yet: the panel is where the desk books
    location = response["Location"]
    assert location.startswith(back) and "patient=" in location
    page = client.get(location).content.decode()
    assert 'id="panel-title"' in page and "Wal Kin" in page and "checked" in page
    assert 'hx-get="/desk/?date=' in page and "book=" not in page.split('hx-get="/desk/?date=')[1].split('"')[0]


# --- walk-ins: the desk books from now on, online keeps its notice ----------------------------------------------


def test_the_desk_books_a_walk_in_inside_the_online_notice(client, desk, practitioner, treatment):
    walk_in = ClearedPatientFactory()
    start = soon(30)
    with pytest.raises(services.SlotNotOffered):
        book_online(walk_in, treatment, practitioner, start)  # online: 12 hours' notice
    response = book_in_panel(client, practitioner, start, walk_in, treatment, source="front_desk")
    appointment = Appointment.objects.get(patient=walk_in)
    assert appointment.start_at == start and appointment.source == Appointment.Source.FRONT_DESK
    assert response["HX-Trigger"] == "desk-changed"


def test_the_notice_rule_has_one_home():
    hours = availability.policy("MIN_NOTICE_HOURS")
    assert availability.minimum_notice(desk=False) == datetime.timedelta(hours=hours)
    assert availability.minimum_notice(desk=True) == datetime.timedelta(0)


def test_online_sources_keep_the_notice_even_when_staff_book_them(practitioner, treatment):
    desk = staff_user(roles.FRONT_DESK)
    assert services.notice_for(desk, Appointment.Source.PHONE) == datetime.timedelta(0)
    assert services.notice_for(desk, Appointment.Source.ONLINE) == availability.minimum_notice(desk=False)
    assert services.notice_for(PatientFactory().user) == availability.minimum_notice(desk=False)


def test_the_desk_find_times_page_lists_times_from_now_on(client, desk, practitioner, treatment, patient):
    start = soon(30)
    day = start.astimezone(LONDON).date()
    page = client.get(
        f"/desk/patients/{patient.pk}/book/",
        {"treatment": treatment.pk, "practitioner": practitioner.pk, "date": day.isoformat()},
    ).content.decode()
    assert f"{practitioner.pk}@{start.isoformat()}" in page
    online = availability.offered_slots(treatment, practitioner, day, day)[day]
    assert start not in [slot.start_at for slot in online]


# --- moving: drop a card, or pick from the Move list -------------------------------------------------------------


@pytest.fixture
def booked(practitioner, patient, treatment):
    return book_online(patient, treatment, practitioner, at(timezone.localdate() + datetime.timedelta(days=3), 10))


def test_the_move_list_shows_real_free_times_and_moving_records_the_history(client, desk, booked, practitioner):
    day = booked.start_at.astimezone(LONDON).date()
    AppointmentFactory(practitioner=practitioner, start_at=at(day, 14))
    listing = client.get(f"/desk/panel/appointments/{booked.pk}/move/", headers=HTMX).content.decode()
    times = re.findall(rf'name="slot" value="{practitioner.pk}@([^"]+)"', listing)
    assert key(at(day, 10)) not in times  # its own time
    assert key(at(day, 14)) not in times and key(at(day, 13)) not in times  # taken (13:00 would run into it)
    assert key(at(day, 12)) in times and key(at(day, 16)) in times

    response = client.post(
        f"/desk/panel/appointments/{booked.pk}/move/",
        {"slot": f"{practitioner.pk}@{key(at(day, 16))}", "reason": "Patient asked"},
        headers=HTMX,
    )
    assert response["HX-Trigger"] == "desk-changed"
    html = response.content.decode()
    assert "Moved Jo Bloggs&#x27;s Thighs session from" in html and "16:00 with Amelia Hart" in html
    booked.refresh_from_db()
    assert booked.start_at == at(day, 16)
    event = booked.events.get(action=AppointmentEvent.Action.RESCHEDULED)
    assert event.old_start_at == at(day, 10) and event.new_start_at == at(day, 16)
    assert event.by == desk and event.reason == "Patient asked"
    assert "Rescheduled" in html  # the history in the panel


def test_a_card_dropped_on_a_taken_time_is_refused_in_place(client, desk, booked, practitioner):
    day = booked.start_at.astimezone(LONDON).date()
    AppointmentFactory(practitioner=practitioner, start_at=at(day, 14))
    response = client.post(
        f"/desk/panel/appointments/{booked.pk}/move/", {"slot": f"{practitioner.pk}@{key(at(day, 14))}"}, headers=HTMX
    )
    html = response.content.decode()
    assert "Not moved: This time was just taken" in html and "HX-Trigger" not in response
    booked.refresh_from_db()
    assert booked.start_at == at(day, 10)
    assert not booked.events.filter(action=AppointmentEvent.Action.RESCHEDULED).exists()


def test_a_drop_too_close_to_another_session_of_the_course_is_refused(client, desk, booked, practitioner, treatment):
    later = book_online(booked.patient, treatment, practitioner, booked.start_at + datetime.timedelta(days=30))
    target = at(later.start_at.astimezone(LONDON).date() - datetime.timedelta(days=3), 11)
    response = client.post(
        f"/desk/panel/appointments/{booked.pk}/move/", {"slot": f"{practitioner.pk}@{key(target)}"}, headers=HTMX
    )
    assert "at least 28 days apart" in response.content.decode()
    booked.refresh_from_db()
    assert booked.start_at.astimezone(LONDON).hour == 10


def test_the_desk_moves_an_appointment_to_now_for_a_patient_who_came_early(client, desk, booked, practitioner):
    start = soon(30)
    client.post(
        f"/desk/panel/appointments/{booked.pk}/move/", {"slot": f"{practitioner.pk}@{key(start)}"}, headers=HTMX
    )
    booked.refresh_from_db()
    assert booked.start_at == start


def test_only_booked_cards_can_be_dragged(client, desk, booked, practitioner):
    day = booked.start_at.astimezone(LONDON).date()
    done = AppointmentFactory(practitioner=practitioner, start_at=at(day, 15), status=Appointment.Status.COMPLETED)
    page = client.get(f"/desk/?date={day:%Y-%m-%d}").content.decode()
    assert re.search(rf'data-appointment="{booked.pk}"\s+hx-get="[^"]+"[^>]*draggable="true"', page)
    assert not re.search(rf'data-appointment="{done.pk}"\s+hx-get="[^"]+"[^>]*draggable', page)


def test_the_appointment_panel_offers_only_what_the_service_allows(client, desk, booked, practitioner):
    html = client.get(f"/desk/panel/appointments/{booked.pk}/", headers=HTMX).content.decode()
    assert ">Move<" in html and "History" in html
    assert "Check in" not in html and "no-show" not in html  # in 3 days: not yet (bookings.states)
    now = AppointmentFactory(practitioner=practitioner, start_at=timezone.now().replace(microsecond=0))
    html = client.get(f"/desk/panel/appointments/{now.pk}/", headers=HTMX).content.decode()
    assert "Check in" in html and "Mark no-show" in html and "Complete" in html
    done = AppointmentFactory(practitioner=practitioner, status=Appointment.Status.COMPLETED)
    html = client.get(f"/desk/panel/appointments/{done.pk}/", headers=HTMX).content.decode()
    assert ">Move<" not in html and "Check in" not in html


def test_panels_are_for_the_desk_only(client, booked):
    client.force_login(booked.patient.user)
    assert client.get(f"/desk/panel/appointments/{booked.pk}/").status_code == 403
    assert client.post(f"/desk/panel/appointments/{booked.pk}/move/", {"slot": "x"}).status_code == 403
    assert client.post("/desk/panel/book/", {}).status_code == 403


# --- what the patient must still fill in -----------------------------------------------------------------------


def test_cards_and_the_day_sheet_say_which_forms_are_still_to_do(client, desk, practitioner, treatment):
    day = timezone.localdate() + datetime.timedelta(days=2)
    no_form = AppointmentFactory(
        practitioner=practitioner, treatment=treatment, start_at=at(day, 9), patient=PatientFactory()
    )
    ready = AppointmentFactory(
        practitioner=practitioner, treatment=treatment, start_at=at(day, 11), patient=ClearedPatientFactory()
    )
    Consent.objects.create(
        patient=ready.patient, text_version=CONSENT_VERSION, text="...", signed_name="x", agreed=True
    )
    IntakeConfirmation.objects.create(
        appointment=ready, intake=IntakeForm.objects.get(patient=ready.patient), intake_version=1
    )
    old_consent = AppointmentFactory(
        practitioner=practitioner, treatment=treatment, start_at=at(day, 13), patient=ClearedPatientFactory()
    )
    Consent.objects.create(
        patient=old_consent.patient, text_version="2020-v0", text="...", signed_name="x", agreed=True
    )

    page = client.get(f"/desk/?date={day:%Y-%m-%d}").content.decode()

    def card(appointment):
        return page.split(f'data-appointment="{appointment.pk}"')[1].split("</a>")[0]

    assert "No health form yet" in card(no_form) and "To do: consent" in card(no_form)  # the form: its badge
    assert "To do" not in card(ready)
    assert "To do: sign new consent" in card(old_consent) and "To do: confirm health form" in card(old_consent)
    sheet = client.get(f"/desk/day-sheet/{practitioner.pk}/?date={day:%Y-%m-%d}").content.decode()
    assert "To do: health form" in sheet and "To do: sign new consent" in sheet


def test_a_cards_badges_are_the_badge_templates_written_out(client, desk, practitioner, treatment):
    """The day's cards write the badges of _status, _screening, _paperwork and _alert out (four includes a
    card were most of a busy day's rendering): the same markup as the includes, badge for badge."""
    from django.template import Context, Template

    from bookings.frontdesk import calendar
    from consultations import services as intake_services

    day = timezone.localdate() + datetime.timedelta(days=2)
    confirmed = AppointmentFactory(
        practitioner=practitioner, treatment=treatment, start_at=at(day, 9), confirmed_at=timezone.now()
    )
    intake_services.pin_alert(confirmed.patient, by=practitioner.user, text="Pacemaker")
    plain = AppointmentFactory(
        practitioner=practitioner, treatment=treatment, start_at=at(day, 11), patient=ClearedPatientFactory()
    )
    page = client.get(f"/desk/?date={day:%Y-%m-%d}").content.decode()
    includes = Template(
        '{% include "bookings/frontdesk/_status.html" %}'
        '{% include "bookings/frontdesk/_screening.html" with status=appointment.screening %}'
        '{% include "bookings/frontdesk/_paperwork.html" with on_card=True %}'
        '{% include "bookings/frontdesk/_alert.html" with has_alert=appointment.has_clinical_alert %}'
    )
    built = calendar.day_by_practitioner(day, timezone.now())
    shown = {b.appointment.pk: b.appointment for column in built.grid.columns for b in column.appointments}
    for appointment in (confirmed, plain):
        card = page.split(f'data-appointment="{appointment.pk}"')[1].split("</a>")[0]
        badges = card.split('<span class="cal-badges">')[1].rsplit("</span>", 1)[0]
        expected = includes.render(Context({"appointment": shown[appointment.pk]}))
        assert re.findall(r"<span [^>]*>[^<]*</span>", badges) == re.findall(r"<span [^>]*>[^<]*</span>", expected)
    assert "Confirmed" in page and "Alert: see practitioner" in page and "To do: consent" in page


def test_a_consultation_needs_only_the_health_form(client, desk, practitioner):
    consultation = practitioner.treatments.get(kind="consultation")
    day = timezone.localdate() + datetime.timedelta(days=2)
    appointment = AppointmentFactory(practitioner=practitioner, treatment=consultation, start_at=at(day, 9))
    panel = client.get(f"/desk/panel/appointments/{appointment.pk}/", headers=HTMX).content.decode()
    assert "To do: health form" in panel and "consent" not in panel


# --- week and month overviews, legend -------------------------------------------------------------------------


def test_the_week_shows_every_practitioner_and_the_month_counts_each_day(client, desk, practitioner, treatment):
    other = PractitionerFactory(user__first_name="Ben", user__last_name="Cole")
    monday = datetime.date(2027, 1, 11)
    AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=at(monday, 9))
    AppointmentFactory(practitioner=other, treatment=treatment, start_at=at(monday + datetime.timedelta(days=6), 23))
    AppointmentFactory(
        practitioner=other, start_at=at(monday, 12), status=Appointment.Status.CANCELLED, cancelled_at=timezone.now()
    )
    week = client.get("/desk/week/", {"date": "2027-01-13"}).content.decode()
    assert "Amelia Hart" in week and "Ben Cole" in week and "Sun 17 Jan" in week and "Mon 11 Jan" in week
    assert week.count('<a class="week-chip ') == 2  # cancelled ones are counted apart, not shown
    assert "Not working" in week  # Ben has no hours

    month = client.get("/desk/month/", {"date": "2027-01-20"}).content.decode()
    assert "January 2027" in month
    assert 'aria-label="Monday 11 January: 1 appointment, 1 cancelled"' in month
    assert 'aria-label="Sunday 17 January: 1 appointment"' in month  # 23:00 local stays on its own day
    assert "2 appointments this month" in month


def test_the_month_counts_by_the_clinic_day_across_the_clock_change(client, desk, practitioner, treatment):
    # 00:30 BST on 1 April is 23:30 UTC on 31 March: it belongs to 1 April.
    AppointmentFactory(
        practitioner=practitioner,
        treatment=treatment,
        start_at=datetime.datetime(2027, 4, 1, 0, 30, tzinfo=LONDON).astimezone(datetime.UTC),
    )
    month = client.get("/desk/month/", {"date": "2027-04-01"}).content.decode()
    assert 'aria-label="Thursday 1 April: 1 appointment"' in month


def test_the_day_has_a_legend_and_view_switcher(client, desk, practitioner):
    page = client.get("/desk/").content.decode()
    assert "Legend" in page and "Time off" in page and "No-show" in page
    for label in ("Day", "Day by room", "Week", "Month"):
        assert f">{label}</a>" in page
    assert "bookings/desk_calendar.js" in page and "<script>" not in page


def test_a_time_under_an_appointment_is_a_drop_target_not_a_button(client, desk, practitioner, treatment):
    day = timezone.localdate() + datetime.timedelta(days=2)
    AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=at(day, 10))  # 10:00-11:00
    page = client.get(f"/desk/?date={day:%Y-%m-%d}").content.decode()
    for hour, minute in [(10, 0), (10, 45)]:
        cell = f'data-slot="{practitioner.pk}@{key(at(day, hour, minute))}"'
        assert '<div class="cal-cell cal-covered' in page.split(cell)[0][-120:]
    assert (
        '<button type="button" class="cal-cell'
        in page.split(f'data-slot="{practitioner.pk}@{key(at(day, 11))}"')[0][-120:]
    )


def test_a_remembered_column_shows_each_change_at_once(client, desk, practitioner, treatment):
    """A column's cells are remembered for the same inputs (grid.cell_markup): a booking, its cancellation,
    time off and a new name each show on the next load, never a stale cell."""
    from tests.factories import TimeOffFactory

    day = timezone.localdate() + datetime.timedelta(days=2)
    url = f"/desk/?date={day:%Y-%m-%d}"
    cell = f'data-slot="{practitioner.pk}@{key(at(day, 10))}"'

    def state():
        page = client.get(url).content.decode()
        return "covered" if '<div class="cal-cell cal-covered' in page.split(cell)[0][-120:] else "free", page

    assert state()[0] == "free" and state()[0] == "free"  # the second load is the remembered column
    booked = AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=at(day, 10))
    assert state()[0] == "covered"
    booked.status = Appointment.Status.CANCELLED
    booked.save()
    assert state()[0] == "free"
    TimeOffFactory(practitioner=practitioner, start_at=at(day, 9), end_at=at(day, 12))
    assert state()[0] == "covered"
    practitioner.user.first_name = "Amy"
    practitioner.user.save()
    assert "with Amy Hart" in state()[1]


def test_a_card_dropped_in_another_practitioners_column_moves_it_to_them(client, desk, booked, treatment):
    ben = PractitionerFactory(user__first_name="Ben", user__last_name="Cole", treatments=[treatment])
    open_around_the_clock(ben)
    day = booked.start_at.astimezone(LONDON).date()
    client.post(f"/desk/panel/appointments/{booked.pk}/move/", {"slot": f"{ben.pk}@{key(at(day, 10))}"}, headers=HTMX)
    booked.refresh_from_db()
    assert booked.practitioner == ben and booked.start_at == at(day, 10)
