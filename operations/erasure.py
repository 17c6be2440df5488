"""The right to erasure (UK GDPR Article 17), as the clinic applies it.

A patient asks (`request_erasure`); nothing changes until a clinic admin completes the request
(`complete_erasure`) or refuses it with a reason (`refuse_erasure`).

Completing anonymises the person and keeps the clinical record. Health records must be kept (Article
17(3)(c) and (b): public health and legal obligations; the clinic keeps adults' records for
`CLINIC["RECORD_RETENTION_YEARS"]` years after the last treatment, 8 by default as in the NHS Records
Management Code of Practice), so appointments, their history, the health form's answers, screening flags,
reviews, consents, session records, photos, course plans and aftercare answers stay, attached to the
anonymised patient. What goes, in one transaction (a failure anywhere changes nothing):

- the person: name -> "Erased patient <id>", email -> `erased-patient-<id>@patients.invalid`, phone
  cleared, date of birth -> 1 January of the birth year (age at treatment stays clinically meaningful),
  messages switched off; the login is closed (inactive, unusable password) and its sign-in records
  (django-axes) deleted;
- contact details inside records: the health form's emergency contact and GP, the typed name on consents;
- what still lay ahead: future appointments are cancelled through the booking service (their reminders
  stop, the times are offered to the waitlist), every unsent message is cancelled, waitlist entries go,
  and every signed link still open expires; messages to the patient not about one appointment (the
  welcome, the desk's form link: `clinic.Notice`) lose their address and words, and an unsent one is not sent;
- the texts the patient sent (`InboundMessage`, matched to them or from their number before it was
  known): the words, the number and our answer are cleared; the row stays (when, what it was taken to
  mean) and leaves the desk's inbox, recorded as dealt with by the admin who completed the erasure.

Money is kept too (payments, refunds, receipts and invoices, course packages: the clinic's accounting
records, which UK law requires it to keep for 6 years, HMRC and the Companies Act 2006 s.388; Article
17(3)(b)), attached to the anonymised patient, so a receipt printed later carries the placeholder name.
Cancelling a future appointment follows the payments policy as any cancellation does (a paid deposit
refunded outside the window); a receipt email still owed is not sent to the placeholder address.

The audit trail is not touched: it is the clinic's record of who saw and changed what (kept, read-only,
admins only). The anonymising writes bypass it so the old details are not copied into a new entry; one
entry says the erasure was completed, by whom.

Refused: a patient with an appointment in progress (checked in, or booked and its time has come but not
yet completed or marked a no-show): the clinical record of that visit must be settled first.
"""

import datetime

from auditlog.context import disable_auditlog
from auditlog.models import LogEntry
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment, InboundMessage, Reminder, SignedLink
from bookings.services import BookingError, cancel_appointment
from clinic import access, clock, locks
from clinic.links import absolute_url
from clinic.models import PLACEHOLDER_EMAIL_DOMAIN, ErasureRequest, Notice, Patient
from clinic.notices import queue_notice
from consultations.models import Consent, IntakeForm

ERASURE_REASON = "The patient's personal data was erased at their request."


