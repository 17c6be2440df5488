"""The front desk's calendar: who may see it, what it shows, DST days, and its fixed query count."""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.frontdesk import calendar
from bookings.models import Appointment
from clinic import roles
from clinic.models import Patient, User
from consultations.selectors import screening_status, screening_statuses
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TimeOffFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    clear_patient,
    staff_user,
    submitted_intake,
)

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
DAY = datetime.date(2027, 1, 12)  # an ordinary Tuesday
SPRING_FORWARD = datetime.date(2027, 3, 28)  # 23 hours
FALL_BACK = datetime.date(2026, 10, 25)  # 25 hours


def at(day, hour, minute=0, fold=0):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=LONDON).replace(fold=fold)


@pytest.fixture
def desk(client):
    user = staff_user(roles.FRONT_DESK)
    client.force_login(user)
    return user


def appointment(practitioner, start, minutes=30, **kwargs):
    treatment = kwargs.pop("treatment", None) or TreatmentFactory(duration_minutes=minutes, buffer_after_minutes=0)
    start_at = start.astimezone(datetime.UTC)
    return AppointmentFactory(
        practitioner=practitioner,
        treatment=treatment,
        start_at=start_at,
        end_at=start_at + datetime.timedelta(minutes=minutes),
        busy_until=start_at + datetime.timedelta(minutes=minutes),
        **kwargs,
    )


def columns(html):
    return re.findall(r'data-column="([^"]+)"', html)


def row_of(html, appointment):
    match = re.search(
        rf'class="cal-appt [^"]*cal-r-(\d+) cal-s-(\d+)[^"]*" href="[^"]*" data-appointment="{appointment.pk}"', html
    )
    assert match, f"appointment {appointment.pk} is not on the grid"
    return int(match.group(1)), int(match.group(2))


# --- who may see it ------------------------------------------------------------------------------------------

DESK_PAGES = ["/desk/", "/desk/?view=rooms", "/desk/patients/", "/desk/patients/new/"]


