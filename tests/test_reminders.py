"""The reminder outbox without a broker: the timeline, moving and cancelling with the appointment, sending
once, retries, preferences, content, daylight saving, and the patient's 3-day check-in."""

import datetime
import re

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from bookings import links
from bookings.models import AftercareCheckIn, Appointment, Reminder, SignedLink, TreatmentReminder
from bookings.reminders import selectors, services
from bookings.reminders.services import sync_reminders
from bookings.reminders.timing import Kind
from clinic import sms
from tests.factories import (
    AppointmentFactory,
    ConsultationFactory,
    PatientFactory,
    TreatmentFactory,
    staff_user,
)
from tests.helpers import at, book_online, open_every_day, set_clock

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
ALL_KINDS = {k.value for k in Kind} - {
    Kind.MOVED,
    Kind.CANCELLED,
}  # the timeline; a move or a cancellation adds its notice


@pytest.fixture(autouse=True)
def _empty_sms_outbox():
    sms.outbox.clear()


def hours_from_now(hours: float) -> datetime.datetime:
    return (timezone.now() + datetime.timedelta(hours=hours)).replace(second=0, microsecond=0)


def book(start_at=None, **kwargs) -> Appointment:
    """A booking as the booking service makes it: the row, then its reminders, in one transaction."""
    with transaction.atomic():
        appointment = AppointmentFactory(**({"start_at": start_at} if start_at else {}), **kwargs)
        sync_reminders(appointment)
    return appointment


def save_and_sync(appointment, **changes):
    with transaction.atomic():
        for field, value in changes.items():
            setattr(appointment, field, value)
        appointment.save()
        sync_reminders(appointment)


def reschedule(appointment, start_at):
    duration = appointment.end_at - appointment.start_at
    buffer = appointment.busy_until - appointment.end_at
    save_and_sync(appointment, start_at=start_at, end_at=start_at + duration, busy_until=start_at + duration + buffer)


def rows(appointment, **filters):
    return {r.kind: r for r in appointment.reminders.filter(channel="email", **filters)}


def make_due(*reminders):
    past = timezone.now() - datetime.timedelta(seconds=1)
    Reminder.objects.filter(pk__in=[r.pk for r in reminders]).update(due_at=past, next_attempt_at=past)


def send_due(django_capture_on_commit_callbacks) -> int:
    """What one beat tick does, with the send task run in-process."""
    with django_capture_on_commit_callbacks(execute=True):
        return services.dispatch_due_reminders(enqueue=services.send_reminder)


def sent_kinds():
    return [m.extra_headers["X-Clinic-Reminder"] for m in mail.outbox]


# --- The timeline -------------------------------------------------------------------------------------


@pytest.mark.clock
def test_a_booking_ten_days_ahead_gets_the_whole_timeline_at_the_right_times():
    appointment = book(hours_from_now(240))
    by_kind = rows(appointment)
    assert set(by_kind) == ALL_KINDS
    start, end = appointment.start_at, appointment.end_at
    assert by_kind[Kind.PRE_CARE].due_at == start - datetime.timedelta(days=7)
    assert by_kind[Kind.PRE_CARE_48H].due_at == start - datetime.timedelta(hours=48)
    assert by_kind[Kind.REMINDER_24H].due_at == start - datetime.timedelta(hours=24)
    assert by_kind[Kind.AFTERCARE].due_at == end
    assert by_kind[Kind.CHECK_IN].due_at == end + datetime.timedelta(days=3)
    assert by_kind[Kind.NEXT_SESSION].due_at == end + datetime.timedelta(days=28)  # the course interval
    assert by_kind[Kind.CONFIRMATION].due_at <= timezone.now()
    assert {r.status for r in by_kind.values()} == {Reminder.Status.PENDING}


@pytest.mark.clock
def test_a_booking_30_hours_ahead_gets_no_7_day_or_48_hour_reminder():
    appointment = book(hours_from_now(30))
    assert set(rows(appointment)) == ALL_KINDS - {Kind.PRE_CARE, Kind.PRE_CARE_48H}


