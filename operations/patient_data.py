"""Everything the clinic holds about one patient, in one place: the patient's own copy of their data
(UK GDPR right of access, Article 15, and portability, Article 20).

`patient_data(patient)` is the only function that gathers it; the JSON download and the printable page
both render what it returns, so they cannot drift apart. It costs the same number of queries however many
appointments, reminders or records the patient has (pinned in tests/test_patient_rights.py).

Apps above operations add their own sections through `clinic.extensions.PATIENT_DATA` (payments: what was
paid, refunded and kept, receipts and invoices, course packages), since operations may not import them.

Times are in the clinic's zone (aware datetimes; JSON writes them as ISO 8601 with the offset).
Left out, and said so in the document itself (`NOT_INCLUDED`): the photo files (listed, downloadable one
by one), and practitioners' private notes, which the clinic releases on request after a clinician's check.
"""

from auditlog.models import LogEntry
from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from bookings.models import (
    AftercareCheckIn,
    Appointment,
    AppointmentEvent,
    InboundMessage,
    Reminder,
    SignedLink,
    WaitlistEntry,
    WaitlistOffer,
)
from clinic import clock
from clinic.extensions import PATIENT_DATA
from clinic.models import ErasureRequest, Notice, Patient
from consultations.models import Consent, IntakeForm, Review, ScreeningFlag
from consultations.selectors import intake_answers
from practice.models import CoursePlan, IntakeConfirmation, PhotoConsent, SessionArea, SessionPhoto, SessionRecord

NOT_INCLUDED = [
    "The image files of your progress photos: each is listed here and you can open it from the link, signed in.",
    "Practitioners' private notes (on your health form review and your session records). They are part of "
    "your health record: ask the clinic and a clinician will send them after checking them, as the law allows.",
]


def patient_data(patient: Patient) -> dict:
    """The whole record of one patient as plain values (str, int, bool, date, datetime, lists, dicts)."""
    patient = Patient.objects.select_related("user").get(pk=patient.pk)
    appointments = list(
        Appointment.objects.filter(patient=patient)
        .select_related("treatment", "practitioner__user", "room")
        .prefetch_related(Prefetch("events", queryset=AppointmentEvent.objects.order_by("at", "pk")))
        .order_by("start_at", "pk")
    )
    from_apps = PATIENT_DATA.context(patient=patient)
    data = PatientData(
        {
            "exported_at": clock.local(timezone.now()),
            "clinic": {key.lower(): settings.CLINIC[key] for key in ("NAME", "ADDRESS", "PHONE", "EMAIL")},
            "account": _account(patient),
            "appointments": [_appointment(a) for a in appointments],
            "reminders": _reminders(patient),
            "texts_you_sent": _texts_received(patient),
            "links_sent": _links(patient),
            "other_messages": _other_messages(patient),
            "aftercare_check_ins": _check_ins(patient),
            "health_form": _health_form(patient),
            "consents": _consents(patient),
            "photo_consent": _photo_consent(patient),
            "session_records": _session_records(patient),
            "course_plans": _course_plans(patient),
            "waitlist": _waitlist(patient),
            "record_accesses": _accesses(patient),
            "erasure_requests": _erasure_requests(patient),
            # Sections of the apps above (payments: payments, refunds, receipts and invoices, course packages).
            **from_apps,
            "not_included": NOT_INCLUDED,
        }
    )
    data.app_section_names = tuple(from_apps)
    return data


class PatientData(dict):
    """The copy: a plain dict (what the JSON file holds) that also knows which sections the apps above
    added, so the printable page can show them without a list of the core sections to keep in step."""

    app_section_names: tuple = ()


def app_sections(data: dict) -> list[tuple[str, dict]]:
    """The sections other apps added (`clinic.extensions.PATIENT_DATA`), for the printable page: each a
    name and its tables (lists of rows with the same keys)."""
    return [(name, data[name]) for name in getattr(data, "app_section_names", ())]


def _account(patient) -> dict:
    user = patient.user
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": patient.phone,
        "date_of_birth": patient.date_of_birth,
        "text_messages": patient.sms_opt_in,
        "no_non_essential_messages": patient.non_essential_opt_out,
        "account_created": clock.local(user.date_joined),
        "last_sign_in": clock.local(user.last_login),
    }


