"""The seeded screening rules, applied by `consultations.screening` (the only place rules are applied)."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic import medicine_advice
from consultations import screening
from consultations.models import IntakeForm, ScreeningFlag, ScreeningRule
from tests.factories import INTAKE_ANSWERS_NO_FLAGS, submitted_intake

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]

TODAY = datetime.date(2026, 11, 29)


def days_ago(n):
    return TODAY - datetime.timedelta(days=n)


# rule code -> (answers that trigger it, answers that do not)
CASES = {
    "anticoagulant": ({"anticoagulants": ["apixaban"]}, {"anticoagulants": []}),
    "blood-thinning-supplement": ({"supplements": ["fish_oil", "ginkgo"]}, {"supplements": []}),
    "nsaid": ({"nsaids": ["ibuprofen"]}, {"nsaids": []}),
    "bleeding-disorder": ({"bleeding_disorder": True}, {"bleeding_disorder": False}),
    "isotretinoin": (
        {"took_isotretinoin": True, "isotretinoin_last_dose": days_ago(90)},
        {"took_isotretinoin": True, "isotretinoin_last_dose": days_ago(200)},
    ),
    "skin-condition-in-area": ({"skin_condition_in_area": True}, {"skin_condition_in_area": False}),
    "keloid": ({"keloid_scarring": True}, {"keloid_scarring": False}),
    "pregnancy": ({"pregnant_or_breastfeeding": True}, {"pregnant_or_breastfeeding": False}),
    "diabetes": ({"diabetes": True}, {"diabetes": False}),
    "immunosuppression": ({"immune_condition": True}, {"immune_condition": False}),
    "chemo-radiotherapy": ({"cancer_treatment": True}, {"cancer_treatment": False}),
    "cancer-in-area": ({"cancer_in_area": True}, {"cancer_in_area": False}),
    "collagen-disease": ({"collagen_disease": True}, {"collagen_disease": False}),
    "metal-allergy": ({"metal_allergy": True}, {"metal_allergy": False}),
    "anaesthetic-allergy": ({"anaesthetic_allergy": True}, {"anaesthetic_allergy": False}),
    "recent-sun": ({"recent_sun_exposure": True}, {"recent_sun_exposure": False}),
    "recent-area-treatments": (
        {"recent_area_treatments": True, "recent_area_treatments_details": "Peel, October"},
        {"recent_area_treatments": False},
    ),
    "alcohol": ({"drinks_alcohol": True}, {"drinks_alcohol": False}),
    "implanted-electronic-device": (
        {"implanted_electronic_device": True, "implant_details": "Pacemaker"},
        {"implanted_electronic_device": False},
    ),
    "metal-implant-in-area": (
        {"metal_implant_in_area": True, "implant_details": "Plate in left femur"},
        {"metal_implant_in_area": False},
    ),
}
EXPECTED_SEVERITY = {
    "anticoagulant": "review",
    "blood-thinning-supplement": "advise",
    "nsaid": "advise",
    "bleeding-disorder": "block",
    "isotretinoin": "block",
    "skin-condition-in-area": "block",
    "keloid": "review",
    "pregnancy": "block",
    "diabetes": "review",
    "immunosuppression": "review",
    "chemo-radiotherapy": "review",
    "cancer-in-area": "block",
    "collagen-disease": "block",
    "metal-allergy": "review",
    "anaesthetic-allergy": "review",
    "recent-sun": "advise",
    "recent-area-treatments": "advise",
    "alcohol": "advise",
    "implanted-electronic-device": "review",
    "metal-implant-in-area": "review",
}


def intake_with(**answers) -> IntakeForm:
    return IntakeForm(**{**INTAKE_ANSWERS_NO_FLAGS, **answers})


def flagged_codes(intake) -> list[str]:
    return [flag.rule.code for flag in screening.evaluate(intake, today=TODAY)]


def test_every_seeded_rule_has_a_case_here():
    assert set(ScreeningRule.objects.values_list("code", flat=True)) == set(CASES)


def test_clean_answers_trigger_nothing():
    assert flagged_codes(intake_with()) == []


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_triggers_on_its_answer(code):
    triggering, _ = CASES[code]
    flags = [f for f in screening.evaluate(intake_with(**triggering), today=TODAY) if f.rule.code == code]
    assert len(flags) == 1
    assert flags[0].severity == EXPECTED_SEVERITY[code]


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_stays_quiet_otherwise(code):
    _, quiet = CASES[code]
    assert code not in flagged_codes(intake_with(**quiet))


def test_isotretinoin_blocks_until_six_months_after_the_last_dose():
    last_dose = days_ago(30)
    (flag,) = screening.evaluate(intake_with(took_isotretinoin=True, isotretinoin_last_dose=last_dose), today=TODAY)
    assert flag.until == last_dose + datetime.timedelta(days=183)
    assert flag.severity == "block"
    on_the_day = intake_with(took_isotretinoin=True, isotretinoin_last_dose=TODAY - datetime.timedelta(days=183))
    assert flagged_codes(on_the_day) == []


def test_a_list_rule_can_be_narrowed_to_some_answers():
    rule = ScreeningRule.objects.get(code="anticoagulant")
    rule.answers = "warfarin"
    rule.save()
    assert flagged_codes(intake_with(anticoagulants=["apixaban"])) == []
    assert flagged_codes(intake_with(anticoagulants=["warfarin", "apixaban"])) == ["anticoagulant"]


def test_an_inactive_rule_is_not_applied():
    ScreeningRule.objects.filter(code="diabetes").update(active=False)
    assert flagged_codes(intake_with(diabetes=True)) == []


def test_flags_come_most_serious_first():
    intake = intake_with(drinks_alcohol=True, pregnant_or_breastfeeding=True, diabetes=True)
    assert [f.severity for f in screening.evaluate(intake, today=TODAY)] == ["block", "review", "advise"]


def test_submission_stores_the_flags_of_that_version_with_their_texts():
    intake = submitted_intake(anticoagulants=["warfarin"], drinks_alcohol=True)
    stored = ScreeningFlag.objects.filter(intake=intake, intake_version=1)
    assert sorted(stored.values_list("topic", flat=True)) == [
        "Alcohol in the 24-48 hours before",
        "Anticoagulant or antiplatelet medicine",
    ]
    anticoagulant = stored.get(rule__code="anticoagulant")
    assert anticoagulant.answer == "Warfarin"
    assert "prescriber" in anticoagulant.patient_text


# --- Never tell a patient to stop a prescribed medicine ------------------------------------------


def test_no_patient_facing_text_tells_a_patient_to_stop_a_medicine():
    for rule in ScreeningRule.objects.all():
        assert not medicine_advice.tells_patient_to_stop_medicine(rule.patient_text), rule.code


def test_anticoagulant_advice_says_to_speak_to_the_prescriber_and_not_to_stop():
    text = ScreeningRule.objects.get(code="anticoagulant").patient_text.lower()
    assert "prescriber" in text
    assert "do not stop" in text


def test_an_admin_edit_that_tells_patients_to_stop_is_refused():
    rule = ScreeningRule.objects.get(code="anticoagulant")
    rule.patient_text = "Hold your anticoagulant 3 days before the session."
    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert "Suggested wording" in error.value.message_dict["patient_text"][0]


def test_a_rule_must_read_a_real_question_with_known_answers():
    rule = ScreeningRule(
        code="x", topic="X", question="favourite_colour", severity="advise", patient_text="a", practitioner_text="b"
    )
    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert "question" in error.value.message_dict
    rule.question, rule.answers = "anticoagulants", "heparin"
    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert "answers" in error.value.message_dict
    rule.question, rule.answers = "isotretinoin_last_dose", ""
    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert "washout_days" in error.value.message_dict


@pytest.mark.clock
def test_screening_uses_the_clinic_date_by_default():
    recent = timezone.localdate() - datetime.timedelta(days=10)
    assert [f.rule.code for f in screening.evaluate(intake_with(isotretinoin_last_dose=recent))] == ["isotretinoin"]