def test_sync_is_idempotent():
    appointment = book(hours_from_now(240))
    before = list(appointment.reminders.values_list("pk", "kind", "due_at", "status"))
    with transaction.atomic():
        sync_reminders(appointment)
        sync_reminders(appointment)
    assert list(appointment.reminders.values_list("pk", "kind", "due_at", "status")) == before


def test_a_consultation_gets_a_confirmation_and_a_reminder_only():
    appointment = book(hours_from_now(240), treatment=ConsultationFactory())
    assert set(rows(appointment)) == {Kind.CONFIRMATION, Kind.REMINDER_24H}


def test_reschedule_moves_unsent_reminders_and_leaves_sent_ones(django_capture_on_commit_callbacks):
    appointment = book(hours_from_now(240))
    send_due(django_capture_on_commit_callbacks)  # the confirmation goes at once
    assert sent_kinds() == [str(rows(appointment)[Kind.CONFIRMATION].pk)]
    new_start = appointment.start_at + datetime.timedelta(days=2, hours=3)
    reschedule(appointment, new_start)
    by_kind = rows(appointment)
    assert by_kind[Kind.CONFIRMATION].status == Reminder.Status.SENT
    assert by_kind[Kind.PRE_CARE].due_at == new_start - datetime.timedelta(days=7)
    assert by_kind[Kind.REMINDER_24H].due_at == by_kind[Kind.REMINDER_24H].next_attempt_at
    assert by_kind[Kind.REMINDER_24H].due_at == new_start - datetime.timedelta(hours=24)
    assert by_kind[Kind.AFTERCARE].due_at == appointment.end_at


@pytest.mark.clock
def test_rescheduling_to_30_hours_ahead_drops_the_reminders_whose_time_has_passed():
    appointment = book(hours_from_now(240))
    reschedule(appointment, hours_from_now(30))
    by_kind = rows(appointment)
    assert by_kind[Kind.PRE_CARE].status == by_kind[Kind.PRE_CARE_48H].status == Reminder.Status.CANCELLED
    assert by_kind[Kind.REMINDER_24H].status == Reminder.Status.PENDING


def test_a_task_queued_before_a_reschedule_sends_nothing(django_capture_on_commit_callbacks):
    appointment = book(hours_from_now(240))
    reminder = rows(appointment)[Kind.REMINDER_24H]
    make_due(reminder)
    assert reminder.pk in services.claim_due_reminders(limit=10)
    reschedule(appointment, hours_from_now(300))  # the queued task is now stale
    assert services.send_reminder(reminder.pk).startswith("skipped")
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.PENDING and reminder.due_at > timezone.now()
    assert mail.outbox == []


def test_cancel_cancels_every_unsent_reminder_and_nothing_goes_out(django_capture_on_commit_callbacks):
    appointment = book(hours_from_now(240))
    send_due(django_capture_on_commit_callbacks)
    save_and_sync(appointment, status=Appointment.Status.CANCELLED, cancelled_at=timezone.now())
    statuses = {kind: r.status for kind, r in rows(appointment).items()}
    assert statuses.pop(Kind.CONFIRMATION) == Reminder.Status.SENT
    assert set(statuses.values()) == {Reminder.Status.CANCELLED}
    make_due(*appointment.reminders.all())
    mail.outbox.clear()
    send_due(django_capture_on_commit_callbacks)
    assert mail.outbox == []


def attended(appointment):
    """The appointment took place and was checked out a minute ago (its reminder rows made at booking)."""
    now = timezone.now()
    save_and_sync(
        appointment,
        start_at=now - datetime.timedelta(hours=1),
        end_at=now - datetime.timedelta(minutes=1),
        busy_until=now - datetime.timedelta(minutes=1),
        status=Appointment.Status.COMPLETED,
        completed_at=now - datetime.timedelta(minutes=1),
    )
    return appointment


