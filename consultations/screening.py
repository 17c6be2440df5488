"""Screening: the ONE place where contraindication rules (ScreeningRule rows) are applied to an intake.

Every path that needs flags (submission, the review page, tests) calls `evaluate`. A rule reads one intake
field; how it matches follows from the field's kind:
- a yes/no question triggers on "yes";
- a list question (medicines, supplements) triggers on any of the rule's answer codes (or any answer);
- a date question (last isotretinoin dose) triggers while today is inside the washout after that date.

What a rule may read and whether it is well formed (`question_kind`, `rule_problems`) is the model's business
(`consultations.models`); the medicine-advice rule is `clinic.medicine_advice`.
"""

import datetime
from dataclasses import dataclass

from clinic import clock

from .models import DATE, LIST, MULTI_CHOICE_QUESTIONS, YES_NO, IntakeForm, ScreeningRule, question_kind

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
    implanted_electronic_device=False,
    metal_implant_in_area=False,
    implant_details="",
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
    goals="",
    declaration=True,
)


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
    today = today or clock.today()
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
