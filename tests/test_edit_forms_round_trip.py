"""Every form that edits something existing saves unchanged (issue #15, part 11).

Each test opens the edit page, reads the form the way a browser does (`tests.browser_forms`: a date input
holds only an ISO date, unchecked boxes send nothing, a select sends its selected option) and presses its
button without changing anything. Expected: no error, no change to the rows, no appointment history, no
email or text. My details once rendered the date of birth as 12/04/1988 (the en-GB input format) into a date
input, which the browser shows empty, so every save failed; the health form's draft did the same to the
isotretinoin date, silently; a desk move to the same time recorded a move and emailed the patient.

A new edit page gets a test here (tests/test_permission_matrix.py lists the pages).
"""

import datetime

import pytest
from django.contrib.messages import constants, get_messages
from django.core import mail
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment, AppointmentEvent, Reminder
from clinic import roles, sms
from clinic.models import TimeOff
from consultations.models import IntakeForm
from practice.models import SessionRecord
from tests.browser_forms import submitted_data
from tests.factories import (
    AppointmentFactory,
    ClearedPatientFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    record_session_for,
    staff_user,
    submitted_intake,
)
from tests.helpers import at, book_online, open_every_day

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]

IGNORED = {"updated_at", "created_at"}


def snapshot(*querysets):
    """Every field of every row, minus the timestamps a save may touch."""
    return [
        [{k: v for k, v in model_to_dict(row).items() if k not in IGNORED} for row in queryset.order_by("pk")]
        for queryset in querysets
    ]


def submit_unchanged(client, url, *, button=None, action=None):
    page = client.get(url)
    assert page.status_code == 200, url
    data = submitted_data(page.content.decode(), action=action if action is not None else "", button=button)
    response = client.post(url, data)
    assert response.status_code in (200, 302), response.status_code
    problems = [str(m) for m in get_messages(response.wsgi_request) if m.level >= constants.WARNING]
    assert problems == [], problems
    if response.status_code == 200:
        form = response.context.get("form")
        assert form is None or not form.errors, form.errors
    return response


def nothing_sent():
    return not mail.outbox and not sms.outbox


@pytest.fixture(autouse=True)
def _empty_outboxes():
    sms.outbox.clear()
    yield


def test_my_details(client):
    patient = PatientFactory(date_of_birth=datetime.date(1988, 4, 12), phone="07700 900123", sms_opt_in=True)
    client.force_login(patient.user)
    page = client.get(reverse("profile"))
    assert 'value="1988-04-12"' in page.content.decode()
    rows = (type(patient).objects.filter(pk=patient.pk), type(patient.user).objects.filter(pk=patient.user_id))
    before = snapshot(*rows)
    submit_unchanged(client, reverse("profile"))
    assert snapshot(*rows) == before
    assert nothing_sent()


def test_health_form_draft_keeps_the_isotretinoin_date(client):
    patient = PatientFactory()
    IntakeForm.objects.create(
        patient=patient, took_isotretinoin=True, isotretinoin_last_dose=datetime.date(2024, 12, 4), gp_name="Dr Lee"
    )
    client.force_login(patient.user)
    before = snapshot(IntakeForm.objects.filter(patient=patient))
    submit_unchanged(client, reverse("intake_form"), button="save_draft")
    assert snapshot(IntakeForm.objects.filter(patient=patient)) == before
    assert IntakeForm.objects.get(patient=patient).isotretinoin_last_dose == datetime.date(2024, 12, 4)


def test_health_form_sent_and_sent_again_unchanged(client):
    patient = PatientFactory()
    submitted_intake(patient, took_isotretinoin=True, isotretinoin_last_dose=datetime.date(2023, 1, 9))
    client.force_login(patient.user)
    before = snapshot(IntakeForm.objects.filter(patient=patient))
    mail.outbox.clear()
    submit_unchanged(client, reverse("intake_form"), button="submit")
    assert snapshot(IntakeForm.objects.filter(patient=patient)) == before
    assert nothing_sent()


