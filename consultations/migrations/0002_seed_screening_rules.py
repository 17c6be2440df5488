"""Seed the screening rules from the contraindication reference in the design notes. The clinic edits them
in the admin afterwards; re-running only creates rules that are missing (it never overwrites an edit)."""

from django.db import migrations

SPEAK_TO_PRESCRIBER = (
    "Do not stop or change a medicine a doctor or nurse prescribed for you. Speak to your prescriber before "
    "booking a treatment session, and tell your practitioner what they advise."
)

RULES = [
    dict(
        code="anticoagulant",
        topic="Anticoagulant or antiplatelet medicine",
        question="anticoagulants",
        severity="review",
        patient_text="You take a blood-thinning medicine, which makes bruising and bleeding more likely. "
        + SPEAK_TO_PRESCRIBER,
        practitioner_text="Anticoagulant/antiplatelet therapy: bleeding and bruising risk. Do not advise the "
        "patient to stop; liaise with the prescriber (INR for warfarin) and consider depth and area.",
    ),
    dict(
        code="blood-thinning-supplement",
        topic="Blood-thinning supplement",
        question="supplements",
        severity="advise",
        patient_text="Some supplements (fish oil, vitamin E, ginkgo, garlic) can increase bruising. Your "
        "practitioner may suggest pausing a supplement you take by choice for a week before a session.",
        practitioner_text="Blood-thinning supplement: consider a pause of 7 days before the session.",
    ),
    dict(
        code="nsaid",
        topic="Anti-inflammatory painkillers (NSAIDs)",
        question="nsaids",
        severity="advise",
        patient_text="Anti-inflammatory painkillers such as ibuprofen can increase bruising. If you take them "
        "by choice, your practitioner may suggest paracetamol instead before a session. If a doctor "
        "prescribed one, do not stop it: ask your prescriber.",
        practitioner_text="Regular NSAID use: bruising risk; if self-directed, suggest paracetamol for 7 days "
        "before. If prescribed, leave to the prescriber.",
    ),
    dict(
        code="bleeding-disorder",
        topic="Bleeding or clotting disorder",
        question="bleeding_disorder",
        severity="block",
        patient_text="With a bleeding or clotting disorder, microneedling may not be safe for you. A "
        "practitioner will look at your answers and contact you; please book a consultation.",
        practitioner_text="Bleeding/clotting disorder (e.g. haemophilia, von Willebrand): contraindicated "
        "unless the haematologist advises otherwise.",
    ),
    dict(
        code="isotretinoin",
        topic="Isotretinoin in the last 6 months",
        question="isotretinoin_last_dose",
        severity="block",
        washout_days=183,
        patient_text="Microneedling has to wait until 6 months after your last dose of isotretinoin, because "
        "the skin heals less well before then.",
        practitioner_text="Isotretinoin within 6 months: impaired healing, scarring risk. No session before the "
        "washout ends.",
    ),
    dict(
        code="skin-condition-in-area",
        topic="Infection, open wound, eczema or psoriasis flare in the area",
        question="skin_condition_in_area",
        severity="block",
        patient_text="We cannot treat skin with an infection, an open wound or a flare. Once it has settled, "
        "update your form and a practitioner will review it.",
        practitioner_text="Active infection, wound or dermatosis flare in the treatment area: do not treat "
        "until resolved; check on the day.",
    ),
    dict(
        code="keloid",
        topic="History of keloid or hypertrophic scars",
        question="keloid_scarring",
        severity="review",
        patient_text="Because you have had raised scars, a practitioner needs to review your form before you "
        "book a session.",
        practitioner_text="Keloid/hypertrophic scarring history: scarring risk; consider a test patch and "
        "a conservative depth.",
    ),
    dict(
        code="pregnancy",
        topic="Pregnant or breastfeeding",
        question="pregnant_or_breastfeeding",
        severity="block",
        patient_text="We do not treat during pregnancy or while breastfeeding. We look forward to seeing you "
        "afterwards; update your form then.",
        practitioner_text="Pregnant, trying to conceive or breastfeeding: do not treat.",
    ),
    dict(
        code="diabetes",
        topic="Diabetes",
        question="diabetes",
        severity="review",
        patient_text="Because you have diabetes, a practitioner needs to review your form before you book a "
        "session.",
        practitioner_text="Diabetes: slower healing and infection risk; ask about control (HbA1c).",
    ),
    dict(
        code="immunosuppression",
        topic="Immune condition or immunosuppression",
        question="immune_condition",
        severity="review",
        patient_text="Because of your immune condition or treatment, a practitioner needs to review your form "
        "before you book a session.",
        practitioner_text="Immunosuppression: infection and healing risk; check the medicine and the "
        "specialist's view.",
    ),
    dict(
        code="chemo-radiotherapy",
        topic="Chemotherapy or radiotherapy",
        question="cancer_treatment",
        severity="review",
        patient_text="Because of recent cancer treatment, a practitioner needs to review your form before you "
        "book a session.",
        practitioner_text="Chemo- or radiotherapy in the last year: healing and infection risk; check with the "
        "oncology team.",
    ),
    dict(
        code="cancer-in-area",
        topic="Active cancer in the area",
        question="cancer_in_area",
        severity="block",
        patient_text="We cannot treat an area with active cancer. A practitioner will contact you.",
        practitioner_text="Active malignancy in the treatment area: contraindicated.",
    ),
    dict(
        code="collagen-disease",
        topic="Scleroderma or other collagen disease",
        question="collagen_disease",
        severity="block",
        patient_text="With scleroderma or another collagen disease, microneedling may not be safe for you. A "
        "practitioner will review your form; please book a consultation.",
        practitioner_text="Scleroderma/collagen vascular disease: contraindicated.",
    ),
    dict(
        code="metal-allergy",
        topic="Metal (nickel) allergy",
        question="metal_allergy",
        severity="review",
        patient_text="Our needles are made of metal, so a practitioner needs to review your allergy before you "
        "book a session.",
        practitioner_text="Metal/nickel allergy: check needle cartridge material; consider a patch test.",
    ),
    dict(
        code="anaesthetic-allergy",
        topic="Local anaesthetic (lidocaine) allergy",
        question="anaesthetic_allergy",
        severity="review",
        patient_text="We usually use a numbing cream. A practitioner needs to review your allergy before you "
        "book a session.",
        practitioner_text="Topical anaesthetic allergy: no lidocaine cream; plan an alternative.",
    ),
    dict(
        code="recent-sun",
        topic="Sunburn or tanning in the last 2 weeks",
        question="recent_sun_exposure",
        severity="advise",
        patient_text="Please keep the area out of the sun and off tanning beds for 2 weeks before a session; "
        "we cannot treat sunburnt skin.",
        practitioner_text="Recent sun exposure or tanning: check the skin on the day; postpone if burnt.",
    ),
    dict(
        code="recent-area-treatments",
        topic="Topical retinoids, peels or laser on the area recently",
        question="recent_area_treatments",
        severity="advise",
        patient_text="Leave retinoid creams off the area for 5 days before a session, and tell us about any "
        "peel or laser treatment there.",
        practitioner_text="Recent retinoid/peel/laser on the area: check the details and the skin barrier.",
    ),
    dict(
        code="alcohol",
        topic="Alcohol in the 24-48 hours before",
        question="drinks_alcohol",
        severity="advise",
        patient_text="Please avoid alcohol for 48 hours before a session: it increases bruising.",
        practitioner_text="Drinks alcohol: pre-care reminder covers 48 hours before.",
    ),
]


def seed_rules(apps, schema_editor):
    ScreeningRule = apps.get_model("consultations", "ScreeningRule")
    for order, spec in enumerate(RULES, start=1):
        spec = dict(spec)
        ScreeningRule.objects.get_or_create(code=spec.pop("code"), defaults={**spec, "display_order": order})


def remove_rules(apps, schema_editor):
    apps.get_model("consultations", "ScreeningRule").objects.filter(code__in=[r["code"] for r in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("consultations", "0001_initial")]

    operations = [migrations.RunPython(seed_rules, remove_rules)]
