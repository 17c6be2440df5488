"""A patient's health form (intake), the screening rules applied to it, and a practitioner's review.

One current intake per patient. Each complete submission bumps `version`; flags and reviews record the
version they were about, so a later update never rewrites what a practitioner saw and decided.
Screening is applied in one place only: `consultations.screening`.
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from clinic import clock, medicine_advice
from clinic.models import BodyArea, Patient


class Anticoagulant(models.TextChoices):
    WARFARIN = "warfarin", "Warfarin"
    APIXABAN = "apixaban", "Apixaban (Eliquis)"
    RIVAROXABAN = "rivaroxaban", "Rivaroxaban (Xarelto)"
    EDOXABAN = "edoxaban", "Edoxaban (Lixiana)"
    DABIGATRAN = "dabigatran", "Dabigatran (Pradaxa)"
    CLOPIDOGREL = "clopidogrel", "Clopidogrel (Plavix)"
    DAILY_ASPIRIN = "daily_aspirin", "Daily low-dose aspirin"


class Nsaid(models.TextChoices):
    IBUPROFEN = "ibuprofen", "Ibuprofen (Nurofen, Advil)"
    NAPROXEN = "naproxen", "Naproxen"
    DICLOFENAC = "diclofenac", "Diclofenac (Voltarol)"
    ASPIRIN_AS_NEEDED = "aspirin_as_needed", "Aspirin now and then for pain"


class Supplement(models.TextChoices):
    FISH_OIL = "fish_oil", "Fish oil / omega-3"
    VITAMIN_E = "vitamin_e", "Vitamin E"
    GINKGO = "ginkgo", "Ginkgo biloba"
    GARLIC = "garlic", "Garlic tablets"


CONCERN_AREAS = [
    (BodyArea.THIGHS.value, "Thighs"),
    (BodyArea.BUTTOCKS.value, "Buttocks"),
    (BodyArea.ABDOMEN.value, "Abdomen"),
]

# Multi-choice answers are stored as a list of codes, each question in its own field.
MULTI_CHOICE_QUESTIONS = {
    "anticoagulants": Anticoagulant.choices,
    "nsaids": Nsaid.choices,
    "supplements": Supplement.choices,
    "areas_of_concern": CONCERN_AREAS,
}


# The health form's free-text answers: no rule reads them, so the reviewer must (see selectors.free_text_answers).
FREE_TEXT_QUESTIONS = [
    "medical_history",
    "implant_details",
    "other_medicines",
    "recent_area_treatments_details",
    "other_allergies",
    "goals",
]


def validate_not_future(day: datetime.date) -> None:
    if day and day > clock.today():
        raise ValidationError("This date is in the future: give the date of the last dose you have taken.")


def yes_no(verbose_name, help_text=""):
    """A yes/no question. None means not answered yet: a draft may leave it open, a submission may not."""
    return models.BooleanField(verbose_name, null=True, blank=True, help_text=help_text)


class IntakeForm(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft (not sent yet)"
        AWAITING_REVIEW = "awaiting_review", "Waiting for a practitioner's review"
        REVIEWED = "reviewed", "Reviewed"

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="intake")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(default=0, help_text="Bumped by every complete submission.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    # Contact and GP
    emergency_contact_name = models.CharField("emergency contact name", max_length=120, blank=True)
    emergency_contact_phone = models.CharField("emergency contact phone", max_length=32, blank=True)
    gp_name = models.CharField("GP's name", max_length=120, blank=True)
    gp_practice = models.CharField("GP practice and address", max_length=240, blank=True)

    # Medical history
    medical_history = models.TextField(
        "other medical conditions or operations", blank=True, help_text="Leave empty if none."
    )
    bleeding_disorder = yes_no(
        "Do you have a bleeding or clotting disorder?", "For example haemophilia or von Willebrand disease."
    )
    diabetes = yes_no("Do you have diabetes?")
    immune_condition = yes_no(
        "Do you have an immune condition or take medicine that lowers your immunity?",
        "For example steroids taken by mouth, methotrexate or medicines after a transplant.",
    )
    cancer_treatment = yes_no("Are you having, or have you had in the last year, chemotherapy or radiotherapy?")
    cancer_in_area = yes_no("Do you have active cancer in or near the area to be treated?")
    collagen_disease = yes_no(
        "Do you have scleroderma or another collagen or connective tissue disease?", "For example lupus."
    )
    implanted_electronic_device = yes_no(
        "Do you have a pacemaker, a defibrillator (ICD) or another implanted electronic device?",
        "For example a nerve or spinal cord stimulator, or an implanted pump.",
    )
    metal_implant_in_area = yes_no(
        "Do you have a metal implant in or near the area to be treated?",
        "For example plates, screws, pins or a joint replacement.",
    )
    implant_details = models.CharField(
        "which device or implant, and where", max_length=240, blank=True, help_text="Leave empty if none."
    )

    # Medicines
    anticoagulants = models.JSONField(
        "blood thinners (anticoagulants or antiplatelets) you take", default=list, blank=True
    )
    nsaids = models.JSONField("anti-inflammatory painkillers you take regularly", default=list, blank=True)
    supplements = models.JSONField("supplements you take", default=list, blank=True)
    other_medicines = models.TextField(
        "other medicines, creams or supplements", blank=True, help_text="Name and dose. Leave empty if none."
    )
    took_isotretinoin = yes_no("Have you taken isotretinoin (Roaccutane) in the last 12 months?")
    isotretinoin_last_dose = models.DateField(
        "date of your last isotretinoin dose", null=True, blank=True, validators=[validate_not_future]
    )

    # Pregnancy
    pregnant_or_breastfeeding = yes_no("Are you pregnant, trying to conceive, or breastfeeding?")

    # Skin
    skin_condition_in_area = yes_no(
        "Do you have an infection, open wound, cold sore, or an eczema or psoriasis flare in the area?"
    )
    keloid_scarring = yes_no("Have you ever had keloid or raised (hypertrophic) scars?")
    recent_sun_exposure = yes_no("Have you had sunburn, sunbathed or used a tanning bed in the last 2 weeks?")
    recent_area_treatments = yes_no(
        "Have you used retinoid creams, or had a peel, laser or other treatment on the area in the last 4 weeks?"
    )
    recent_area_treatments_details = models.CharField("which treatments, and when", max_length=240, blank=True)

    # Allergies
    metal_allergy = yes_no("Are you allergic to metals such as nickel?")
    anaesthetic_allergy = yes_no("Are you allergic to local anaesthetics such as lidocaine (numbing cream)?")
    other_allergies = models.CharField("other allergies", max_length=240, blank=True, help_text="Leave empty if none.")

    # Lifestyle
    drinks_alcohol = yes_no("Do you drink alcohol?")

    # Goals
    areas_of_concern = models.JSONField("areas that concern you", default=list, blank=True)
    goals = models.TextField("what would you like to achieve?", blank=True)

    # Declaration
    declaration = models.BooleanField(
        "I confirm that my answers are true and complete, and I will tell the clinic if anything changes.",
        default=False,
    )

    class Meta:
        ordering = ["-submitted_at"]

    def __str__(self):
        return f"Health form of {self.patient} (v{self.version}, {self.get_status_display()})"

    @property
    def is_submitted(self) -> bool:
        return self.version > 0

    @property
    def awaiting_review(self) -> bool:
        """In the review queue: any practitioner may read it to review it (`clinic.access.may_see_intake`)."""
        return self.status == self.Status.AWAITING_REVIEW

    def clean(self):
        if self.isotretinoin_last_dose and self.took_isotretinoin is False:
            raise ValidationError(
                {"isotretinoin_last_dose": "You said you have not taken isotretinoin: leave the date empty."}
            )


class ScreeningRule(models.Model):
    """A contraindication as data: which answer triggers it, how serious it is, and what each side reads."""

    class Severity(models.TextChoices):
        BLOCK = "block", "Block: no session until a practitioner has reviewed"
        REVIEW = "review", "Review: booking waits for a practitioner's clearance"
        ADVISE = "advise", "Advise: shown to patient and practitioner"

    SEVERITY_RANK = {Severity.BLOCK: 3, Severity.REVIEW: 2, Severity.ADVISE: 1}

    code = models.SlugField(unique=True)
    topic = models.CharField(max_length=120)
    question = models.CharField(
        max_length=60,
        help_text="The intake field the rule reads: a yes/no question (triggers on yes), a list question "
        "(triggers on any of the answers below, or any answer if none given), or a date (triggers inside "
        "the washout).",
    )
    answers = models.CharField(
        max_length=240, blank=True, help_text="For list questions: codes separated by commas. Empty: any answer."
    )
    severity = models.CharField(max_length=10, choices=Severity.choices)
    patient_text = models.TextField("patient-facing text")
    practitioner_text = models.TextField("practitioner-facing text")
    washout_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="For a date question: flagged until this many days after the date."
    )
    active = models.BooleanField(default=True)
    display_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["display_order", "code"]

    def __str__(self):
        return self.topic

    @property
    def answer_codes(self) -> list[str]:
        return [code.strip() for code in self.answers.split(",") if code.strip()]

    def clean(self):
        errors = rule_problems(self)
        if errors:
            raise ValidationError(errors)


class ScreeningFlag(models.Model):
    """A rule one submitted version of an intake triggered. Texts are copied so later rule edits keep history."""

    intake = models.ForeignKey(IntakeForm, on_delete=models.CASCADE, related_name="flags")
    intake_version = models.PositiveIntegerField()
    rule = models.ForeignKey(ScreeningRule, on_delete=models.SET_NULL, null=True, related_name="flags")
    severity = models.CharField(max_length=10, choices=ScreeningRule.Severity.choices)
    topic = models.CharField(max_length=120)
    answer = models.CharField("answer that triggered it", max_length=240)
    patient_text = models.TextField()
    practitioner_text = models.TextField()
    until = models.DateField(null=True, blank=True, help_text="End of the washout, when there is one.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["intake", "-intake_version", "pk"]
        indexes = [models.Index(fields=["intake", "intake_version"])]

    def __str__(self):
        return f"{self.topic} ({self.severity})"

    @property
    def is_serious(self) -> bool:
        return self.severity in (ScreeningRule.Severity.BLOCK, ScreeningRule.Severity.REVIEW)


def default_valid_until() -> datetime.date:
    return clock.today() + datetime.timedelta(days=settings.CLINIC["CLEARANCE_VALID_DAYS"])


class Review(models.Model):
    class Decision(models.TextChoices):
        CLEARED = "cleared", "Cleared"
        CLEARED_WITH_CONDITIONS = "cleared_with_conditions", "Cleared with conditions"
        NEEDS_INFORMATION = "needs_information", "Needs more information"
        DECLINED = "declined", "Declined"

    CLEARING = (Decision.CLEARED, Decision.CLEARED_WITH_CONDITIONS)

    intake = models.ForeignKey(IntakeForm, on_delete=models.CASCADE, related_name="reviews")
    intake_version = models.PositiveIntegerField()
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=30, choices=Decision.choices)
    message_to_patient = models.TextField(
        blank=True, help_text="Shown to the patient: the conditions, or what information you need."
    )
    notes = models.TextField("practitioner's notes", blank=True, help_text="Never shown to the patient.")
    # Advice about a blood thinner may reach the patient only as their own prescriber's, attributed to them
    # (clinic.medicine_advice): the practitioner records who gave it and when, and the patient reads
    # "Your prescriber, Dr Shah (GP), advised on 3 March 2026: ...". Kept apart from the practitioner's own
    # message so nothing the practitioner says is ever put in the prescriber's mouth.
    prescriber_advice = models.TextField(
        "advice from the patient's prescriber",
        blank=True,
        help_text="Only advice the patient's own prescriber gave (e.g. about pausing a blood thinner), in their "
        "words. The patient reads it attributed to them.",
    )
    prescriber_name = models.CharField("prescriber's name", max_length=120, blank=True)
    prescriber_role = models.CharField("prescriber's role", max_length=80, blank=True, help_text="e.g. GP")
    prescriber_advised_on = models.DateField("date the prescriber advised", null=True, blank=True)
    # Conditions a record form can enforce (the message keeps the free text the patient reads).
    max_needle_depth_mm = models.DecimalField(
        "maximum needle depth (mm)",
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.25")), MaxValueValidator(Decimal("3.00"))],
        help_text="A condition of the clearance: a session record deeper than this is refused.",
    )
    excluded_areas = models.JSONField(
        "areas not to treat", default=list, blank=True, help_text="A session record on these areas is refused."
    )
    free_text_read = models.BooleanField(
        "I have read every free-text answer marked 'Read this'",
        default=False,
        help_text="Required before a decision when the form has free-text answers.",
    )
    decided_at = models.DateTimeField(default=timezone.now)
    valid_until = models.DateField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-decided_at", "-pk"]
        get_latest_by = ["decided_at", "pk"]

    def __str__(self):
        return f"{self.get_decision_display()} by {self.reviewer} on {self.decided_at:%Y-%m-%d}"

    @property
    def clears(self) -> bool:
        return self.decision in self.CLEARING

    def is_current_clearance(self, today=None) -> bool:
        today = today or clock.today()
        return self.clears and self.suspended_at is None and self.valid_until is not None and self.valid_until >= today

    @property
    def has_limits(self) -> bool:
        return self.max_needle_depth_mm is not None or bool(self.excluded_areas)

    def excluded_area_labels(self) -> list[str]:
        labels = dict(BodyArea.choices)
        return [str(labels.get(code, code)) for code in self.excluded_areas]

    def limits_text(self) -> str:
        """The structured conditions as a practitioner reads them, quoted by a refused record."""
        parts = []
        if self.max_needle_depth_mm is not None:
            parts.append(f"needle depth at most {self.max_needle_depth_mm} mm")
        if self.excluded_areas:
            parts.append("do not treat " + ", ".join(label.lower() for label in self.excluded_area_labels()))
        return "; ".join(parts)

    @property
    def prescriber(self) -> medicine_advice.PrescriberAdvice | None:
        if not self.prescriber_advice:
            return None
        return medicine_advice.PrescriberAdvice(
            name=self.prescriber_name, role=self.prescriber_role, advised_on=self.prescriber_advised_on
        )

    @property
    def attributed_prescriber_advice(self) -> str:
        """The prescriber's advice as the patient reads it, or empty."""
        return self.prescriber.attribute(self.prescriber_advice) if self.prescriber else ""

    def clean(self):
        """The patient reads the message: it never tells them to stop a blood thinner. Such advice goes in
        `prescriber_advice`, with the prescriber's name, role and date, or nowhere."""
        errors = {}
        try:
            medicine_advice.check_patient_text(self.message_to_patient, field="message_to_patient", attributable=True)
        except ValidationError as error:
            errors.update(error.message_dict)
        recorded = (self.prescriber_name.strip(), self.prescriber_role.strip(), self.prescriber_advised_on)
        if self.prescriber_advice.strip():
            errors.update(
                medicine_advice.prescriber_advice_problems(
                    name=self.prescriber_name, role=self.prescriber_role, advised_on=self.prescriber_advised_on
                )
            )
        elif any(recorded):
            errors["prescriber_advice"] = "Write the advice the prescriber gave, or leave the prescriber empty."
        unknown = sorted(set(self.excluded_areas or []) - set(BodyArea.values))
        if unknown:
            errors["excluded_areas"] = f"Unknown body area(s): {', '.join(map(str, unknown))}."
        if self.has_limits and self.decision != self.Decision.CLEARED_WITH_CONDITIONS:
            errors["max_needle_depth_mm"] = "Limits are conditions: record 'cleared with conditions' to set them."
        if errors:
            raise ValidationError(errors)