def test_practitioner_profile_and_hours(client):
    treatment = TreatmentFactory()
    practitioner = PractitionerFactory(treatments=[treatment], registration_number="NMC 12A3456E")
    WorkingHoursFactory(practitioner=practitioner, weekday=1, start=datetime.time(9, 30), end=datetime.time(13))
    WorkingHoursFactory(practitioner=practitioner, weekday=1, start=datetime.time(14), end=datetime.time(18, 15))
    client.force_login(practitioner.user)
    url = reverse("practitioner_edit", args=[practitioner.slug])
    rows = (type(practitioner).objects.filter(pk=practitioner.pk), practitioner.working_hours.all())
    before = snapshot(*rows)
    submit_unchanged(client, url)
    assert snapshot(*rows) == before
    assert list(practitioner.treatments.all()) == [treatment]


def test_session_record_correction(client):
    start = (timezone.now() - datetime.timedelta(hours=3)).replace(microsecond=0)
    appointment = AppointmentFactory(start_at=start, status=Appointment.Status.CHECKED_IN)
    record_session_for(appointment, areas=(("thighs", "hexsel", 10), ("buttocks", "hexsel", 7)))
    client.force_login(appointment.practitioner.user)
    record = SessionRecord.objects.get(appointment=appointment)
    rows = (SessionRecord.objects.filter(pk=record.pk), record.areas.all())
    before = snapshot(*rows)
    events = AppointmentEvent.objects.count()
    submit_unchanged(client, reverse("practice_session_record", args=[appointment.pk]))
    assert snapshot(*rows) == before
    assert AppointmentEvent.objects.count() == events
    assert nothing_sent()


def test_desk_move_to_the_same_time(client):
    treatment = TreatmentFactory()
    RoomFactory()
    practitioner = open_every_day(PractitionerFactory(treatments=[treatment]))
    patient = ClearedPatientFactory()
    day = timezone.localdate() + datetime.timedelta(days=5)
    appointment = book_online(patient, treatment, practitioner, at(day, 11))
    mail.outbox.clear()
    reminders = snapshot(Reminder.objects.filter(appointment=appointment))
    before = snapshot(Appointment.objects.filter(pk=appointment.pk))
    events = AppointmentEvent.objects.filter(appointment=appointment).count()
    client.force_login(staff_user(roles.FRONT_DESK))
    submit_unchanged(client, reverse("desk:move", args=[appointment.pk]))
    assert snapshot(Appointment.objects.filter(pk=appointment.pk)) == before
    assert snapshot(Reminder.objects.filter(appointment=appointment)) == reminders
    assert AppointmentEvent.objects.filter(appointment=appointment).count() == events
    assert nothing_sent()


def test_desk_rota_with_more_time_off_to_come_than_a_submission_adds(client):
    """Each Friday off for the next two years, entered one by one: the page shows all 104 and saves them
    unchanged (the formset's cap grows with the rows it shows; it once stopped at 100 and refused the save)."""
    practitioner = PractitionerFactory()
    first = timezone.localdate() + datetime.timedelta(days=1)
    fridays = [first + datetime.timedelta(days=(4 - first.weekday()) % 7 + 7 * week) for week in range(104)]
    TimeOff.objects.bulk_create(
        TimeOff(practitioner=practitioner, start_at=at(day, 0, 0), end_at=at(day, 23, 59), reason="Day off")
        for day in fridays
    )
    client.force_login(staff_user(roles.FRONT_DESK))
    rows = TimeOff.objects.filter(practitioner=practitioner)
    before = snapshot(rows)
    submit_unchanged(client, reverse("desk:rota_edit", args=[practitioner.pk]))
    assert snapshot(rows) == before


def test_desk_rota_hours_and_time_off(client):
    practitioner = PractitionerFactory()
    WorkingHoursFactory(practitioner=practitioner, weekday=2, start=datetime.time(8, 45), end=datetime.time(12))
    start = at(timezone.localdate() + datetime.timedelta(days=9), 13, 30)
    TimeOff.objects.create(
        practitioner=practitioner, start_at=start, end_at=start + datetime.timedelta(days=2), reason="Conference"
    )
    client.force_login(staff_user(roles.FRONT_DESK))
    rows = (practitioner.working_hours.all(), TimeOff.objects.filter(practitioner=practitioner))
    before = snapshot(*rows)
    submit_unchanged(client, reverse("desk:rota_edit", args=[practitioner.pk]))
    assert snapshot(*rows) == before