def test_completing_early_sends_the_aftercare_at_check_out(django_capture_on_commit_callbacks):
    from bookings import services as booking
    from clinic import roles

    appointment = book(hours_from_now(-0.25))  # started a quarter of an hour ago, for an hour
    send_due(django_capture_on_commit_callbacks)
    mail.outbox.clear()
    booking.complete_appointment(appointment, by=staff_user(roles.FRONT_DESK))
    aftercare = rows(appointment)[Kind.AFTERCARE]
    assert aftercare.due_at <= timezone.now()
    send_due(django_capture_on_commit_callbacks)
    assert sent_kinds() == [str(aftercare.pk)]
    assert "Looking after your skin" in mail.outbox[0].subject
    assert rows(appointment)[Kind.CHECK_IN].status == Reminder.Status.PENDING


def test_a_no_show_gets_no_aftercare_check_in_or_next_session():
    appointment = book(hours_from_now(240))
    save_and_sync(appointment, status=Appointment.Status.NO_SHOW)
    by_kind = rows(appointment)
    for kind in (Kind.AFTERCARE, Kind.CHECK_IN, Kind.NEXT_SESSION):
        assert by_kind[kind].status == Reminder.Status.CANCELLED


# --- Per-treatment timeline -------------------------------------------------------------------------


def test_a_new_treatment_starts_with_the_default_timeline_which_the_clinic_can_edit():
    treatment = TreatmentFactory()
    assert set(treatment.reminder_settings.values_list("kind", flat=True)) == ALL_KINDS
    assert set(ConsultationFactory().reminder_settings.filter(enabled=True).values_list("kind", flat=True)) == {
        Kind.CONFIRMATION,
        Kind.REMINDER_24H,
    }
    TreatmentReminder.objects.filter(treatment=treatment, kind=Kind.CHECK_IN).update(enabled=False)
    TreatmentReminder.objects.filter(treatment=treatment, kind=Kind.REMINDER_24H).update(
        offset_hours=12, subject="Tomorrow at the clinic", extra_text="Bring loose clothing."
    )
    appointment = book(hours_from_now(240), treatment=treatment)
    by_kind = rows(appointment)
    assert Kind.CHECK_IN not in by_kind
    reminder = by_kind[Kind.REMINDER_24H]
    assert reminder.due_at == appointment.start_at - datetime.timedelta(hours=12)
    make_due(reminder)
    services.claim_due_reminders(limit=10)
    assert services.send_reminder(reminder.pk) == "sent"
    assert mail.outbox[-1].subject.startswith("Tomorrow at the clinic")
    assert "Bring loose clothing." in mail.outbox[-1].body


# --- Sending once, retries, failures -------------------------------------------------------------------


def test_a_duplicated_dispatch_or_task_sends_once(django_capture_on_commit_callbacks):
    appointment = book(hours_from_now(240))
    confirmation = rows(appointment)[Kind.CONFIRMATION]
    assert send_due(django_capture_on_commit_callbacks) == 1
    assert send_due(django_capture_on_commit_callbacks) == 0  # a second beat tick finds nothing due
    assert services.send_reminder(confirmation.pk).startswith("skipped")  # a redelivered task
    assert sent_kinds() == [str(confirmation.pk)]
    confirmation.refresh_from_db()
    assert confirmation.status == Reminder.Status.SENT and confirmation.attempts == 1 and confirmation.sent_at


def test_a_claimed_reminder_whose_task_was_lost_is_claimed_again_after_its_lease(
    django_capture_on_commit_callbacks, settings
):
    settings.REMINDER_LEASE_SECONDS = 300
    appointment = book(hours_from_now(240))
    confirmation = rows(appointment)[Kind.CONFIRMATION]
    assert services.claim_due_reminders(limit=10) == [confirmation.pk]  # its task never arrives
    assert send_due(django_capture_on_commit_callbacks) == 0  # leased: not claimed twice
    Reminder.objects.filter(pk=confirmation.pk).update(next_attempt_at=timezone.now())  # the lease runs out
    assert send_due(django_capture_on_commit_callbacks) == 1
    assert sent_kinds() == [str(confirmation.pk)]


