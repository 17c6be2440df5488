"""Course plans: set after a consultation; which sessions are done, booked, due or overdue; book the next."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings import availability
from bookings.models import Appointment
from clinic import clock, roles
from practice.course import OVERDUE_AFTER_DAYS, State, course_progress
from practice.models import CoursePlan
from tests.factories import (
    AppointmentFactory,
    ConsultationFactory,
    PatientFactory,
    PractitionerFactory,
    TreatmentFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db


def days_ago(days, hour=10):
    moment = timezone.now() - datetime.timedelta(days=days)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


@pytest.fixture
def consulted():
    """A patient seen in consultation by a practitioner 100 days ago."""
    patient, practitioner = PatientFactory(), PractitionerFactory()
    AppointmentFactory(
        patient=patient,
        practitioner=practitioner,
        treatment=ConsultationFactory(),
        start_at=days_ago(100),
        status=Appointment.Status.COMPLETED,
    )
    return patient, practitioner


@pytest.fixture
def treatment():
    return TreatmentFactory(min_days_between_sessions=28)


def plan_url(patient):
    return reverse("practice_course_plan", args=[patient.pk])


def test_practitioner_sets_and_changes_a_plan_after_the_consultation(client, consulted, treatment):
    patient, practitioner = consulted
    client.force_login(practitioner.user)
    response = client.post(
        plan_url(patient), {"treatment": treatment.pk, "sessions": 6, "interval_days": 28}, follow=True
    )
    assert "Course plan saved" in response.content.decode()
    client.post(plan_url(patient), {"treatment": treatment.pk, "sessions": 4, "interval_days": 35})
    plan = CoursePlan.objects.get()
    assert (plan.sessions, plan.interval_days, plan.practitioner) == (4, 35, practitioner)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"sessions": 6, "interval_days": 14}, "at least 28 days apart"),
        ({"sessions": 0, "interval_days": 28}, "greater than or equal to 1"),
        ({"sessions": 6, "interval_days": ""}, "This field is required"),
    ],
)
def test_a_bad_plan_saves_nothing(client, consulted, treatment, data, message):
    patient, practitioner = consulted
    client.force_login(practitioner.user)
    page = client.post(plan_url(patient), {"treatment": treatment.pk, **data}).content.decode()
    assert "No plan was saved" in page and message in page
    assert not CoursePlan.objects.exists()


def test_no_plan_before_a_consultation(client, treatment):
    patient, practitioner = PatientFactory(), PractitionerFactory()
    AppointmentFactory(patient=patient, practitioner=practitioner)  # a booked session, no consultation yet
    client.force_login(practitioner.user)
    page = client.post(plan_url(patient), {"treatment": treatment.pk, "sessions": 3, "interval_days": 28}).content
    assert "after the patient&#x27;s consultation" in page.decode()
    assert not CoursePlan.objects.exists()


def test_a_consultation_cannot_be_the_course_treatment(client, consulted):
    patient, practitioner = consulted
    client.force_login(practitioner.user)
    client.post(plan_url(patient), {"treatment": ConsultationFactory().pk, "sessions": 3, "interval_days": 28})
    assert not CoursePlan.objects.exists()


def test_only_the_patients_practitioners_set_a_plan(client, consulted, treatment):
    patient, _ = consulted
    data = {"treatment": treatment.pk, "sessions": 3, "interval_days": 28}
    client.force_login(PractitionerFactory().user)
    assert client.post(plan_url(patient), data).status_code == 404
    client.force_login(staff_user(roles.FRONT_DESK))
    assert client.post(plan_url(patient), data).status_code == 403
    client.force_login(patient.user)
    assert client.post(plan_url(patient), data).status_code == 403
    assert not CoursePlan.objects.exists()


def make_plan(patient, practitioner, treatment, *, sessions=4, interval=28, starts_days_ago=100):
    return CoursePlan.objects.create(
        patient=patient,
        practitioner=practitioner,
        treatment=treatment,
        sessions=sessions,
        interval_days=interval,
        starts_on=timezone.localdate() - datetime.timedelta(days=starts_days_ago),
    )


def session(patient, practitioner, treatment, start_at, status=Appointment.Status.COMPLETED):
    return AppointmentFactory(
        patient=patient, practitioner=practitioner, treatment=treatment, start_at=start_at, status=status
    )


def states(progress):
    return [s.state for s in progress.sessions]


@pytest.mark.clock
def test_done_booked_and_not_yet_due(consulted, treatment):
    patient, practitioner = consulted
    plan = make_plan(patient, practitioner, treatment)
    session(patient, practitioner, treatment, days_ago(20))
    booked = session(patient, practitioner, treatment, days_ago(-10), Appointment.Status.BOOKED)
    session(patient, practitioner, treatment, days_ago(-5), Appointment.Status.CANCELLED)  # does not count
    progress = course_progress(plan)
    assert states(progress) == [State.DONE, State.BOOKED, State.NOT_YET_DUE, State.PLANNED]
    assert progress.sessions[1].appointment == booked
    zone = clock.zone()
    booked_day = booked.start_at.astimezone(zone).date()
    assert progress.sessions[2].day == booked_day + datetime.timedelta(days=28)
    assert progress.sessions[3].day == booked_day + datetime.timedelta(days=56)


@pytest.mark.clock
def test_due_once_the_window_opens_and_overdue_after_the_grace(consulted, treatment):
    patient, practitioner = consulted
    plan = make_plan(patient, practitioner, treatment)
    last = session(patient, practitioner, treatment, days_ago(30))
    window = last.start_at.astimezone(clock.zone()).date() + datetime.timedelta(days=28)
    assert states(course_progress(plan, today=window - datetime.timedelta(days=1)))[1] == State.NOT_YET_DUE
    assert states(course_progress(plan, today=window))[1] == State.DUE
    assert states(course_progress(plan, today=window + datetime.timedelta(days=OVERDUE_AFTER_DAYS)))[1] == State.DUE
    late = window + datetime.timedelta(days=OVERDUE_AFTER_DAYS + 1)
    assert states(course_progress(plan, today=late)) == [State.DONE, State.OVERDUE, State.PLANNED, State.PLANNED]


def test_the_first_session_is_due_from_the_plans_start(consulted, treatment):
    patient, practitioner = consulted
    plan = make_plan(patient, practitioner, treatment, sessions=2, starts_days_ago=3)
    assert states(course_progress(plan)) == [State.DUE, State.PLANNED]


@pytest.mark.clock
def test_patient_sees_the_course_with_a_book_next_link_at_the_window(client, consulted, treatment):
    patient, practitioner = consulted
    plan = make_plan(patient, practitioner, treatment)
    session(patient, practitioner, treatment, days_ago(10))
    client.force_login(patient.user)
    page = client.get(reverse("my_progress")).content.decode()
    window = days_ago(10).astimezone(clock.zone()).date() + datetime.timedelta(days=28)
    link = f"{reverse('book_treatment', args=[treatment.slug])}?day={window.isoformat()}"
    assert "Book next session" in page and link in page
    assert 'data-state="done"' in page and 'data-state="not_yet_due"' in page
    response = client.get(link)
    assert response.status_code == 200 and response.context["form"]["day"].value() == window.isoformat()
    assert plan.pk


def test_an_overdue_session_links_to_the_first_bookable_day(client, consulted, treatment):
    patient, practitioner = consulted
    make_plan(patient, practitioner, treatment)
    session(patient, practitioner, treatment, days_ago(80))
    first_bookable, _ = availability.bookable_days()
    client.force_login(patient.user)
    page = client.get(reverse("my_progress")).content.decode()
    assert 'data-state="overdue"' in page
    assert f"?day={first_bookable.isoformat()}" in page


def test_a_finished_course_offers_no_booking(client, consulted, treatment):
    patient, practitioner = consulted
    make_plan(patient, practitioner, treatment, sessions=1)
    session(patient, practitioner, treatment, days_ago(10))
    client.force_login(patient.user)
    page = client.get(reverse("my_progress")).content.decode()
    assert "Book next session" not in page and "1 done" in page


def test_the_practitioner_sees_the_plan_on_the_patient_page(client, consulted, treatment):
    patient, practitioner = consulted
    make_plan(patient, practitioner, treatment, sessions=3)
    client.force_login(practitioner.user)
    page = client.get(reverse("practice_patient", args=[patient.pk])).content.decode()
    assert "3 sessions, every 28 days" in page and "Book next session" not in page


def test_seed_demo_gives_the_demo_patient_a_plan_and_a_recorded_session_once(client):
    import io

    from django.core.management import call_command

    from practice.models import SessionRecord

    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    plan = CoursePlan.objects.get(patient__user__email="patient@clinic.example")
    record = SessionRecord.objects.get(patient=plan.patient)
    assert list(record.areas.values_list("area", "grade")) == [("thighs", 10)]
    assert states(course_progress(plan)) == [State.DONE, State.NOT_YET_DUE, *[State.PLANNED] * 4]
    client.force_login(plan.patient.user)
    assert "Book next session" in client.get(reverse("my_progress")).content.decode()


def test_my_appointments_links_to_the_course(client):
    patient = PatientFactory()
    client.force_login(patient.user)
    assert reverse("my_progress") in client.get(reverse("my_appointments")).content.decode()


def test_the_front_desk_sees_where_a_course_stands_on_the_patient_page(client):
    practitioner = PractitionerFactory()
    treatment = TreatmentFactory()
    patient = PatientFactory()
    make_plan(patient, practitioner, treatment, sessions=3, interval=28, starts_days_ago=40)
    session(patient, practitioner, treatment, timezone.now() - datetime.timedelta(days=35))
    client.force_login(staff_user(roles.FRONT_DESK))
    html = client.get(f"/desk/patients/{patient.pk}/").content.decode()
    assert "Course" in html and "3 sessions, every 28 days" in html and "1 done" in html
    assert "Book next session" not in html  # the patient's own link; the desk books from its own button
