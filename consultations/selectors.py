"""Reads about intakes, screening status and clearances. Other apps use `screening_status`,
`current_clearance` and `current_clearances`; none of them returns clinical answers except
`intake_answers`, which only staff-facing intake pages call (after an access check, with an access record).
"""

import datetime
from dataclasses import dataclass

from django.db.models import Case, F, IntegerField, Max, Q, Value, When

from clinic import access, clock
from clinic.models import Practitioner

from . import alerts
from .forms import SECTIONS
from .models import FREE_TEXT_QUESTIONS, MULTI_CHOICE_QUESTIONS, Consent, IntakeForm, Review, ScreeningFlag
from .models import ScreeningRule as Rule


@dataclass(frozen=True)
class ScreeningStatus:
    """What front desk and booking pages may know: a status, never the answers behind it."""

    code: str
    label: str
    tone: str  # a Bootstrap colour for the badge

    @property
    def is_cleared(self) -> bool:
        return self.code in ("cleared", "cleared_with_conditions")

    def __str__(self):
        return self.label


NO_FORM = ScreeningStatus("no_form", "No health form yet", "secondary")
DRAFT = ScreeningStatus("draft", "Health form started, not sent", "secondary")
PENDING = ScreeningStatus("pending", "Waiting for review", "info")
FLAGGED = ScreeningStatus("flagged", "Flagged: waiting for review", "warning")
SUSPENDED = ScreeningStatus("suspended", "Clearance suspended: answers changed, waiting for review", "warning")
NEEDS_INFORMATION = ScreeningStatus("needs_information", "Needs more information", "warning")
CLEARED = ScreeningStatus("cleared", "Cleared", "success")
CLEARED_WITH_CONDITIONS = ScreeningStatus("cleared_with_conditions", "Cleared with conditions", "success")
DECLINED = ScreeningStatus("declined", "Declined", "danger")
EXPIRED = ScreeningStatus("expired", "Clearance expired", "secondary")


def current_intake(patient) -> IntakeForm | None:
    return IntakeForm.objects.filter(patient=patient).first()


def current_flags(intake: IntakeForm):
    """Flags of the intake's latest submitted version, most serious first."""
    rank = Case(
        *[When(severity=sev, then=Value(r)) for sev, r in Rule.SEVERITY_RANK.items()], output_field=IntegerField()
    )
    return (
        ScreeningFlag.objects.filter(intake=intake, intake_version=intake.version)
        .annotate(rank=rank)
        .order_by("-rank", "pk")
    )


def latest_review(intake: IntakeForm) -> Review | None:
    return intake.reviews.select_related("reviewer").order_by("-decided_at", "-pk").first()


def current_clearances(today: datetime.date | None = None):
    """Clearances in force. A new decision or a suspension ends the previous one, so a patient has one at most."""
    today = today or clock.today()
    return Review.objects.filter(decision__in=Review.CLEARING, suspended_at__isnull=True, valid_until__gte=today)


def current_clearance(patient, today: datetime.date | None = None) -> Review | None:
    return (
        current_clearances(today)
        .filter(intake__patient=patient)
        .select_related("reviewer")
        .order_by("-decided_at")
        .first()
    )


def screening_status(patient, today: datetime.date | None = None) -> ScreeningStatus:
    """The patient's screening status for anyone who may book for them (front desk included)."""
    intake = current_intake(patient)
    if intake is None:
        return NO_FORM
    if not intake.is_submitted:
        return DRAFT
    return status_from(intake, latest_review(intake), current_flags(intake), today)


def screening_statuses(patients, today: datetime.date | None = None) -> dict:
    """{patient id: status} for many patients in at most three queries, whatever their number: what the
    front desk's calendar and day sheet show next to each appointment. Same rule (`status_from`)."""
    ids = [patient.pk for patient in patients]
    intakes = {intake.patient_id: intake for intake in IntakeForm.objects.filter(patient_id__in=ids)}
    latest = {}
    if intakes:
        for review in Review.objects.filter(intake__in=list(intakes.values())).order_by("-decided_at", "-pk"):
            latest.setdefault(review.intake_id, review)
    awaiting = {i.pk: i for i in intakes.values() if i.is_submitted and i.status == IntakeForm.Status.AWAITING_REVIEW}
    flags = {pk: [] for pk in awaiting}
    if awaiting:
        for flag in ScreeningFlag.objects.filter(intake_id__in=list(awaiting)):
            if flag.intake_version == awaiting[flag.intake_id].version:
                flags[flag.intake_id].append(flag)
    statuses = {}
    for pk in ids:
        intake = intakes.get(pk)
        intake_id = getattr(intake, "pk", None)
        statuses[pk] = status_from(intake, latest.get(intake_id), flags.get(intake_id, []), today)
    return statuses


