"""Notices (clinic/notices.py): emails that are not about one appointment go through an outbox, like the
reminders. A mail server that refuses does not lose them: the row waits with a backoff and goes on a retry."""

import datetime

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from clinic import notices
from clinic.models import Notice
from consultations import services
from operations import erasure
from tests.factories import PatientFactory, PractitionerFactory, submitted_intake

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]

FAILING = "tests.email_backends.FailingBackend"
WORKING = "django.core.mail.backends.locmem.EmailBackend"


def decide(intake, practitioner, capture):
    with capture(execute=True):
        services.record_review(intake, reviewer=practitioner.user, decision="declined")


def test_a_review_notice_survives_a_mail_server_that_refuses_and_goes_on_the_retry(
    settings, django_capture_on_commit_callbacks
):
    patient, practitioner = PatientFactory(), PractitionerFactory()
    intake = submitted_intake(patient)
    mail.outbox.clear()
    settings.EMAIL_BACKEND = FAILING
    decide(intake, practitioner, django_capture_on_commit_callbacks)

    notice = Notice.objects.get(kind="review_decided")
    assert (notice.status, notice.attempts, notice.to) == (Notice.Status.PENDING, 1, [patient.email])
    assert "refused" in notice.last_error and mail.outbox == []
    first_retry = notice.next_attempt_at
    assert first_retry - timezone.now() > datetime.timedelta(seconds=settings.REMINDER_RETRY_BASE_SECONDS - 5)

    settings.EMAIL_BACKEND = WORKING
    assert notices.send_due_notices() == 0  # not before its backoff
    assert notices.send_due_notices(now=first_retry) == 1
    (message,) = mail.outbox
    assert message.to == [patient.email] and message.subject == "Your health form has been reviewed"
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, notice.last_error) == (Notice.Status.SENT, 2, "")
    assert notices.send_due_notices(now=first_retry + datetime.timedelta(days=1)) == 0  # sent once


def test_a_notice_fails_for_good_after_the_last_attempt_and_stays_visible(settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = FAILING
    settings.REMINDER_MAX_ATTEMPTS = 2
    decide(submitted_intake(PatientFactory()), PractitionerFactory(), django_capture_on_commit_callbacks)
    notice = Notice.objects.get()
    notices.send_due_notices(now=notice.next_attempt_at)
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (Notice.Status.FAILED, 2)
    assert notices.send_due_notices(now=timezone.now() + datetime.timedelta(days=30)) == 0


def test_no_notice_for_a_change_that_rolled_back(django_capture_on_commit_callbacks):
    intake, practitioner = submitted_intake(PatientFactory()), PractitionerFactory()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.record_review(intake, reviewer=practitioner.user, decision="declined")
        raise RuntimeError("the request failed after the review was written")
    assert not Notice.objects.exists() and mail.outbox == []


def test_the_erasure_request_notice_goes_through_the_outbox(settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = FAILING
    with django_capture_on_commit_callbacks(execute=True):
        request = erasure.request_erasure(PatientFactory())  # the patient's request stands though mail failed
    notice = Notice.objects.get(kind="erasure_requested")
    assert notice.to == [settings.CLINIC["EMAIL"]] and str(request.pk) in notice.body
    settings.EMAIL_BACKEND = WORKING
    assert notices.send_due_notices(now=notice.next_attempt_at) == 1
    assert mail.outbox[-1].to == [settings.CLINIC["EMAIL"]]


# --- the welcome and the desk's form link, through the outbox (issue 18) ---------------------------------


def sign_up(client, capture, email="ada@example.com"):
    with capture(execute=True):
        response = client.post(
            reverse("signup"),
            {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": email,
                "phone": "07700 900123",
                "date_of_birth": "1990-01-31",
                "password1": "A-long-enough-passphrase-2026",
                "password2": "A-long-enough-passphrase-2026",
            },
        )
    assert response.status_code == 302
    return Notice.objects.get(kind="welcome")


def test_the_welcome_email_goes_through_the_outbox_with_a_stable_message_id(
    client, settings, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    notice = sign_up(client, django_capture_on_commit_callbacks)
    [welcome] = mail.outbox
    assert (notice.status, notice.attempts, notice.patient.user.email) == (Notice.Status.SENT, 1, "ada@example.com")
    assert welcome.extra_headers["Message-ID"] == notices.message_id(notice) == f"<notice-{notice.pk}@clinic.example>"
    assert welcome.from_email == f"{settings.CLINIC['NAME']} <bookings@clinic.example>"
    assert notices.send_notice(notice.pk) == "skipped" and len(mail.outbox) == 1  # a second send sends nothing


def test_a_mail_server_down_at_sign_up_keeps_the_account_and_the_welcome_goes_on_the_retry(
    client, settings, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    settings.EMAIL_BACKEND = FAILING
    notice = sign_up(client, django_capture_on_commit_callbacks)
    assert notice.status == Notice.Status.PENDING and "refused" in notice.last_error and mail.outbox == []
    assert notice.patient.user.is_active  # the account stands
    settings.EMAIL_BACKEND = WORKING
    assert notices.send_due_notices(now=notice.next_attempt_at) == 1
    assert notices.send_due_notices(now=notice.next_attempt_at + datetime.timedelta(hours=1)) == 0
    [welcome] = mail.outbox
    assert "health form" in welcome.body


def interrupted(notice, minutes_ago=10):
    """What a worker killed after the hand-over leaves (tests/test_messages_worker.py kills a real one)."""
    past = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    Notice.objects.filter(pk=notice.pk).update(
        status=Notice.Status.SENDING,
        attempt_started_at=past,
        attempt_digest=notices._digest(notice),
        next_attempt_at=past,
    )


def test_an_interrupted_email_notice_goes_again_with_the_same_message_id_and_says_so(
    client, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    notice = sign_up(client, django_capture_on_commit_callbacks)
    first = mail.outbox[0].extra_headers["Message-ID"]
    interrupted(notice)
    Notice.objects.filter(pk=notice.pk).update(sent_at=None)
    assert notices.send_due_notices() == 1
    notice.refresh_from_db()
    assert mail.outbox[1].extra_headers["Message-ID"] == first
    assert notice.status == Notice.Status.SENT and "sent again with the same Message-ID" in notice.last_error


def test_a_notice_being_handed_over_is_left_alone_until_its_lease_is_over(client, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    notice = sign_up(client, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    interrupted(notice, minutes_ago=0)
    Notice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now() + datetime.timedelta(minutes=5))
    assert notices.send_due_notices() == 0 and mail.outbox == []