@pytest.mark.parametrize("url", DESK_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.parametrize("url", DESK_PAGES)
def test_patients_and_practitioners_are_refused(client, url):
    client.force_login(PatientFactory().user)
    assert client.get(url).status_code == 403
    client.force_login(PractitionerFactory().user)
    assert client.get(url).status_code == 403


def test_practitioner_pages_of_the_desk_are_refused_too(client):
    practitioner = PractitionerFactory()
    booked = appointment(practitioner, at(DAY, 10))
    client.force_login(practitioner.user)
    for url in (
        f"/desk/week/{practitioner.pk}/",
        f"/desk/day-sheet/{practitioner.pk}/",
        f"/desk/appointments/{booked.pk}/",
        f"/desk/patients/{booked.patient.pk}/",
    ):
        assert client.get(url).status_code == 403


def test_clinic_admins_get_in_and_the_nav_links_the_desk(client, sign_in):
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    response = client.get("/desk/")
    assert response.status_code == 200
    assert 'href="/desk/">Front desk</a>' in response.content.decode()


def test_the_nav_shows_no_desk_link_to_patients(client):
    client.force_login(PatientFactory().user)
    assert "Front desk" not in client.get("/").content.decode()


# --- what it shows -------------------------------------------------------------------------------------------


def test_day_view_has_a_column_per_practitioner_and_each_appointment_says_who_what_and_status(client, desk):
    amelia = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart")
    ben = PractitionerFactory(user__first_name="Ben", user__last_name="Okafor")
    WorkingHoursFactory(practitioner=amelia, weekday=DAY.weekday(), start=datetime.time(9), end=datetime.time(17))
    treatment = TreatmentFactory(name="Thighs session", duration_minutes=60, buffer_after_minutes=0)
    booked = appointment(
        amelia,
        at(DAY, 10),
        60,
        treatment=treatment,
        patient=PatientFactory(user__first_name="Jo", user__last_name="Bloggs"),
    )
    checked_in = appointment(ben, at(DAY, 11, 30), status=Appointment.Status.CHECKED_IN)
    cancelled = appointment(ben, at(DAY, 14), status=Appointment.Status.CANCELLED, cancellation_reason="Unwell")

    html = client.get(f"/desk/?date={DAY:%Y-%m-%d}").content.decode()

    assert columns(html) == ["Amelia Hart", "Ben Okafor"]
    assert "Jo Bloggs" in html and "Thighs session" in html and "10:00–11:00" in html
    assert row_of(html, booked) == (2 * 12 + 1, 12)  # the window opens at 08:00; 5-minute rows
    assert row_of(html, checked_in)[0] == 3 * 12 + 6 + 1
    assert "Checked in" in html and "No health form yet" in html
    assert f'data-appointment="{cancelled.pk}"' not in html  # its time is free: listed below the grid
    assert "Cancelled (1)" in html and "Unwell" in html
    assert "cal-working" in html
    assert f'href="/desk/appointments/{booked.pk}/"' in html


def test_room_view_has_a_column_per_room(client, desk):
    room_a, room_b = RoomFactory(name="Room A"), RoomFactory(name="Room B")
    practitioner = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart")
    in_b = appointment(practitioner, at(DAY, 9), room=room_b)
    html = client.get(f"/desk/?date={DAY:%Y-%m-%d}&view=rooms").content.decode()
    assert columns(html) == ["Room A", "Room B"]
    assert row_of(html, in_b) == (13, 6)
    assert "Amelia Hart" in html
    assert room_a  # a free room still has its column


def test_week_view_shows_one_practitioner_day_by_day(client, desk):
    practitioner = PractitionerFactory()
    other = PractitionerFactory()
    wednesday = appointment(practitioner, at(DAY + datetime.timedelta(days=1), 15))
    not_theirs = appointment(other, at(DAY, 15))
    html = client.get(f"/desk/week/{practitioner.pk}/?date={DAY:%Y-%m-%d}").content.decode()
    assert columns(html) == [
        "Mon 11 Jan",
        "Tue 12 Jan",
        "Wed 13 Jan",
        "Thu 14 Jan",
        "Fri 15 Jan",
        "Sat 16 Jan",
        "Sun 17 Jan",
    ]
    assert f'data-appointment="{wednesday.pk}"' in html and f'data-appointment="{not_theirs.pk}"' not in html
    assert "?date=2027-01-04" in html and "?date=2027-01-18" in html  # previous and next week


def test_time_off_is_shaded(client, desk):
    practitioner = PractitionerFactory()
    TimeOffFactory(practitioner=practitioner, start_at=at(DAY, 12), end_at=at(DAY, 13))
    html = client.get(f"/desk/?date={DAY:%Y-%m-%d}").content.decode()
    assert re.search(r'class="cal-off cal-r-49 cal-s-12"', html)


@pytest.mark.clock
def test_previous_next_today_and_a_bad_date(client, desk):
    html = client.get(f"/desk/?date={DAY:%Y-%m-%d}").content.decode()
    assert "?date=2027-01-11" in html and "?date=2027-01-13" in html
    assert f"?date={timezone.localdate():%Y-%m-%d}" in html
    response = client.get("/desk/?date=not-a-date", follow=True)
    assert response.status_code == 200 and "is not a date we can show: showing today" in response.content.decode()


@pytest.mark.parametrize(
    "url", ["/desk/?date={}", "/desk/week/{practitioner}/?date={}", "/desk/day-sheet/{practitioner}/?date={}"]
)
@pytest.mark.parametrize("far", ["9999-12-31", "0001-01-01"])
def test_a_date_at_the_ends_of_the_calendar_shows_today(client, desk, url, far):
    """Found by tests/test_hostile_input.py: the next day (or the week's Monday) of these does not exist, a 500."""
    practitioner = PractitionerFactory()
    response = client.get(url.format(far, practitioner=practitioner.pk))
    assert response.status_code == 200
    assert "is not a date we can show: showing today" in response.content.decode()


@pytest.mark.clock
def test_the_now_line_sits_at_the_current_time(client, desk, time_machine):
    PractitionerFactory()
    built = calendar.day_by_practitioner(DAY, at(DAY, 10, 37).astimezone(datetime.UTC))
    assert built.grid.columns[0].now_row == 32  # 08:00 + 2h35 = 31 rows of 5 minutes above it
    assert calendar.day_by_practitioner(DAY, at(DAY, 21).astimezone(datetime.UTC)).grid.columns[0].now_row is None
    # The page reads the clock: at 10:37 on DAY, today's grid has the line and another day's has none.
    time_machine.move_to(at(DAY, 10, 37), tick=False)
    client.force_login(desk)  # a session from the real today has expired by DAY
    assert "cal-now" in client.get("/desk/").content.decode()
    assert "cal-now" not in client.get(f"/desk/?date={DAY + datetime.timedelta(days=1):%Y-%m-%d}").content.decode()
    # Before opening and after closing the grid of today has no line to draw.
    for hour in (7, 21):
        time_machine.move_to(at(DAY, hour), tick=False)
        client.force_login(desk)
        assert "cal-now" not in client.get("/desk/").content.decode()


def test_the_grid_refreshes_itself_without_a_full_reload(client, desk):
    practitioner = PractitionerFactory()
    booked = appointment(practitioner, at(DAY, 10))
    page = client.get(f"/desk/?date={DAY:%Y-%m-%d}").content.decode()
    assert 'hx-trigger="every 60s, desk-changed from:body"' in page and f'hx-get="/desk/?date={DAY:%Y-%m-%d}"' in page
    partial = client.get(f"/desk/?date={DAY:%Y-%m-%d}", headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<div id="desk-grid"') and "<html" not in partial
    assert f'data-appointment="{booked.pk}"' in partial


# --- daylight saving -------------------------------------------------------------------------------------


def test_a_spring_forward_day_has_23_hours_of_rows(client, desk):
    practitioner = PractitionerFactory()
    early = appointment(practitioner, at(SPRING_FORWARD, 0, 30))
    late = appointment(practitioner, at(SPRING_FORWARD, 23, 0))
    ten = appointment(practitioner, at(SPRING_FORWARD, 10, 0))
    html = client.get(f"/desk/?date={SPRING_FORWARD:%Y-%m-%d}").content.decode()
    labels = re.findall(r'class="cal-hour [^"]*">([^<]+)<', html)
    assert len(labels) == 23
    assert labels[:3] == ["00:00 GMT", "02:00 BST", "03:00 BST"]
    assert row_of(html, early) == (7, 6)
    assert row_of(html, ten)[0] == 9 * 12 + 1  # nine real hours after midnight
    assert row_of(html, late)[0] == 22 * 12 + 1
    assert "cal-r-276" in html  # 23 x 12 rows
    assert "10:00–10:30" in html


def test_a_fall_back_day_has_25_hours_and_shows_the_repeated_hour_twice(client, desk):
    practitioner = PractitionerFactory()
    first = appointment(practitioner, at(FALL_BACK, 1, 30, fold=0))
    second = appointment(PractitionerFactory(), at(FALL_BACK, 1, 30, fold=1))
    ten = appointment(practitioner, at(FALL_BACK, 10, 0))
    appointment(practitioner, at(FALL_BACK, 0, 0))
    appointment(practitioner, at(FALL_BACK, 23, 0))
    html = client.get(f"/desk/?date={FALL_BACK:%Y-%m-%d}").content.decode()
    labels = re.findall(r'class="cal-hour [^"]*">([^<]+)<', html)
    assert len(labels) == 25
    assert labels[:4] == ["00:00 BST", "01:00 BST", "01:00 GMT", "02:00 GMT"]
    assert row_of(html, first)[0] == 12 + 6 + 1
    assert row_of(html, second)[0] == 2 * 12 + 6 + 1
    assert row_of(html, ten)[0] == 11 * 12 + 1  # eleven real hours after midnight
    assert "cal-r-300" in html


def test_the_week_view_across_a_dst_change_keeps_local_times(client, desk):
    practitioner = PractitionerFactory()
    saturday = appointment(practitioner, at(SPRING_FORWARD - datetime.timedelta(days=1), 10))
    sunday = appointment(practitioner, at(SPRING_FORWARD, 10))
    html = client.get(f"/desk/week/{practitioner.pk}/?date={SPRING_FORWARD:%Y-%m-%d}").content.decode()
    assert row_of(html, saturday) == row_of(html, sunday)  # both at 10:00 on the same row
    assert html.count("10:00–10:30") == 2


# --- cost ------------------------------------------------------------------------------------------------------


def make_day(practitioners: int, per_practitioner: int):
    """A day's appointments, written in bulk (set-up only). The first patients are cleared, flagged and
    waiting, so every query the screening statuses can need is made."""
    treatment = TreatmentFactory(duration_minutes=30, buffer_after_minutes=0)
    screened = [clear_patient(), submitted_intake(anticoagulants=["warfarin"]).patient, submitted_intake().patient]
    count = practitioners * per_practitioner - len(screened)
    first = User.objects.count()
    users = User.objects.bulk_create(
        User(email=f"bulk{first + n}@example.com", first_name="Pat", last_name=f"Bulk{first + n}") for n in range(count)
    )
    patients = screened + Patient.objects.bulk_create(
        Patient(user=user, phone="07700 900000", date_of_birth=datetime.date(1990, 1, 1)) for user in users
    )
    rows = []
    for _ in range(practitioners):
        practitioner = PractitionerFactory()
        room = RoomFactory()
        WorkingHoursFactory(practitioner=practitioner, weekday=DAY.weekday())
        TimeOffFactory(practitioner=practitioner, start_at=at(DAY, 18), end_at=at(DAY, 19))
        for slot in range(per_practitioner):
            start = (at(DAY, 8) + datetime.timedelta(minutes=45 * slot)).astimezone(datetime.UTC)
            end = start + datetime.timedelta(minutes=30)
            rows.append(
                Appointment(
                    patient=patients.pop(), practitioner=practitioner, treatment=treatment, room=room,
                    site=room.site, start_at=start, end_at=end, busy_until=end,
                )
            )  # fmt: skip
    Appointment.objects.bulk_create(rows)  # bulk_create skips the save() that names the room's site


def count_queries(client, url):
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize("view", ["", "&view=rooms"])
def test_a_busy_day_renders_in_the_same_number_of_queries_as_a_quiet_one(
    client, desk, django_assert_max_num_queries, view
):
    url = f"/desk/?date={DAY:%Y-%m-%d}{view}"
    make_day(2, 5)
    quiet = count_queries(client, url)
    make_day(18, 11)  # now 20 practitioners and 208 appointments
    assert Appointment.objects.count() >= 200
    with django_assert_max_num_queries(quiet):
        client.get(url)
    assert quiet <= 18  # + the day's closure ("Closed: ..."), + "Alert: see practitioner" (1), + the sites


def test_the_week_view_costs_the_same_for_a_full_week(client, desk):
    practitioner = PractitionerFactory()
    url = f"/desk/week/{practitioner.pk}/?date={DAY:%Y-%m-%d}"
    treatment = TreatmentFactory(duration_minutes=30, buffer_after_minutes=0)
    appointment(practitioner, at(DAY, 8), treatment=treatment, patient=clear_patient())
    appointment(
        practitioner, at(DAY, 8, 30), treatment=treatment, patient=submitted_intake(nsaids=["ibuprofen"]).patient
    )
    count_queries(client, url)  # the first request pushes the staff session's idle expiry (once a minute),
    count_queries(client, url)  # the second reads the session from its row back into Redis
    quiet = count_queries(client, url)
    for day in range(7):
        for slot in range(8):
            appointment(
                practitioner,
                at(DAY + datetime.timedelta(days=day - 1), 9) + datetime.timedelta(hours=slot),
                treatment=treatment,
            )
    assert count_queries(client, url) == quiet


# --- day sheet ---------------------------------------------------------------------------------------------


def test_the_day_sheet_lists_a_practitioners_day_for_print(client, desk):
    practitioner = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart")
    patient = PatientFactory(user__first_name="Jo", user__last_name="Bloggs", phone="07700 900123")
    late = appointment(practitioner, at(DAY, 15), patient=patient)
    early = appointment(practitioner, at(DAY, 9))
    appointment(practitioner, at(DAY, 12), status=Appointment.Status.CANCELLED)
    appointment(PractitionerFactory(), at(DAY, 10))
    appointment(practitioner, at(DAY + datetime.timedelta(days=1), 10))
    html = client.get(f"/desk/day-sheet/{practitioner.pk}/?date={DAY:%Y-%m-%d}").content.decode()
    assert "Amelia Hart: Tuesday 12 January 2027" in html
    rows = re.findall(r"<td>(\d\d:\d\d)–\d\d:\d\d</td>", html)
    assert rows == ["09:00", "15:00"]  # in order, not cancelled, only theirs, only that day
    assert "Jo Bloggs" in html and "07700 900123" in html and early.patient.full_name in html
    assert late.treatment.name in html and "No health form yet" in html
    assert 'class="day-sheet"' in html and "style=" not in html


def test_print_styles_leave_the_menus_off_the_day_sheet():
    from pathlib import Path

    css = (Path(__file__).resolve().parent.parent / "static/clinic/site.css").read_text()
    print_rules = css[css.index("@media print") :]
    assert ".navbar" in print_rules and ".no-print" in print_rules


# --- screening status, never the answers ---------------------------------------------------------------------


def test_the_desk_sees_screening_statuses_but_never_intake_answers(client, desk):
    practitioner = PractitionerFactory()
    flagged_intake = submitted_intake(anticoagulants=["warfarin"], other_medicines="Secret pill 5mg")
    patients = {
        "Cleared": clear_patient(),
        "Flagged: waiting for review": flagged_intake.patient,
        "Waiting for review": submitted_intake().patient,
        "No health form yet": PatientFactory(),
    }
    booked = {
        label: appointment(practitioner, at(DAY, 9 + hour), patient=patient)
        for hour, (label, patient) in enumerate(patients.items())
    }
    flagged = booked["Flagged: waiting for review"]
    pages = [
        client.get(f"/desk/?date={DAY:%Y-%m-%d}").content.decode(),
        client.get(f"/desk/day-sheet/{practitioner.pk}/?date={DAY:%Y-%m-%d}").content.decode(),
        client.get(f"/desk/appointments/{flagged.pk}/").content.decode(),
        client.get(f"/desk/patients/{flagged.patient.pk}/").content.decode(),
    ]
    for label in patients:
        assert label in pages[0] and label in pages[1]
    for html in pages:
        lowered = html.lower()
        assert "warfarin" not in lowered and "anticoagulant" not in lowered and "secret pill" not in lowered
    assert "Flagged: waiting for review" in pages[2] and "Flagged: waiting for review" in pages[3]
    assert client.get(f"/intake/review/{flagged_intake.pk}/").status_code in (403, 404)
    many = list(patients.values())
    assert screening_statuses(many) == {p.pk: screening_status(p) for p in many}  # one rule, in bulk
