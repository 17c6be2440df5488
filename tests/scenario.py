"""One scenario for the tests that visit every page: the permission matrix and the query budgets.

- patient A: a cleared health form, a recorded past session with a progress photo, a booked future
  appointment, a waitlist entry and an offer;
- patient B: their own health form and appointment (with P2);
- practitioner P1 ("related"): A's practitioner; practitioner P2 ("unrelated"): has never seen A;
- a front-desk member and a clinic admin (signed in with their second factor).
Staff have the admin flag (the most a clinic can give them), so the Django admin's own rules are exercised too.

Built once per test module (`scenario` fixture); each test runs in a savepoint that is rolled back.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from bookings import calendar_feeds
from bookings.models import Appointment, InboundMessage, Reminder, WaitlistEntry, WaitlistOffer
from clinic import roles
from clinic.models import Closure
from consultations import services as intake_services
from consultations.models import IntakeForm
from payments import services as payment_services
from payments.models import Package
from practice import services as practice_services
from practice.models import SessionPhoto
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    clear_patient,
    ensure_screening_rules,
    png_upload,
    record_session_for,
    staff_user,
    submitted_intake,
)

# What each URL's arguments are, from the scenario. Patient objects are always patient A's.
ARGUMENTS = {
    "treatment_detail": {"slug": "treatment_slug"},
    "practitioner_detail": {"slug": "practitioner_slug"},
    "practitioner_edit": {"slug": "practitioner_slug"},
    "practitioner_calendar_settings": {"slug": "practitioner_slug"},
    "practitioner_calendar_feed": {"token": "feed_token"},
    "password_reset_confirm": {"uidb64": "bad_uid", "token": "bad_token"},
    "intake_confirm": {"appointment_id": "appointment"},
    "aftercare_check_in": {"appointment_id": "past_appointment"},
    "intake_review": {"intake_id": "intake"},
    "practice_patient": {"patient_id": "patient"},
    "practice_course_plan": {"patient_id": "patient"},
    "practice_pin_alert": {"patient_id": "patient"},
    "practice_unpin_alert": {"patient_id": "patient", "alert_id": "alert"},
    "practice_session_record": {"appointment_id": "past_appointment"},
    "session_photo": {"photo_id": "photo"},
    "book_treatment": {"slug": "treatment_slug"},
    "book_times": {"slug": "treatment_slug"},
    "book_confirm": {"slug": "treatment_slug"},
    "appointment_detail": {"pk": "appointment"},
    "appointment_cancel": {"pk": "appointment"},
    "appointment_reschedule": {"pk": "appointment"},
    "appointment_reschedule_times": {"pk": "appointment"},
    "appointment_ics": {"pk": "appointment"},
    "waitlist_leave": {"pk": "entry"},
    "waitlist_offer": {"pk": "offer"},
    "desk:week": {"practitioner_id": "practitioner"},
    "desk:day_sheet": {"practitioner_id": "practitioner"},
    "desk:appointment": {"pk": "appointment"},
    "desk:move": {"pk": "appointment"},
    "desk:panel_appointment": {"pk": "appointment"},
    "desk:panel_move": {"pk": "appointment"},
    "desk:cancel": {"pk": "appointment"},
    "desk:status": {"pk": "appointment", "action": "status_action"},
    "desk:patient": {"pk": "patient"},
    "desk:patient_form_link": {"pk": "patient"},
    "desk:inbox_done": {"pk": "inbound"},
    "desk:reminder_send_again": {"pk": "reminder"},
    "signed_link": {"token": "bad_token"},
    "desk:book": {"patient_id": "patient"},
    "desk:closure_remove": {"pk": "closure"},
    "desk:rota_edit": {"practitioner_id": "practitioner"},
    "waitlist_desk_remove": {"pk": "entry"},
    "api_treatment_detail": {"slug": "treatment_slug"},
    "api_practitioner_detail": {"slug": "practitioner_slug"},
    "api_appointment_detail": {"pk": "appointment"},
    "api_appointment_cancel": {"pk": "appointment"},
    "admin:clinic_patient_change": {"object_id": "patient"},
    "admin:clinic_practitioner_change": {"object_id": "practitioner"},
    "payments:deposit": {"appointment_id": "appointment"},
    "payments:deposit_return": {"appointment_id": "appointment"},
    "payments:document_pdf": {"pk": "document"},
    "payments:desk_take": {"patient_id": "patient"},
    "payments:desk_sell_package": {"patient_id": "patient"},
    "payments:desk_refund": {"pk": "payment"},
    "payments:desk_waive_fee": {"pk": "payment"},
    "payments:desk_invoice": {"pk": "appointment"},
    "payments:desk_package_refund": {"pk": "patient_package"},
}


@dataclass
class Scenario:
    users: dict
    sessions: dict
    today: datetime.date
    treatment_slug: str
    practitioner_slug: str
    practitioner: int
    feed_token: str
    patient: int
    intake: int
    appointment: int
    past_appointment: int
    photo: int
    entry: int
    offer: int
    closure: int
    reminder: int
    inbound: int
    payment: int
    document: int
    patient_package: int
    alert: int
    status_action: str = "check-in"
    bad_uid: str = "MQ"
    bad_token: str = "not-a-token"


def build_scenario(sign_in) -> Scenario:
    ensure_screening_rules()
    now = timezone.now()
    treatment = TreatmentFactory()
    related = PractitionerFactory(treatments=[treatment])
    unrelated = PractitionerFactory(treatments=[treatment])
    for weekday in range(7):
        WorkingHoursFactory(practitioner=related, weekday=weekday, start=datetime.time(8), end=datetime.time(19))
    RoomFactory()

    patient_a = PatientFactory()
    clear_patient(patient_a, reviewer=related.user)
    past = AppointmentFactory(
        patient=patient_a,
        practitioner=related,
        treatment=treatment,
        start_at=now - datetime.timedelta(days=30),
        status=Appointment.Status.CHECKED_IN,
    )
    practice_services.give_photo_consent(patient_a)
    record_session_for(past, notes="", photo=png_upload())
    future = AppointmentFactory(patient=patient_a, practitioner=related, treatment=treatment)
    entry = WaitlistEntry.objects.create(
        patient=patient_a, treatment=treatment, practitioner=related, created_by=patient_a.user
    )
    offer = WaitlistOffer.objects.create(
        entry=entry,
        practitioner=related,
        start_at=future.start_at + datetime.timedelta(days=35),  # beyond the course interval: bookable
        expires_at=now + datetime.timedelta(hours=2),
    )

    uncertain = Reminder.objects.create(
        appointment=future, kind="confirmation", due_at=now, next_attempt_at=now, status=Reminder.Status.UNCERTAIN
    )
    reply = InboundMessage.objects.create(
        provider_ref="SM-scenario",
        from_number="+447700900123",
        body="Running late",
        received_at=now,
        patient=patient_a,
        appointment=future,
        intent=InboundMessage.Intent.OTHER,
        needs_desk=True,
    )

    patient_b = PatientFactory()
    submitted_intake(patient_b)
    AppointmentFactory(patient=patient_b, practitioner=unrelated, treatment=treatment)

    users = {
        "patient_a": patient_a.user,
        "patient_b": patient_b.user,
        "related": related.user,
        "unrelated": unrelated.user,
        "desk": staff_user(roles.FRONT_DESK),
        "admin": staff_user(roles.CLINIC_ADMIN),
    }
    # Money: a package sold to A at the desk (its payment has a receipt).
    package = Package.objects.create(name="Course of 6", treatment=treatment, sessions=6, price=Decimal("1200"))
    bought = payment_services.sell_package(patient=patient_a, package=package, method="card_terminal", by=users["desk"])
    package_payment = bought.payments.get()

    for role in ("related", "unrelated", "desk"):  # the most a clinic can give them: the admin's rules apply
        users[role].is_staff = True
        users[role].save(update_fields=["is_staff"])
    return Scenario(
        users=users,
        sessions={role: signed_in_session(sign_in, user) for role, user in users.items()},
        today=timezone.localdate(),
        treatment_slug=treatment.slug,
        practitioner_slug=related.slug,
        practitioner=related.pk,
        feed_token=calendar_feeds.reset_feed(related).token,
        patient=patient_a.pk,
        intake=IntakeForm.objects.get(patient=patient_a).pk,
        appointment=future.pk,
        past_appointment=past.pk,
        photo=SessionPhoto.objects.get(record__appointment=past).pk,
        entry=entry.pk,
        offer=offer.pk,
        closure=Closure.objects.create(
            first_day=timezone.localdate() + datetime.timedelta(days=60),
            last_day=timezone.localdate() + datetime.timedelta(days=61),
            reason="Staff training",
        ).pk,
        reminder=uncertain.pk,
        inbound=reply.pk,
        payment=package_payment.pk,
        document=package_payment.documents.get().pk,
        patient_package=bought.pk,
        alert=intake_services.pin_alert(patient_a, by=related.user, text="Pacemaker: no RF").pk,
    )


def signed_in_session(sign_in, user) -> str:
    """The session key of a signed-in user (admins with their second factor): each test presents it as a
    cookie instead of signing in again."""
    client = Client()
    sign_in(client, user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture(autouse=True)
def _scenario_sessions_read_from_their_rows(request):
    """A test may sign a scenario user out, or change their session: its transaction rolls the session's row
    back, but not what Redis holds (a sign-out's tombstone, clinic/sessions.py). After each test the scenario's
    sessions are read from their rows again."""
    yield
    if "scenario" in request.fixturenames and settings.SESSION_ENGINE == "clinic.sessions":
        from django.core.cache import caches

        from clinic.sessions import SessionStore

        keys = request.getfixturevalue("scenario").sessions.values()
        caches[settings.SESSION_CACHE_ALIAS].delete_many([SessionStore.cache_key_prefix + key for key in keys])


@pytest.fixture(scope="module")
def browser():
    """One test client for the module: a new client loads the middleware again (a few ms). Each test starts
    it with fresh cookies."""
    return Client()


@pytest.fixture(scope="module")
def scenario(django_db_setup, django_db_blocker, tmp_path_factory, sign_in):
    """Built once; each test's own transaction is a savepoint inside this one, rolled back after it."""
    overrides = override_settings(
        PRIVATE_MEDIA_ROOT=tmp_path_factory.mktemp("private"),
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        SMS_BACKEND="clinic.sms.LocmemSmsBackend",
    )
    with overrides, django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build_scenario(sign_in)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