class ErasureError(Exception):
    """A refusal or a failure, with a message for the patient or the admin."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def open_request(patient) -> ErasureRequest | None:
    return ErasureRequest.objects.filter(patient=patient, status=ErasureRequest.Status.REQUESTED).first()


def latest_request(patient) -> ErasureRequest | None:
    return ErasureRequest.objects.filter(patient=patient).first()


def request_erasure(patient: Patient) -> ErasureRequest:
    """The patient asks. Only a request is written; the clinic is told by email once it is saved."""
    with transaction.atomic():
        locks.lock_patient(patient)
        if open_request(patient) is not None:
            raise ErasureError("You have already asked: the clinic is dealing with your request.")
        erasure_request = ErasureRequest.objects.create(patient=patient)
        _tell_the_clinic(erasure_request.pk)
    return erasure_request


def _tell_the_clinic(request_id: int) -> None:
    """Queued with the request (`clinic.notices`): no personal details, the admin opens the request to see who."""
    url = absolute_url(reverse("admin:clinic_erasurerequest_change", args=[request_id]))
    queue_notice(
        kind="erasure_requested",
        to=[settings.CLINIC["EMAIL"]],
        subject="A patient asked for their data to be erased",
        body=f"Erasure request {request_id} is waiting for a clinic admin: {url}\n"
        "The law gives the clinic one month to answer.",
    )


def complete_erasure(erasure_request: ErasureRequest, *, by) -> ErasureRequest:
    """Anonymise the patient and close the request, all or nothing (see the module's docstring)."""
    if not access.may_handle_patient_data_requests(by):
        raise ErasureError("Only a clinic admin can complete an erasure.")
    try:
        with transaction.atomic():
            # The one lock order (clinic.locks): the patient first, then the request and the rows below.
            locks.lock_patient(erasure_request.patient)
            erasure_request = _lock_open_request(erasure_request)
            patient = Patient.objects.select_related("user").get(pk=erasure_request.patient_id)
            _ensure_nothing_in_progress(patient)
            _cancel_future_appointments(patient, by)
            _stop_unsent_messages(patient)
            _close_open_links(patient)
            _erase_notices(patient)
            _erase_texts(patient, by)
            patient.waitlist_entries.all().delete()
            _clear_contact_details_in_records(patient)
            _anonymise_person(patient)
            erasure_request.status = ErasureRequest.Status.COMPLETED
            erasure_request.retain_until = retain_until(patient)
            _close(erasure_request, by)
            _record_in_audit_trail(erasure_request, by)
    except locks.Busy:
        raise ErasureError("The patient's record is being changed right now: nothing was erased, try again.") from None
    except DatabaseError as error:
        raise ErasureError(f"The erasure failed and nothing was changed ({error.__class__.__name__}).") from error
    return erasure_request


def refuse_erasure(erasure_request: ErasureRequest, *, by, reason: str) -> ErasureRequest:
    if not access.may_handle_patient_data_requests(by):
        raise ErasureError("Only a clinic admin can refuse an erasure.")
    reason = (reason or "").strip()
    if not reason:
        raise ErasureError("Write the reason for refusing on the request first: the patient is told it.")
    with transaction.atomic():
        erasure_request = _lock_open_request(erasure_request)
        erasure_request.status = ErasureRequest.Status.REFUSED
        erasure_request.refusal_reason = reason
        _close(erasure_request, by)
    return erasure_request


def _lock_open_request(erasure_request) -> ErasureRequest:
    locked = ErasureRequest.objects.select_for_update().get(pk=erasure_request.pk)
    if not locked.is_open:
        raise ErasureError(
            f"Request {locked.pk} is already closed ({locked.get_status_display().lower()} on "
            f"{clock.local(locked.closed_at):%d %B %Y}): nothing was changed."
        )
    return locked


def _close(erasure_request, by) -> None:
    erasure_request.closed_at = timezone.now()
    erasure_request.closed_by = by
    erasure_request.save()


def _ensure_nothing_in_progress(patient) -> None:
    open_visit = (
        patient.appointments.filter(status=Appointment.Status.CHECKED_IN)
        | patient.appointments.filter(status=Appointment.Status.BOOKED, start_at__lte=timezone.now())
    ).first()
    if open_visit is not None:
        raise ErasureError(
            f"The appointment of {clock.local(open_visit.start_at):%d %B %Y at %H:%M} is still "
            f"{open_visit.get_status_display().lower()}: mark it completed or a no-show first, then complete "
            "the erasure. Nothing was changed."
        )


def _cancel_future_appointments(patient, by) -> None:
    """Through the booking service: reminders stop and the freed times reach the waitlist."""
    live = (Appointment.Status.BOOKED, Appointment.Status.AWAITING_DEPOSIT)  # a hold's unpaid deposit lapses too
    for appointment in patient.appointments.upcoming().filter(status__in=live):
        try:
            cancel_appointment(appointment, by=by, reason=ERASURE_REASON)
        except BookingError as error:
            raise ErasureError(f"An appointment could not be cancelled: {error.message} Nothing was changed.") from None


def _stop_unsent_messages(patient) -> None:
    """Messages still due for past appointments too (aftercare, check-in, next session)."""
    Reminder.objects.filter(appointment__patient=patient, status__in=Reminder.UNSENT_STATUSES).update(
        status=Reminder.Status.CANCELLED, cancel_reason="the patient's data was erased", updated_at=timezone.now()
    )


def _erase_notices(patient) -> None:
    """Messages to the patient not about one appointment (the welcome, the desk's form link): the address
    and the words go; one not yet sent never will be."""
    notices = Notice.objects.filter(patient=patient)
    notices.exclude(status__in=(Notice.Status.SENT, Notice.Status.FAILED, Notice.Status.UNCERTAIN)).update(
        status=Notice.Status.FAILED, last_error="not sent: the patient's data was erased"
    )
    notices.update(to=[], body="", body_after_sending="")


def _close_open_links(patient) -> None:
    now = timezone.now()
    SignedLink.objects.filter(patient=patient, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)


def _erase_texts(patient, by) -> None:
    """Before the phone number is cleared: texts from it that matched no patient then are the patient's too."""
    texts = InboundMessage.objects.filter(Q(patient=patient) | Q(patient__isnull=True, from_number=patient.phone))
    if not patient.phone:
        texts = InboundMessage.objects.filter(patient=patient)
    texts.filter(handled_at__isnull=True).update(handled_at=timezone.now(), handled_by=by)
    texts.update(body="", from_number="", answer="")


def placeholder_name(patient) -> tuple[str, str]:
    return "Erased", f"patient {patient.pk}"


def placeholder_email(patient) -> str:
    """Unique (one per patient) and undeliverable: .invalid is reserved (RFC 2606)."""
    return f"erased-patient-{patient.pk}@{PLACEHOLDER_EMAIL_DOMAIN}"


def _clear_contact_details_in_records(patient) -> None:
    IntakeForm.objects.filter(patient=patient).update(
        emergency_contact_name="", emergency_contact_phone="", gp_name="", gp_practice=""
    )
    Consent.objects.filter(patient=patient).update(signed_name=" ".join(placeholder_name(patient)))


def _anonymise_person(patient) -> None:
    user = patient.user
    old_email = user.email
    with disable_auditlog():
        user.first_name, user.last_name = placeholder_name(patient)
        user.email = placeholder_email(patient)
        user.is_active = False
        user.set_unusable_password()
        user.save()
        patient.phone = ""
        patient.date_of_birth = datetime.date(patient.date_of_birth.year, 1, 1)
        patient.sms_opt_in = False
        patient.non_essential_opt_out = True
        patient.save()
    for sign_in_records in (AccessAttempt, AccessFailureLog, AccessLog):
        sign_in_records.objects.filter(username__iexact=old_email).delete()


def retention_years() -> int:
    return settings.CLINIC["RECORD_RETENTION_YEARS"]


def retain_until(patient) -> datetime.date:
    """The last treatment (or today, when there was none) plus the retention period."""
    last = patient.appointments.filter(status=Appointment.Status.COMPLETED).aggregate(last=Max("start_at"))["last"]
    day = clock.local(last).date() if last else clock.today()
    years = retention_years()
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a year without one
        return day.replace(year=day.year + years, day=28)


def _record_in_audit_trail(erasure_request, by) -> None:
    LogEntry.objects.log_create(
        erasure_request.patient,
        force_log=True,
        action=LogEntry.Action.UPDATE,
        actor=by,
        changes={"personal data": ["held", "erased (anonymised)"]},
        additional_data={"patient_id": erasure_request.patient_id, "erasure_request": erasure_request.pk},
    )