class Consent(models.Model):
    """The patient's signature on the exact consent text shown (kept verbatim with its version)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    text_version = models.CharField(max_length=40)
    text = models.TextField()
    signed_name = models.CharField(max_length=200)
    agreed = models.BooleanField(default=False)
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-signed_at"]
        constraints = [models.CheckConstraint(condition=models.Q(agreed=True), name="consent_is_agreed")]

    def __str__(self):
        return f"Consent v{self.text_version} signed by {self.signed_name} at {self.signed_at:%Y-%m-%d %H:%M}"


class IntakeAccess(models.Model):
    """Audit log: a member of staff was shown an intake."""

    intake = models.ForeignKey(IntakeForm, on_delete=models.CASCADE, related_name="accesses")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    view = models.CharField(max_length=60, help_text="Which page showed it.")

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "intake accesses"

    def __str__(self):
        return f"{self.user} viewed {self.intake} at {self.at:%Y-%m-%d %H:%M}"


# --- What a screening rule may read: the kinds of intake question (used by the rules and by screening) ---

YES_NO, LIST, DATE = "yes_no", "list", "date"


def question_kind(field_name: str) -> str | None:
    try:
        field = IntakeForm._meta.get_field(field_name)
    except Exception:
        return None
    if field_name in MULTI_CHOICE_QUESTIONS:
        return LIST
    if isinstance(field, models.BooleanField) and field_name != "declaration":
        return YES_NO
    if isinstance(field, models.DateField):
        return DATE
    return None


def screenable_questions() -> list[tuple[str, str]]:
    """(field name, question) for every intake field a rule may read: the admin's choices."""
    return [
        (field.name, str(field.verbose_name))
        for field in IntakeForm._meta.get_fields()
        if getattr(field, "concrete", False) and question_kind(field.name)
    ]


