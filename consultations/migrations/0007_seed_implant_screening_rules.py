"""Screening rules for the health form's implant questions (design notes: "pacemaker, defibrillator or other
implanted electronic device; metal implant in the area: review"). Like 0002, it only creates rules that are
missing and never overwrites the clinic's edits."""

from django.db import migrations

RULES = [
    dict(
        code="implanted-electronic-device",
        topic="Pacemaker, defibrillator or other implanted electronic device",
        question="implanted_electronic_device",
        severity="review",
        patient_text="Because you have an implanted electronic device, a practitioner needs to review your form "
        "before you book a session. Some devices we use give off electrical or radiofrequency energy, which "
        "must never be used near a device like yours. Please bring your device card.",
        practitioner_text="Implanted electronic device (pacemaker/ICD/stimulator): no radiofrequency, "
        "electrical or electroporation devices anywhere on the body; mechanical needling only. Check the "
        "device card; if in doubt, ask the patient's cardiology team.",
    ),
    dict(
        code="metal-implant-in-area",
        topic="Metal implant in or near the area",
        question="metal_implant_in_area",
        severity="review",
        patient_text="Because you have a metal implant near the area, a practitioner needs to review your form "
        "before you book a session, to plan where and how deep to treat.",
        practitioner_text="Metal implant in/near the area: no radiofrequency over it; avoid needling over a "
        "superficial implant or recent surgical scar; consider excluding the area.",
    ),
]
FIRST_ORDER = 19  # after the 18 rules of 0002


def seed_rules(apps, schema_editor):
    ScreeningRule = apps.get_model("consultations", "ScreeningRule")
    for order, spec in enumerate(RULES, start=FIRST_ORDER):
        spec = dict(spec)
        ScreeningRule.objects.get_or_create(code=spec.pop("code"), defaults={**spec, "display_order": order})


def remove_rules(apps, schema_editor):
    apps.get_model("consultations", "ScreeningRule").objects.filter(code__in=[r["code"] for r in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("consultations", "0006_intake_implants")]

    operations = [migrations.RunPython(seed_rules, remove_rules)]