def _appointment(appointment) -> dict:
    return {
        "id": appointment.pk,
        "treatment": appointment.treatment.name,
        "practitioner": appointment.practitioner.name,
        "room": appointment.room.name,
        "start": clock.local(appointment.start_at),
        "end": clock.local(appointment.end_at),
        "status": appointment.get_status_display(),
        "booked": clock.local(appointment.created_at),
        "booked_via": appointment.get_source_display(),
        "cancelled": clock.local(appointment.cancelled_at),
        "cancellation_reason": appointment.cancellation_reason,
        "history": [
            {
                "what": event.get_action_display(),
                "when": clock.local(event.at),
                "reason": event.reason,
                "old_start": clock.local(event.old_start_at),
                "new_start": clock.local(event.new_start_at),
            }
            for event in appointment.events.all()
        ],
    }


def _reminders(patient) -> list:
    rows = Reminder.objects.filter(appointment__patient=patient).order_by("due_at", "pk")
    return [
        {
            "appointment": r.appointment_id,
            "message": r.get_kind_display(),
            "channel": r.get_channel_display(),
            "due": clock.local(r.due_at),
            "status": r.get_status_display(),
            "sent": clock.local(r.sent_at),
        }
        for r in rows
    ]


def _texts_received(patient) -> list:
    """The texts the patient sent the clinic's number (replies C, R, STOP, anything else), what the app took
    each to mean and answered, and whether the desk has dealt with it."""
    rows = InboundMessage.objects.filter(patient=patient).order_by("received_at", "pk")
    return [
        {
            "received": clock.local(m.received_at),
            "from": m.from_number,
            "text": m.body,
            "taken_as": m.get_intent_display(),
            "appointment": m.appointment_id,
            "our_answer": m.answer,
            "for_the_front_desk": m.needs_desk,
            "dealt_with": clock.local(m.handled_at),
        }
        for m in rows
    ]


def _links(patient) -> list:
    """The signed links made for the patient (in messages, or sent by the desk): what each let them do and
    whether it was used. The links themselves are not kept (only a hash), so they are not in the copy."""
    rows = SignedLink.objects.filter(patient=patient).order_by("created_at", "pk")
    return [
        {
            "what": link.get_action_display(),
            "appointment": link.appointment_id,
            "made": clock.local(link.created_at),
            "expires": clock.local(link.expires_at),
            "used": clock.local(link.used_at),
            "sent_by_the_desk_by": link.get_channel_display() if link.sent_by_id else "",
        }
        for link in rows
    ]


def _other_messages(patient) -> list:
    """Messages to the patient that are not about one appointment (the welcome, the health form link)."""
    rows = Notice.objects.filter(patient=patient).order_by("created_at", "pk")
    return [
        {
            "message": n.subject,
            "channel": n.get_channel_display(),
            "to": ", ".join(n.to),
            "written": clock.local(n.created_at),
            "status": n.get_status_display(),
            "sent": clock.local(n.sent_at),
        }
        for n in rows
    ]


def _check_ins(patient) -> list:
    rows = AftercareCheckIn.objects.filter(appointment__patient=patient).order_by("created_at", "pk")
    return [
        {
            "appointment": c.appointment_id,
            "answer": c.get_answer_display(),
            "details": c.details,
            "sent": clock.local(c.created_at),
            "followed_up": clock.local(c.followed_up_at),
        }
        for c in rows
    ]


def _health_form(patient) -> dict | None:
    intake = (
        IntakeForm.objects.filter(patient=patient)
        .prefetch_related(
            Prefetch("flags", queryset=ScreeningFlag.objects.order_by("-intake_version", "pk")),
            Prefetch("reviews", queryset=Review.objects.select_related("reviewer").order_by("decided_at", "pk")),
            Prefetch("confirmations", queryset=IntakeConfirmation.objects.order_by("confirmed_at", "pk")),
        )
        .first()
    )
    if intake is None:
        return None
    return {
        "status": intake.get_status_display(),
        "version": intake.version,
        "started": clock.local(intake.created_at),
        "last_sent": clock.local(intake.submitted_at),
        "answers": [
            {"section": title, "questions": [{"question": q, "answer": a} for q, a, _ in rows]}
            for title, rows in intake_answers(intake)
        ],
        "screening_flags": [
            {
                "form_version": flag.intake_version,
                "topic": flag.topic,
                "severity": flag.get_severity_display(),
                "your_answer": flag.answer,
                "what_it_means": flag.patient_text,
                "until": flag.until,
            }
            for flag in intake.flags.all()
        ],
        "reviews": [
            {
                "form_version": review.intake_version,
                "decision": review.get_decision_display(),
                "decided": clock.local(review.decided_at),
                "by": review.reviewer.get_full_name(),
                "message_to_you": review.message_to_patient,
                "your_prescribers_advice": review.attributed_prescriber_advice,
                "valid_until": review.valid_until,
                "suspended": clock.local(review.suspended_at),
                "suspended_because": review.suspended_reason,
            }
            for review in intake.reviews.all()
        ],
        "confirmed_before_appointments": [
            {
                "appointment": c.appointment_id,
                "form_version": c.intake_version,
                "confirmed": clock.local(c.confirmed_at),
            }
            for c in intake.confirmations.all()
        ],
    }


