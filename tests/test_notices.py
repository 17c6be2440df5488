"""Notices (clinic/notices.py): emails that are not about one appointment go through an outbox, like the
reminders. A mail server that refuses does not lose them: the row waits with a backoff and goes on a retry."""

import datetime

import pytest
from django.core import mail
from django.db import transaction
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
