"""The clinic's one rule for patient-facing medicine advice (clinic/medicine_advice.py), read as text.

Where it is applied (review, cancellation, treatment and reminder texts, screening rules) is tested through
the pages in tests/test_medicine_advice_pages.py."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from clinic import medicine_advice
from clinic.medicine_advice import PrescriberAdvice, check_patient_text, find_stop_advice

STOP_ADVICE = [
    "Please stop taking your apixaban 48 hours before each session and restart the day after.",
    "pause warfarin",
    "Don't take your rivaroxaban on the morning of the session.",
    "Skip your blood thinner the day before.",
    "Hold your anticoagulant.",
    "HOLD YOUR ANTICOAGULANT FOR 2 DAYS",
    "Stop Eliquis two days before.",
    "Please discontinue your Xarelto for a week.",
    "You should come off clopidogrel first.",
    "Miss tomorrow morning's dose of dabigatran.",
    "Do not take Pradaxa the day before treatment.",
    "Warfarin: stop 5 days before your session.",
    "Your edoxaban should be paused for 24 hours.",
    "Leave out your Lixiana on the day.",
    "Take a break from your blood-thinning tablets before you come in.",
    "Stop your daily aspirin a week before.",
    "Please don\u2019t take your Plavix that morning.",
    "We advise you to omit ticagrelor the evening before.",
    "Stay off prasugrel for three days.",
    "No apixaban on the day of your treatment, please.",
    "Come to your session without taking your Eliquis.",
    "You can stop your anti-coagulant medication 2 days before.",
    "Avoid taking your blood thinners for 48 hours beforehand.",
    "Withhold your DOAC on the morning of treatment.",
    "It is best to cease taking warfarin before microneedling.",
    "Give up your low-dose aspirin for the week before.",
    "Keep taking fish oil, but stop your warfarin.",
    "Rivaroxaban doses must be skipped the day before.",
    "Stopping clopidogrel for a few days helps reduce bruising.",
    "Don't forget to stop your apixaban two days before.",
    "Do not worry if you miss a dose of warfarin before your session.",
    "Please pause your prescribed medicines before the session.",
    "Stop your medicines.",
]

HARMLESS = [
    "Do not stop your warfarin; bring your latest INR.",
    "Never stop warfarin on your own.",
    "Do not stop or change a medicine a doctor or nurse prescribed for you.",
    "Keep taking your apixaban as prescribed.",
    "Please don't skip your blood thinner.",
    "You should not miss a dose of your anticoagulant.",
    "There is no need to stop your Xarelto.",
    "We will never ask you to stop your clopidogrel.",
    "Do not stop, pause or skip your Eliquis before a session.",
    "Your rivaroxaban must not be stopped without your prescriber.",
    "Don't forget to take your warfarin as usual.",
    "Bring your warfarin book to every session.",
    "Avoid aspirin and ibuprofen for pain in the week before; paracetamol is fine.",
    "Stop fish oil and vitamin E a week before your session.",
    "Avoid alcohol for 48 hours before a session: it increases bruising.",
    "Bleeding may take longer to stop if you take a blood thinner.",
    "If you take warfarin, pinpoint bleeding can take longer to stop.",
    "Stop using retinoid creams on the area 5 days before.",
    "Tell us if your dabigatran dose changes.",
    "Speak to your prescriber before booking a treatment session, and tell your practitioner what they advise.",
    "Your anticoagulant clinic will check your INR.",
    "Do not take ibuprofen with your warfarin.",
    "Leave retinoid creams off the area for 5 days before a session.",
    "Please stop by reception to collect your aftercare leaflet.",
    "Drink plenty of water and keep taking your regular medicines.",
    "Stop sunbathing two weeks before; keep taking your Plavix.",
    "If you take clopidogrel, expect more bruising than usual.",
    "",
]


@pytest.mark.parametrize("text", STOP_ADVICE)
def test_advice_to_stop_a_blood_thinner_is_recognised(text):
    assert find_stop_advice(text), text


@pytest.mark.parametrize("text", HARMLESS)
def test_harmless_texts_pass_untouched(text):
    assert find_stop_advice(text) == [], text
    check_patient_text(text)  # raises nothing


def test_the_lists_hold_at_least_25_phrasings_each_way():
    assert len(STOP_ADVICE) >= 25 and len(HARMLESS) >= 25


def test_the_refusal_quotes_the_text_and_suggests_a_wording():
    with pytest.raises(ValidationError) as refused:
        check_patient_text("Please stop your Eliquis 2 days before.", field="message")
    message = refused.value.message_dict["message"][0]
    assert "please stop your eliquis 2 days before" in message
    assert 'Suggested wording: "Do not stop or change your apixaban (Eliquis) unless' in message


def test_prescriber_advice_is_attributed_with_name_role_and_date():
    advice = PrescriberAdvice(name="Dr Shah", role="GP", advised_on=datetime.date(2026, 3, 3))
    check_patient_text("Stop your apixaban 48 hours before.", prescriber=advice)  # recorded: allowed
    assert advice.attribute("Stop your apixaban 48 hours before.") == (
        "Your prescriber, Dr Shah (GP), advised on 3 March 2026: Stop your apixaban 48 hours before."
    )


def test_prescriber_advice_needs_a_name_a_role_and_a_recent_date():
    today = datetime.date(2026, 3, 10)
    problems = medicine_advice.prescriber_advice_problems(name=" ", role="", advised_on=None, today=today)
    assert set(problems) == {"prescriber_name", "prescriber_role", "prescriber_advised_on"}
    future = medicine_advice.prescriber_advice_problems(
        name="Dr Shah", role="GP", advised_on=datetime.date(2026, 3, 11), today=today
    )
    assert "future" in future["prescriber_advised_on"]
    stale = medicine_advice.prescriber_advice_problems(
        name="Dr Shah", role="GP", advised_on=datetime.date(2025, 11, 1), today=today
    )
    assert "ask the prescriber again" in stale["prescriber_advised_on"]
    assert not medicine_advice.prescriber_advice_problems(
        name="Dr Shah", role="GP", advised_on=datetime.date(2026, 3, 3), today=today
    )
