"""Screening: the ONE place where contraindication rules (ScreeningRule rows) are applied to an intake.

Every path that needs flags (submission, the review page, tests) calls `evaluate`. A rule reads one intake
field; how it matches follows from the field's kind:
- a yes/no question triggers on "yes";
- a list question (medicines, supplements) triggers on any of the rule's answer codes (or any answer);
- a date question (last isotretinoin dose) triggers while today is inside the washout after that date.
"""

import datetime
from dataclasses import dataclass

from django.db import models
from django.utils import timezone

from clinic import medicine_advice

from .models import MULTI_CHOICE_QUESTIONS, IntakeForm, ScreeningRule

YES_NO, LIST, DATE = "yes_no", "list", "date"


# Answers that raise no screening rule: the demo clinic's patient and the tests start from these and change
# the one answer they are about.
ANSWERS_WITH_NO_FLAGS = dict(
    emergency_contact_name="Sam Example",
    emergency_contact_phone="07700 900456",
    gp_name="Dr Jones",
    gp_practice="Marylebone Health Centre",
    medical_history="",
    bleeding_disorder=False,
    diabetes=False,
    immune_condition=False,
    cancer_treatment=False,
    cancer_in_area=False,
    collagen_disease=False,
    anticoagulants=[],
    nsaids=[],
    supplements=[],
    other_medicines="",
    took_isotretinoin=False,
    isotretinoin_last_dose=None,
    pregnant_or_breastfeeding=False,
    skin_condition_in_area=False,
    keloid_scarring=False,
    recent_sun_exposure=False,
    recent_area_treatments=False,
    recent_area_treatments_details="",
    metal_allergy=False,
    anaesthetic_allergy=False,
    other_allergies="",
    drinks_alcohol=False,
    areas_of_concern=["thighs"],
    goals="Smoother skin.",
    declaration=True,
)


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


@dataclass(frozen=True)
class Flag:
    rule: ScreeningRule
    answer: str
    until: datetime.date | None = None

    @property
    def severity(self) -> str:
        return self.rule.severity

    @property
    def is_serious(self) -> bool:
        return self.rule.severity in (ScreeningRule.Severity.BLOCK, ScreeningRule.Severity.REVIEW)


def evaluate(intake: IntakeForm, *, rules=None, today: datetime.date | None = None) -> list[Flag]:
    """The flags an intake's answers trigger, most serious first."""
    today = today or timezone.localdate()
    rules = ScreeningRule.objects.filter(active=True) if rules is None else rules
    flags = [flag for rule in rules if (flag := _match(rule, intake, today))]
    return sorted(flags, key=lambda f: (-ScreeningRule.SEVERITY_RANK[f.rule.severity], f.rule.display_order))


def _match(rule: ScreeningRule, intake: IntakeForm, today: datetime.date) -> Flag | None:
    kind = question_kind(rule.question)
    value = getattr(intake, rule.question, None)
    if kind == YES_NO and value is True:
        return Flag(rule, "Yes")
    if kind == LIST and value:
        wanted = set(rule.answer_codes)
        hits = [code for code in value if not wanted or code in wanted]
        if hits:
            labels = dict(MULTI_CHOICE_QUESTIONS[rule.question])
            return Flag(rule, ", ".join(str(labels.get(code, code)) for code in hits))
    if kind == DATE and value:
        until = value + datetime.timedelta(days=rule.washout_days or 0)
        if today < until:
            return Flag(rule, f"{value:%d %B %Y}", until=until)
    return None


def highest_severity(flags) -> str | None:
    ranked = sorted(flags, key=lambda f: -ScreeningRule.SEVERITY_RANK[f.severity])
    return ranked[0].severity if ranked else None


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
