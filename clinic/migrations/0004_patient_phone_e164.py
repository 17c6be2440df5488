"""Patients' phone numbers in E.164 (issue #15): "07700 900123", "+44 7700 900123" and "07700900123" become
"+447700900123", so the desk finds a patient whatever the caller dictates. A number that cannot be read as one
(none should exist: the old forms required 7+ digits) is left as it was and shown as it is; it is listed in
the migration's output to be corrected by hand. The logic is copied from clinic.phones at the time of writing
(migrations do not import code that may change)."""

import phonenumbers
from django.db import migrations, models

FICTIONAL_PREFIXES = ("+447700900", "+442079460")  # Ofcom's drama ranges: accepted, never anyone's


def to_e164(text):
    try:
        number = phonenumbers.parse((text or "").strip(), "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    fictional = len(e164) == 13 and e164.startswith(FICTIONAL_PREFIXES)
    return e164 if phonenumbers.is_valid_number(number) or fictional else None


def numbers_to_e164(apps, schema_editor):
    Patient = apps.get_model("clinic", "Patient")
    unreadable = []
    for patient in Patient.objects.exclude(phone="").only("pk", "phone").iterator():
        e164 = to_e164(patient.phone)
        if e164 is None:
            unreadable.append(patient.pk)
        elif e164 != patient.phone:
            Patient.objects.filter(pk=patient.pk).update(phone=e164)
    if unreadable:
        print(f"\n  Phone numbers left as they were (not readable as a number), patients: {unreadable}")


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0003_erasure_request"),
    ]

    operations = [
        migrations.RunPython(numbers_to_e164, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="patient",
            name="phone",
            field=models.CharField(help_text="E.164, e.g. +447700900123 (clinic.phones).", max_length=32),
        ),
    ]