def test_a_failing_send_is_retried_with_backoff_then_fails_with_its_reason(
    django_capture_on_commit_callbacks, settings, client, sign_in
):
    settings.EMAIL_BACKEND = "tests.email_backends.FailingBackend"
    settings.REMINDER_MAX_ATTEMPTS = 3
    settings.REMINDER_RETRY_BASE_SECONDS = 60
    appointment = book(hours_from_now(240))
    confirmation = rows(appointment)[Kind.CONFIRMATION]
    before = timezone.now()
    send_due(django_capture_on_commit_callbacks)
    confirmation.refresh_from_db()
    assert confirmation.status == Reminder.Status.PENDING and confirmation.attempts == 1
    assert "mail server refused" in confirmation.last_error
    assert confirmation.next_attempt_at >= before + datetime.timedelta(seconds=60)
    assert send_due(django_capture_on_commit_callbacks) == 0  # waits for its backoff
    for expected_delay in (120, None):
        Reminder.objects.filter(pk=confirmation.pk).update(next_attempt_at=timezone.now())
        before = timezone.now()
        send_due(django_capture_on_commit_callbacks)
        confirmation.refresh_from_db()
        if expected_delay:
            assert confirmation.next_attempt_at >= before + datetime.timedelta(seconds=expected_delay)
    assert confirmation.status == Reminder.Status.FAILED and confirmation.attempts == 3
    assert list(selectors.failed_reminders()) == [confirmation]

    sign_in(client, staff_user("Clinic admin"))
    page = client.get(reverse("admin:bookings_reminder_changelist") + "?status__exact=failed")
    assert "mail server refused the connection" in page.content.decode()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    client.post(
        reverse("admin:bookings_reminder_changelist"),
        {"action": "retry", "_selected_action": [confirmation.pk]},
    )
    send_due(django_capture_on_commit_callbacks)
    confirmation.refresh_from_db()
    assert confirmation.status == Reminder.Status.SENT


# --- Preferences --------------------------------------------------------------------------------------


def test_opting_out_of_non_essential_messages_keeps_confirmation_and_safety_messages():
    patient = PatientFactory(non_essential_opt_out=True)
    appointment = book(hours_from_now(240), patient=patient)
    essential = {Kind.CONFIRMATION, Kind.PRE_CARE, Kind.PRE_CARE_48H, Kind.AFTERCARE}
    assert set(rows(appointment)) == essential
    assert {r.kind for r in selectors.reminders_for_patient(patient)} == essential


def test_opting_out_after_booking_stops_the_non_essential_ones_at_send_time(django_capture_on_commit_callbacks):
    appointment = book(hours_from_now(240))
    reminder = rows(appointment)[Kind.REMINDER_24H]
    make_due(reminder)
    appointment.patient.non_essential_opt_out = True
    appointment.patient.save()
    send_due(django_capture_on_commit_callbacks)
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.CANCELLED and "opted out" in reminder.cancel_reason
    assert str(reminder.pk) not in sent_kinds()


