"""The front desk's actions through the web layer: book (existing or new phone patient), move, cancel, check in,
complete, no-show. Every rule is the booking service's; these tests check the page says what happened and that
a refusal changes nothing."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from bookings import services
from bookings.models import Appointment, AppointmentEvent
from clinic import roles
from clinic.models import Patient, User
from tests.factories import (
    AppointmentFactory,
    ClearedPatientFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    staff_user,
)
from tests.helpers import at, set_clock

pytestmark = pytest.mark.django_db


def in_days(days):
    return timezone.localdate() + datetime.timedelta(days=days)


def page_messages(response):
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
    practitioner = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart", treatments=[treatment])
    for weekday in range(7):
        WorkingHoursFactory(practitioner=practitioner, weekday=weekday, start=datetime.time(9), end=datetime.time(17))
    return practitioner


def book_via_service(patient, treatment, practitioner, start_at, by):
    return services.book_appointment(
        patient=patient,
        treatment=treatment,
        practitioner=practitioner,
        start_at=start_at,
        booked_by=by,
        source=Appointment.Source.PHONE,
    )


def slot_value(practitioner, start_at):
    return f"{practitioner.pk}@{start_at.isoformat()}"


# --- booking -------------------------------------------------------------------------------------------------


@pytest.mark.clock
def test_the_desk_finds_the_same_free_times_as_online_and_books_by_phone(client, desk, treatment, practitioner):
    patient = ClearedPatientFactory(user__first_name="Jo", user__last_name="Bloggs")
    day = in_days(7)
    book_via_service(ClearedPatientFactory(), treatment, practitioner, at(day, 9), desk)
    html = client.get(
        f"/desk/patients/{patient.pk}/book/", {"treatment": treatment.pk, "practitioner": "", "date": day}
    ).content.decode()
    assert "09:00 with Amelia Hart" not in html  # taken, with its buffer up to 10:15
    assert "10:15 with Amelia Hart (Room A)" in html and "16:00 with Amelia Hart" in html

    response = client.post(
        f"/desk/patients/{patient.pk}/book/",
        {"treatment": treatment.pk, "slot": slot_value(practitioner, at(day, 11)), "date": day},
        follow=True,
    )
    appointment = Appointment.objects.get(patient=patient)
    assert (appointment.source, appointment.created_by, appointment.start_at) == ("phone", desk, at(day, 11))
    event = appointment.events.get()
    assert (event.action, event.by) == ("booked", desk) and event.at
    assert f"Booked Thighs session for Jo Bloggs on {day:%a %-d %b %Y}, 11:00 with Amelia Hart." in page_messages(
        response
    )
    assert response.request["PATH_INFO"] == f"/desk/appointments/{appointment.pk}/"


def test_a_time_just_taken_is_refused_with_nearby_times_and_nothing_is_booked(client, desk, treatment, practitioner):
    patient = ClearedPatientFactory()
    day = in_days(7)
    book_via_service(ClearedPatientFactory(), treatment, practitioner, at(day, 11), desk)
    response = client.post(
        f"/desk/patients/{patient.pk}/book/",
        {"treatment": treatment.pk, "slot": slot_value(practitioner, at(day, 11)), "date": day},
    )
    assert response.status_code == 200
    [message] = page_messages(response)
    assert "just taken" in message and "Free nearby:" in message
    assert not Appointment.objects.filter(patient=patient).exists()


@pytest.mark.parametrize("slot", ["", "garbage", "999999@2027-01-01T10:00:00+00:00", "1@2027-01-01T10:00:00"])
def test_bad_slot_input_is_refused_without_a_500(client, desk, treatment, practitioner, slot):
    patient = ClearedPatientFactory()
    response = client.post(f"/desk/patients/{patient.pk}/book/", {"treatment": treatment.pk, "slot": slot})
    assert response.status_code == 200
    assert page_messages(response) == ["Choose one of the times shown: nothing was booked."]
    assert not Appointment.objects.exists()


def test_a_time_off_the_grid_is_refused(client, desk, treatment, practitioner):
    patient = ClearedPatientFactory()
    response = client.post(
        f"/desk/patients/{patient.pk}/book/",
        {"treatment": treatment.pk, "slot": slot_value(practitioner, at(in_days(7), 20))},
    )
    assert page_messages(response) == ["Not booked: That time is not offered. Please choose one of the times shown."]
    assert not Appointment.objects.exists()


def test_eligibility_stops_the_desk_and_an_override_from_the_desk_is_ignored(client, desk, treatment, practitioner):
    patient = PatientFactory()  # no health form yet
    response = client.post(
        f"/desk/patients/{patient.pk}/book/",
        {"treatment": treatment.pk, "slot": slot_value(practitioner, at(in_days(7), 10)), "override_reason": "x"},
    )
    [message] = page_messages(response)
    assert message.startswith("Not booked: Before a treatment session, a practitioner reviews")
    assert "Override the eligibility check" not in response.content.decode()
    assert not Appointment.objects.exists()


def test_a_clinic_admin_may_override_eligibility_with_a_recorded_reason(client, sign_in, treatment, practitioner):
    admin = sign_in(client, staff_user(roles.CLINIC_ADMIN))
    patient = PatientFactory()  # no health form yet
    day = in_days(7)
    form = client.get(f"/desk/patients/{patient.pk}/book/", {"treatment": treatment.pk, "date": day})
    assert "Override the eligibility check" in form.content.decode()
    client.post(
        f"/desk/patients/{patient.pk}/book/",
        {"treatment": treatment.pk, "slot": slot_value(practitioner, at(day, 10)), "override_reason": ""},
    )
    assert not Appointment.objects.exists()  # no reason, no override
    client.post(
        f"/desk/patients/{patient.pk}/book/",
        {
            "treatment": treatment.pk,
            "slot": slot_value(practitioner, at(day, 10)),
            "override_reason": "Cleared by Dr Okafor by phone",
        },
    )
    event = Appointment.objects.get(patient=patient).events.get()
    assert event.by == admin and "Cleared by Dr Okafor by phone" in event.reason


def test_a_new_phone_patient_without_email_gets_a_placeholder_and_no_password(client, desk):
    response = client.post(
        "/desk/patients/new/",
        {"first_name": "Pat", "last_name": "Caller", "phone": "07700 900777", "date_of_birth": "1985-06-01"},
        follow=True,
    )
    patient = Patient.objects.get(user__last_name="Caller")
    assert patient.user.email.endswith("@patients.invalid") and not patient.user.has_usable_password()
    assert response.request["PATH_INFO"] == f"/desk/patients/{patient.pk}/book/"
    assert "Created Pat Caller's record. Now choose a time." in page_messages(response)
    client.post(
        "/desk/patients/new/",
        {"first_name": "Sam", "last_name": "Other", "phone": "07700 900778", "date_of_birth": "1985-06-01"},
    )
    assert Patient.objects.count() == 2  # placeholders are unique


@pytest.mark.clock
def test_a_new_phone_patient_must_be_an_adult_with_a_phone_and_an_unused_email(client, desk):
    existing = PatientFactory(user__email="taken@example.com")
    too_young = timezone.localdate().replace(year=timezone.localdate().year - 17)
    for data in (
        {"first_name": "A", "last_name": "B", "phone": "07700 900777", "date_of_birth": too_young},
        {"first_name": "A", "last_name": "B", "phone": "call me", "date_of_birth": "1985-06-01"},
        {
            "first_name": "A",
            "last_name": "B",
            "phone": "07700 900777",
            "date_of_birth": "1985-06-01",
            "email": "TAKEN@example.com",
        },
    ):
        response = client.post("/desk/patients/new/", data)
        assert response.status_code == 200
        assert "Check the patient's details: nothing was saved." in page_messages(response)
    assert list(Patient.objects.all()) == [existing] and User.objects.filter(last_name="B").count() == 0


def test_a_new_phone_patient_with_an_email_keeps_it(client, desk):
    client.post(
        "/desk/patients/new/",
        {
            "first_name": "Pat",
            "last_name": "Caller",
            "phone": "07700 900777",
            "date_of_birth": "1985-06-01",
            "email": "Pat@Example.com",
            "sms_opt_in": "on",
        },
    )
    patient = Patient.objects.get()
    assert patient.user.email == "pat@example.com" and patient.sms_opt_in


# --- moving ----------------------------------------------------------------------------------------------------


@pytest.fixture
def booked(treatment, practitioner):
    desk_user = staff_user(roles.FRONT_DESK)
    return book_via_service(ClearedPatientFactory(), treatment, practitioner, at(in_days(7), 10), desk_user)


def move(client, appointment, day, time, **extra):
    return client.post(f"/desk/appointments/{appointment.pk}/move/", {"date": day, "time": time, **extra}, follow=True)


def assert_unchanged(appointment):
    start_at = appointment.start_at
    appointment.refresh_from_db()
    assert appointment.start_at == start_at and appointment.status == "booked"
    assert list(appointment.events.values_list("action", flat=True)) == ["booked"]


def test_moving_to_a_free_time_says_so_and_records_who(client, desk, booked, treatment):
    colleague = PractitionerFactory(user__first_name="Ben", user__last_name="Okafor", treatments=[treatment])
    WorkingHoursFactory(practitioner=colleague, weekday=in_days(8).weekday())
    response = move(client, booked, in_days(8), "14:00", practitioner=colleague.pk, reason="Patient asked")
    booked.refresh_from_db()
    assert booked.start_at == at(in_days(8), 14) and booked.practitioner == colleague
    event = booked.events.last()
    assert (event.action, event.by, event.reason) == ("rescheduled", desk, "Patient asked")
    assert any(m.startswith("Moved ") and "with Ben Okafor" in m for m in page_messages(response))


def test_a_move_onto_another_appointment_is_refused_with_the_reason(client, desk, booked, treatment, practitioner):
    book_via_service(ClearedPatientFactory(), treatment, practitioner, at(in_days(7), 14), desk)
    response = move(client, booked, in_days(7), "14:00")
    assert any("just taken" in m for m in page_messages(response))
    assert "just taken" in response.content.decode()
    assert_unchanged(booked)


def test_a_move_outside_working_hours_is_refused_with_the_reason(client, desk, booked):
    response = move(client, booked, in_days(7), "19:00")
    assert "Not moved: That time is not offered." in response.content.decode()
    assert_unchanged(booked)


def test_a_move_too_close_to_another_session_of_the_course_is_refused(client, desk, booked, treatment, practitioner):
    later = book_via_service(booked.patient, treatment, practitioner, at(in_days(40), 10), desk)
    response = move(client, later, in_days(20), "10:00")
    html = response.content.decode()
    assert "Not moved: Sessions of Thighs session are at least 28 days apart." in html.replace("&#x27;", "'")
    later_start = later.start_at
    later.refresh_from_db()
    assert later.start_at == later_start


def test_a_move_to_a_time_the_clocks_skip_is_refused(client, desk, booked):
    response = move(client, booked, "2027-03-28", "01:30")
    assert "the clocks go forward" in response.content.decode()
    assert_unchanged(booked)


def test_a_move_with_bad_input_changes_nothing(client, desk, booked):
    response = move(client, booked, "not a date", "25:99")
    assert response.status_code == 200
    assert "Check the new date and time: nothing was changed." in page_messages(response)
    assert_unchanged(booked)


@pytest.mark.parametrize("far", ["9999-12-31", "0001-01-01"])
def test_a_move_or_a_search_for_times_at_the_ends_of_the_calendar_is_refused(client, desk, booked, treatment, far):
    """Found by tests/test_hostile_input.py: the day after 9999-12-31 does not exist, and both were a 500."""
    response = move(client, booked, far, "10:00")
    assert "Choose a date within 100 years of today." in response.content.decode()
    assert_unchanged(booked)
    response = client.get(f"/desk/patients/{booked.patient.pk}/book/", {"treatment": treatment.pk, "date": far})
    assert response.status_code == 200 and "Choose a date within 100 years of today." in response.content.decode()


@pytest.mark.clock
def test_the_move_form_starts_from_the_current_time(client, desk, booked):
    html = client.get(f"/desk/appointments/{booked.pk}/move/").content.decode()
    assert f'value="{in_days(7):%Y-%m-%d}"' in html and 'value="10:00"' in html


# --- cancel and statuses ------------------------------------------------------------------------------------


def test_cancel_needs_a_reason_and_then_frees_the_time(client, desk, booked):
    response = client.post(f"/desk/appointments/{booked.pk}/cancel/", {"reason": ""}, follow=True)
    assert "Give a reason for cancelling: nothing was changed." in page_messages(response)
    assert_unchanged(booked)
    response = client.post(f"/desk/appointments/{booked.pk}/cancel/", {"reason": "Patient unwell"}, follow=True)
    booked.refresh_from_db()
    assert booked.status == "cancelled" and booked.cancellation_reason == "Patient unwell"
    event = booked.events.last()
    assert (event.action, event.by, event.reason) == ("cancelled", desk, "Patient unwell")
    assert any(m.startswith("Cancelled ") for m in page_messages(response))
    response = client.post(f"/desk/appointments/{booked.pk}/cancel/", {"reason": "again"}, follow=True)
    assert "This appointment is cancelled: it cannot be cancelled." in page_messages(response)


def test_check_in_then_complete(client, desk, booked, monkeypatch):
    set_clock(monkeypatch, booked.start_at + datetime.timedelta(minutes=5))  # the appointment's day and time
    client.force_login(desk)  # signed in at that time
    response = client.post(f"/desk/appointments/{booked.pk}/check-in/", follow=True)
    booked.refresh_from_db()
    assert booked.status == "checked_in"
    assert any(m.endswith("checked in.") for m in page_messages(response))
    response = client.post(f"/desk/appointments/{booked.pk}/complete/", follow=True)
    booked.refresh_from_db()
    assert booked.status == "completed"
    assert [(e.action, e.by) for e in booked.events.all()][1:] == [("checked_in", desk), ("completed", desk)]
    response = client.post(f"/desk/appointments/{booked.pk}/check-in/", follow=True)
    assert "This appointment is completed: it cannot be checked in." in page_messages(response)


@pytest.mark.clock
def test_no_show_only_once_the_time_has_come(client, desk, booked):
    response = client.post(f"/desk/appointments/{booked.pk}/no-show/", follow=True)
    assert "An appointment can be marked a no-show only once its time has come." in page_messages(response)
    assert_unchanged(booked)
    past = AppointmentFactory(start_at=timezone.now() - datetime.timedelta(hours=2))
    response = client.post(f"/desk/appointments/{past.pk}/no-show/", {"next": "/desk/"}, follow=True)
    past.refresh_from_db()
    assert past.status == "no_show" and response.request["PATH_INFO"] == "/desk/"
    assert AppointmentEvent.objects.get(appointment=past).by == desk


def test_actions_need_a_post_a_known_action_and_an_existing_appointment(client, desk, booked):
    assert client.get(f"/desk/appointments/{booked.pk}/check-in/").status_code == 405
    assert client.get(f"/desk/appointments/{booked.pk}/cancel/").status_code == 405
    assert client.post(f"/desk/appointments/{booked.pk}/explode/").status_code == 404
    assert client.post("/desk/appointments/999999/check-in/").status_code == 404
    assert client.get("/desk/appointments/999999/").status_code == 404
    assert client.post("/desk/patients/999999/book/").status_code == 404
    assert_unchanged(booked)
    response = client.post(f"/desk/appointments/{booked.pk}/check-in/", {"next": "https://evil.example/"})
    assert response.url == f"/desk/appointments/{booked.pk}/"  # never sent off-site


@pytest.mark.clock
def test_the_detail_page_shows_history_and_the_actions_allowed_now(client, desk, booked, monkeypatch):
    html = client.get(f"/desk/appointments/{booked.pk}/").content.decode()
    assert "Cancel appointment" in html and "Move" in html
    assert "Check in</button>" not in html and "Mark no-show" not in html  # a week ahead: not yet
    set_clock(monkeypatch, booked.start_at + datetime.timedelta(minutes=5))
    client.force_login(desk)
    html = client.get(f"/desk/appointments/{booked.pk}/").content.decode()
    assert "Check in</button>" in html and "Mark no-show" in html and "Complete</button>" in html
    assert f"Booked by {booked.created_by}" in html
    assert "Cleared" in html


def test_patients_and_practitioners_cannot_act(client, booked, practitioner):
    for user in (booked.patient.user, practitioner.user):
        client.force_login(user)
        assert client.post(f"/desk/appointments/{booked.pk}/check-in/").status_code == 403
        assert client.post(f"/desk/appointments/{booked.pk}/cancel/", {"reason": "x"}).status_code == 403
        assert (
            client.post(f"/desk/appointments/{booked.pk}/move/", {"date": in_days(8), "time": "10:00"}).status_code
            == 403
        )
    assert_unchanged(booked)