def _consents(patient) -> list:
    return [
        {"version": c.text_version, "signed_name": c.signed_name, "signed": clock.local(c.signed_at), "text": c.text}
        for c in Consent.objects.filter(patient=patient).order_by("signed_at", "pk")
    ]


def _photo_consent(patient) -> dict | None:
    consent = PhotoConsent.objects.filter(patient=patient).first()
    if consent is None:
        return None
    return {"given": clock.local(consent.given_at), "withdrawn": clock.local(consent.withdrawn_at)}


def _session_records(patient) -> list:
    records = (
        SessionRecord.objects.filter(patient=patient)
        .select_related("appointment__treatment", "appointment__practitioner__user")
        .prefetch_related(
            Prefetch("areas", queryset=SessionArea.objects.order_by("area")),
            Prefetch("photos", queryset=SessionPhoto.objects.order_by("uploaded_at", "pk")),
        )
        .order_by("appointment__start_at", "pk")
    )
    return [
        {
            "appointment": record.appointment_id,
            "date": clock.local(record.appointment.start_at),
            "treatment": record.appointment.treatment.name,
            "practitioner": record.appointment.practitioner.name,
            "device": record.device,
            "needle_depth_mm": str(record.needle_depth_mm),
            "passes": record.passes,
            "product": record.product,
            "reactions": record.reactions,
            "areas": [
                {"area": a.get_area_display(), "scale": a.get_scale_display(), "grade": a.grade}
                for a in record.areas.all()
            ],
            "photos": [
                {
                    "id": photo.pk,
                    "area": photo.get_area_display(),
                    "taken": clock.local(photo.uploaded_at),
                    "file_type": photo.content_type,
                }
                for photo in record.photos.all()
            ],
        }
        for record in records
    ]


def _course_plans(patient) -> list:
    plans = CoursePlan.objects.filter(patient=patient).select_related("treatment", "practitioner__user")
    return [
        {
            "treatment": plan.treatment.name,
            "practitioner": plan.practitioner.name,
            "sessions": plan.sessions,
            "days_between_sessions": plan.interval_days,
            "starts_on": plan.starts_on,
            "set": clock.local(plan.created_at),
        }
        for plan in plans.order_by("created_at", "pk")
    ]


def _waitlist(patient) -> list:
    entries = (
        WaitlistEntry.objects.filter(patient=patient)
        .select_related("treatment", "practitioner__user")
        .prefetch_related(
            Prefetch("offers", queryset=WaitlistOffer.objects.select_related("practitioner__user").order_by("pk"))
        )
        .order_by("created_at", "pk")
    )
    return [
        {
            "treatment": entry.treatment.name,
            "practitioner": entry.practitioner.name if entry.practitioner else "Any practitioner",
            "from_day": entry.earliest_day,
            "to_day": entry.latest_day,
            "before_day": entry.before_day,
            "status": entry.get_status_display(),
            "joined": clock.local(entry.created_at),
            "closed": clock.local(entry.closed_at),
            "offers": [
                {
                    "time": clock.local(offer.start_at),
                    "practitioner": offer.practitioner.name,
                    "status": offer.get_status_display(),
                    "open_until": clock.local(offer.expires_at),
                }
                for offer in entry.offers.all()
            ],
        }
        for entry in entries
    ]


def _accesses(patient) -> list:
    """Who was shown the patient's records (the reads written by `clinic.audit.record_access`)."""
    entries = (
        LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__patient_id=patient.pk)
        .select_related("actor", "content_type")
        .order_by("timestamp", "pk")
    )
    return [
        {
            "when": clock.local(entry.timestamp),
            "by": entry.actor.get_full_name() if entry.actor else "",
            "record": entry.content_type.name,
            "what": (entry.changes_dict or {}).get("viewed", ""),
        }
        for entry in entries
    ]


def _erasure_requests(patient) -> list:
    return [
        {"asked": clock.local(r.requested_at), "status": r.get_status_display(), "closed": clock.local(r.closed_at)}
        for r in ErasureRequest.objects.filter(patient=patient).order_by("requested_at", "pk")
    ]
