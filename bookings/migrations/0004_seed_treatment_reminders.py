from django.db import migrations

# The timeline's defaults as they were when this migration was written (bookings/reminders/timing.py).
# (kind, offset in hours or None for "the treatment's course interval", needles only)
DEFAULTS = [
    ("confirmation", 0, False),
    ("pre_care", 168, True),
    ("pre_care_48h", 48, True),
    ("reminder_24h", 24, False),
    ("aftercare", 0, True),
    ("check_in", 72, True),
    ("next_session", None, True),
]


def seed(apps, schema_editor):
    Treatment = apps.get_model("clinic", "Treatment")
    TreatmentReminder = apps.get_model("bookings", "TreatmentReminder")
    rows = [
        TreatmentReminder(
            treatment=treatment,
            kind=kind,
            offset_hours=offset,
            enabled=not (needles_only and treatment.kind == "consultation"),
        )
        for treatment in Treatment.objects.all()
        for kind, offset, needles_only in DEFAULTS
    ]
    TreatmentReminder.objects.bulk_create(rows, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("bookings", "0003_reminder_outbox")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