def rule_problems(rule: ScreeningRule) -> dict[str, str]:
    """What is wrong with a rule as edited in the admin (empty when it is usable)."""
    problems = {}
    kind = question_kind(rule.question)
    if kind is None:
        problems["question"] = "Choose an intake question: " + ", ".join(name for name, _ in screenable_questions())
    elif kind == LIST:
        allowed = {code for code, _ in MULTI_CHOICE_QUESTIONS[rule.question]}
        unknown = [code for code in rule.answer_codes if code not in allowed]
        if unknown:
            problems["answers"] = f"Unknown answer(s) {', '.join(unknown)}; choose from {', '.join(sorted(allowed))}."
    elif kind == DATE and not rule.washout_days:
        problems["washout_days"] = "A date question needs a washout period in days."
    if rule.answers and kind != LIST:
        problems.setdefault("answers", "Only list questions take answer codes.")
    if advice := medicine_advice.find_stop_advice(rule.patient_text):
        problems["patient_text"] = medicine_advice.refusal_message(advice[0], attributable=False)
    return problems


class PinnedAlert(models.Model):
    """A clinical alert a practitioner pins on a patient ("pacemaker: no RF"), shown in the clinical alert
    banner wherever a practitioner decides (`consultations.alerts`). Practitioner-facing only: the patient
    never reads it, and the front desk learns only that an alert exists. Unpinning keeps the row (who, when),
    so the history of what staff were warned about stays; both are in the audit trail."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="pinned_alerts")
    text = models.CharField("alert", max_length=200, help_text='For practitioners only, e.g. "pacemaker: no RF".')
    pinned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    pinned_at = models.DateTimeField(default=timezone.now)
    unpinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    unpinned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pinned_at", "-pk"]
        indexes = [models.Index(fields=["patient", "unpinned_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(unpinned_at__isnull=True, unpinned_by__isnull=True)
                | models.Q(unpinned_at__isnull=False, unpinned_by__isnull=False),
                name="pinned_alert_unpinned_with_who_and_when",
            )
        ]

    def __str__(self):
        return self.text

    @property
    def is_pinned(self) -> bool:
        return self.unpinned_at is None