def screening_and_alerts(patient_ids, today: datetime.date | None = None) -> tuple[dict, set]:
    """({patient id: status}, {ids of the patients with an alert banner}) for many patients: what the front
    desk shows on each appointment (the status; that an alert exists, never what it says). The same rules as
    `screening_statuses` and `alerts.patients_with_alerts`, from rows read once for both: the forms, the
    flags of their current versions, their reviews, the pinned alerts; four queries instead of six, two
    when none of the patients has a form."""
    ids = set(patient_ids)
    intakes = {intake.patient_id: intake for intake in IntakeForm.objects.filter(patient_id__in=ids)} if ids else {}
    by_id = {intake.pk: intake for intake in intakes.values()}
    flags, reviews = [], []
    if by_id:
        flags = list(ScreeningFlag.objects.filter(intake_id__in=list(by_id), intake_version=F("intake__version")))
        reviews = list(
            Review.objects.filter(intake_id__in=list(by_id)).select_related("reviewer").order_by("-decided_at", "-pk")
        )
        for row in (*flags, *reviews):
            row.patient_pk = by_id[row.intake_id].patient_id
    latest, current_flags = {}, {}
    for review in reviews:
        latest.setdefault(review.intake_id, review)
    for flag in flags:  # the flags of each form's current version (the status looks at those of a form waiting)
        current_flags.setdefault(flag.intake_id, []).append(flag)
    statuses = {}
    for pk in ids:
        intake = intakes.get(pk)
        intake_id = getattr(intake, "pk", None)
        statuses[pk] = status_from(intake, latest.get(intake_id), current_flags.get(intake_id, []), today)
    found = alerts.banners(ids, today, read=(flags, reviews))
    return statuses, {pk for pk, banner in found.items() if banner.exists}


def status_from(intake: IntakeForm | None, review: Review | None, flags, today=None) -> ScreeningStatus:
    """The status from rows already read (a page listing many patients reads them in bulk). `flags`: the
    flags of the intake's current version (only looked at when the intake waits for review)."""
    if intake is None:
        return NO_FORM
    if not intake.is_submitted:
        return DRAFT
    if intake.status == IntakeForm.Status.AWAITING_REVIEW:
        if review and review.clears and review.suspended_at:
            return SUSPENDED
        return FLAGGED if any(flag.is_serious for flag in flags) else PENDING
    if review is None:
        return PENDING
    if review.clears:
        if review.suspended_at:
            return SUSPENDED
        if not review.is_current_clearance(today):
            return EXPIRED
        return CLEARED if review.decision == Review.Decision.CLEARED else CLEARED_WITH_CONDITIONS
    return NEEDS_INFORMATION if review.decision == Review.Decision.NEEDS_INFORMATION else DECLINED


def review_queue():
    """Intakes waiting for a practitioner: the most serious flag first, then the oldest submission."""
    flag_rank = Max(
        Case(
            *[
                When(
                    Q(flags__severity=sev) & Q(flags__intake_version=F("version")),
                    then=Value(r),
                )
                for sev, r in Rule.SEVERITY_RANK.items()
            ],
            default=Value(0),
            output_field=IntegerField(),
        )
    )
    return (
        IntakeForm.objects.filter(status=IntakeForm.Status.AWAITING_REVIEW)
        .select_related("patient__user")
        .annotate(flag_rank=flag_rank)
        .order_by("-flag_rank", "submitted_at")
    )


def intake_for_staff(user, intake_id) -> IntakeForm:
    intake = IntakeForm.objects.select_related("patient__user").filter(pk=intake_id, version__gt=0).first()
    access.found_only_if(intake is not None and access.may_see_intake(user, intake), "No such health form.")
    return intake


def intake_answers(intake: IntakeForm) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """The answers by section, as text, for display: (question, answer, read this). A free-text answer the
    patient wrote is marked "read this": no screening rule reads free text, so only a person can catch
    "I had a heart valve replaced" or "apixaban 5 mg" written there."""
    sections = []
    for title, names in SECTIONS:
        rows = []
        for name in names:
            field = IntakeForm._meta.get_field(name)
            value = getattr(intake, name)
            rows.append((str(field.verbose_name), _display(name, value), name in FREE_TEXT_QUESTIONS and bool(value)))
        sections.append((title, rows))
    return sections


def practitioners_of(patient):
    """The patient's own practitioners: those with a (non-cancelled) appointment with them, past or future
    (`clinic.access.practitioners_of`, the inverse of `patients_of`), and those who reviewed their health form.
    Active ones only."""
    reviewed = Review.objects.filter(intake__patient=patient).values("reviewer_id")
    return Practitioner.objects.filter(active=True).filter(
        Q(pk__in=access.practitioners_of(patient).values("pk")) | Q(user_id__in=reviewed)
    )


def free_text_answers(intake: IntakeForm) -> list[tuple[str, str]]:
    """(question, answer) for every free-text answer given: a reviewer must tick that they read them all."""
    return [
        (str(IntakeForm._meta.get_field(name).verbose_name), getattr(intake, name))
        for name in FREE_TEXT_QUESTIONS
        if (getattr(intake, name) or "").strip()
    ]


def _display(name, value) -> str:
    if name in MULTI_CHOICE_QUESTIONS:
        labels = dict(MULTI_CHOICE_QUESTIONS[name])
        return ", ".join(str(labels.get(code, code)) for code in value) or "None"
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime.date):
        return f"{value:%d %B %Y}"
    return str(value)


def latest_consent(patient) -> Consent | None:
    return Consent.objects.filter(patient=patient).first()