@pytest.mark.usefixtures("daytime")  # texts wait through the quiet hours
def test_a_patient_who_opted_in_to_texts_gets_them_too(django_capture_on_commit_callbacks):
    patient = PatientFactory(sms_opt_in=True, phone="07700 900555")
    appointment = book(hours_from_now(240), patient=patient)
    sms_kinds = set(appointment.reminders.filter(channel="sms").values_list("kind", flat=True))
    assert sms_kinds == {Kind.CONFIRMATION, Kind.PRE_CARE_48H, Kind.REMINDER_24H}
    send_due(django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    assert len(sms.outbox) == 1 and sms.outbox[0].to == "+447700900555"  # E.164, what a text provider takes
    assert appointment.treatment.name in sms.outbox[0].body
    assert not PatientFactory().sms_opt_in  # by default, email only


@pytest.mark.usefixtures("daytime")  # texts wait through the quiet hours
def test_no_email_goes_to_an_address_that_cannot_receive_mail(django_capture_on_commit_callbacks):
    """A phone booking without an address has a reserved .invalid placeholder: texts only, if asked for."""
    texts = PatientFactory(user__email="no-email-abc123@patients.invalid", sms_opt_in=True, phone="07700 900556")
    silent = PatientFactory(user__email="no-email-def456@patients.invalid")
    with_texts = book(hours_from_now(240), patient=texts)
    without = book(hours_from_now(260), patient=silent)
    assert set(with_texts.reminders.values_list("channel", flat=True)) == {"sms"}
    assert not without.reminders.exists()
    send_due(django_capture_on_commit_callbacks)
    assert mail.outbox == [] and [m.to for m in sms.outbox] == ["+447700900556"]


# --- Content ------------------------------------------------------------------------------------------


def send_now(appointment, kind):
    reminder = rows(appointment)[kind]
    make_due(reminder)
    services.claim_due_reminders(limit=100)
    assert services.send_reminder(reminder.pk) == "sent"
    return mail.outbox[-1]


def html_of(message):
    content, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    return content


def test_the_confirmation_has_both_parts_the_clinic_the_time_and_links(settings):
    start = datetime.datetime(2027, 6, 14, 13, 30, tzinfo=UTC)  # 14:30 in London (BST)
    appointment = book(start)
    message = send_now(appointment, Kind.CONFIRMATION)
    html = html_of(message)
    assert message.to == [appointment.patient.user.email]
    assert message.alternatives[0][1] == "text/html"
    for part in (message.body, html):
        assert "Monday 14 June 2027 at 14:30" in part
        assert settings.CLINIC["NAME"] in part and settings.CLINIC["ADDRESS"] in part
        assert appointment.practitioner.name in part
        assert settings.SITE_URL in part
    assert "Reschedule" in message.body and "Cancel" in message.body
    assert message.from_email == f"{settings.CLINIC['NAME']} <bookings@clinic.example>"
    # The links are signed ones, the same in both parts: one reschedule and one cancel link for this patient.
    links = SignedLink.objects.filter(appointment=appointment)
    assert sorted(links.values_list("action", flat=True)) == ["cancel", "reschedule"]
    for url in re.findall(r"https?://\S+/l/\S+/", message.body):
        assert url in html


def test_the_confirmation_carries_the_calendar_file_when_the_calendar_helper_is_installed():
    message = send_now(book(hours_from_now(240)), Kind.CONFIRMATION)
    try:
        import bookings.ics  # noqa: F401
    except ImportError:
        assert message.attachments == []
        return
    [(name, content, mimetype)] = message.attachments
    assert name == "appointment.ics" and mimetype == "text/calendar"
    assert "BEGIN:VCALENDAR" in (content.decode() if isinstance(content, bytes) else content)


def test_pre_care_covers_blood_thinners_alcohol_retinoids_and_sun(settings):
    appointment = book(hours_from_now(240))
    message = send_now(appointment, Kind.PRE_CARE)
    for part in (message.body, html_of(message)):
        text = part.replace("&#x27;", "'")
        assert "Do not stop a prescribed medicine without your prescriber's advice" in text
        for topic in ("Blood-thinning supplements and medicines", "fish oil", "Alcohol", "Retinoids", "Sun"):
            assert topic in text
    # 'Nothing has changed' is a signed link that signs the patient in and opens that appointment's page.
    link = SignedLink.objects.get(appointment=appointment, action=SignedLink.Action.HEALTH_FORM)
    assert re.search(rf"still up to date: {re.escape(settings.SITE_URL)}/l/\S+/", message.body)
    assert links.destination(link) == reverse("intake_confirm", args=[appointment.pk])


def test_aftercare_covers_moisturiser_sun_exercise_what_is_normal_and_when_to_call():
    appointment = attended(book(hours_from_now(1)))
    message = send_now(appointment, Kind.AFTERCARE)
    for part in (message.body, html_of(message)):
        text = part.lower()
        assert "moisturiser" in text
        assert "no direct sun and no strenuous exercise for 24 hours" in text
        assert "redness, swelling and bruising for a few days" in text
        assert "signs of infection" in text and "call" in text


def test_the_check_in_message_links_to_the_form():
    appointment = attended(book(hours_from_now(1)))
    message = send_now(appointment, Kind.CHECK_IN)
    link = SignedLink.objects.get(appointment=appointment, action=SignedLink.Action.CHECK_IN)
    assert re.search(r"/l/\S+/", message.body)
    assert links.destination(link) == reverse("aftercare_check_in", args=[appointment.pk])


@pytest.mark.parametrize(
    "start_utc, local_text, due_24h_utc",
    [
        # Spring forward on Sunday 28 March 2027: 10:00 BST is 09:00 UTC; 24 hours before is 09:00 GMT.
        (datetime.datetime(2027, 3, 28, 9, 0, tzinfo=UTC), "Sunday 28 March 2027 at 10:00", (2027, 3, 27, 9)),
        # Fall back on Sunday 31 October 2027: 10:00 GMT is 10:00 UTC; 24 hours before is 11:00 BST.
        (datetime.datetime(2027, 10, 31, 10, 0, tzinfo=UTC), "Sunday 31 October 2027 at 10:00", (2027, 10, 30, 10)),
    ],
)
def test_times_in_texts_are_clinic_time_across_daylight_saving_changes(start_utc, local_text, due_24h_utc):
    appointment = book(start_utc)
    reminder = rows(appointment)[Kind.REMINDER_24H]
    assert reminder.due_at == datetime.datetime(*due_24h_utc, tzinfo=UTC)
    message = send_now(appointment, Kind.REMINDER_24H)
    assert local_text in message.body and local_text in html_of(message)


# --- The 3-day check-in -------------------------------------------------------------------------------


def test_a_concerning_check_in_flags_the_practitioner_and_the_front_desk(client, sign_in):
    appointment = book(hours_from_now(1))
    client.force_login(appointment.patient.user)
    url = reverse("aftercare_check_in", args=[appointment.pk])
    assert "How is your skin?" in client.get(url).content.decode()

    response = client.post(url, {"answer": "fine"}, follow=True)
    assert "sounds normal" in response.content.decode()
    assert list(selectors.check_ins_needing_attention()) == []

    response = client.post(url, {"answer": "infection", "details": "Hot and red"}, follow=True)
    assert "We have told your practitioner" in response.content.decode()
    flagged = list(selectors.check_ins_needing_attention(practitioner=appointment.practitioner))
    assert [c.answer for c in flagged] == ["infection"]
    assert list(selectors.check_ins_needing_attention(practitioner=book(hours_from_now(2)).practitioner)) == []

    changelist = reverse("admin:bookings_aftercarecheckin_changelist") + "?needs_attention__exact=1"
    sign_in(client, staff_user("Clinic admin"))
    patient_name = appointment.patient.full_name
    assert patient_name in client.get(changelist).content.decode()
    desk = staff_user("Front desk")
    for user, sees_it in (
        (desk, True),
        (appointment.practitioner.user, True),
        (book(hours_from_now(3)).practitioner.user, False),  # a colleague: not their patient
    ):
        user.is_staff = True
        user.save()
        sign_in(client, user)
        assert (patient_name in client.get(changelist).content.decode()) is sees_it
    check_in_page = reverse("admin:bookings_aftercarecheckin_change", args=[flagged[0].pk])
    sign_in(client, appointment.practitioner.user)
    assert "Hot and red" in client.get(check_in_page).content.decode()
    sign_in(client, desk)
    page = client.get(check_in_page).content.decode()
    assert "Signs of infection" in page and "Hot and red" not in page  # the desk calls; the practitioner reads


def test_a_check_in_of_other_needs_words_and_another_patient_gets_a_404(client):
    appointment = book(hours_from_now(1))
    client.force_login(appointment.patient.user)
    url = reverse("aftercare_check_in", args=[appointment.pk])
    response = client.post(url, {"answer": "other", "details": " "})
    assert response.status_code == 200 and "Tell us in a few words" in response.content.decode()
    assert AftercareCheckIn.objects.count() == 0
    client.post(url, {"answer": "other", "details": "Itchy"})
    assert AftercareCheckIn.objects.get().needs_attention

    client.force_login(PatientFactory().user)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


# --- Through the booking service ----------------------------------------------------------------------


def in_days_at(days, hour):
    return at(timezone.localdate() + datetime.timedelta(days=days), hour)


def bookable_practitioner(treatment):
    """A practitioner who offers the treatment and works every day, and a room: what the service needs."""
    from tests.factories import PractitionerFactory, RoomFactory

    RoomFactory()
    return open_every_day(PractitionerFactory(treatments=[treatment]))


@pytest.mark.clock
def test_the_booking_service_books_moves_cancels_and_completes_the_timeline(
    django_capture_on_commit_callbacks, monkeypatch
):
    from bookings import services as booking
    from clinic import roles
    from tests.factories import ClearedPatientFactory

    treatment = TreatmentFactory(min_days_between_sessions=28)
    practitioner = bookable_practitioner(treatment)
    desk = staff_user(roles.FRONT_DESK)

    def book_session(days):
        return book_online(
            ClearedPatientFactory(),
            treatment,
            practitioner,
            in_days_at(days, 10),
            booked_by=desk,
            source=Appointment.Source.FRONT_DESK,
        )

    appointment = book_session(10)
    assert set(rows(appointment)) == ALL_KINDS  # book -> rows, in the booking's transaction

    appointment = booking.reschedule_appointment(appointment, new_start_at=in_days_at(12, 11), by=desk)
    by_kind = rows(appointment)
    assert by_kind[Kind.PRE_CARE].due_at == in_days_at(12, 11) - datetime.timedelta(days=7)  # reschedule -> moved
    assert by_kind[Kind.AFTERCARE].due_at == in_days_at(12, 12)

    booking.cancel_appointment(appointment, by=desk)
    after = rows(appointment)
    assert {r.status for r in after.values() if r.kind not in (Kind.CONFIRMATION, Kind.CANCELLED)} == {"cancelled"}
    assert after[Kind.CANCELLED].status == "pending"  # cancel -> 'your appointment is cancelled', due now

    other = book_session(5)
    set_clock(monkeypatch, in_days_at(5, 10) + datetime.timedelta(minutes=50))  # the day comes; done early
    booking.check_in(other, by=desk)
    booking.complete_appointment(other, by=desk)
    aftercare = rows(other)[Kind.AFTERCARE]
    assert aftercare.due_at <= timezone.now()  # complete -> aftercare due
    send_due(django_capture_on_commit_callbacks)
    assert str(aftercare.pk) in sent_kinds()
    assert str(rows(appointment)[Kind.PRE_CARE].pk) not in sent_kinds()


@pytest.mark.usefixtures("daytime")  # texts wait through the quiet hours
def test_a_moved_appointment_gets_a_notice_with_the_new_time_and_calendar_file(django_capture_on_commit_callbacks):
    from bookings import services as booking
    from clinic import roles
    from tests.factories import ClearedPatientFactory

    treatment = TreatmentFactory(min_days_between_sessions=0)
    practitioner = bookable_practitioner(treatment)
    desk = staff_user(roles.FRONT_DESK)
    patient = ClearedPatientFactory(sms_opt_in=True, phone="07700 900557")

    appointment = book_online(patient, treatment, practitioner, in_days_at(10, 10))
    send_due(django_capture_on_commit_callbacks)  # the booking confirmation
    mail.outbox.clear()
    sms.outbox.clear()

    booking.reschedule_appointment(appointment, new_start_at=in_days_at(11, 14), by=desk)
    booking.reschedule_appointment(appointment, new_start_at=in_days_at(12, 15), by=desk)  # again, before it went
    send_due(django_capture_on_commit_callbacks)
    (email,) = mail.outbox
    assert email.subject.startswith("Your appointment has moved")
    assert "15:00" in email.body and "14:00" not in email.body
    assert [name for name, *_ in email.attachments] == ["appointment.ics"]
    assert len(sms.outbox) == 1 and "moved" in sms.outbox[0].body

    mail.outbox.clear()
    booking.reschedule_appointment(appointment, new_start_at=in_days_at(13, 9), by=desk)
    booking.cancel_appointment(appointment, by=desk)  # cancelled before the notice went: it does not go
    send_due(django_capture_on_commit_callbacks)
    assert [m.subject for m in mail.outbox if "moved" in m.subject] == []
