"""The availability generation: one counter row, bumped by triggers on every table availability reads.

See bookings.models.AvailabilityGeneration and the "cached reads" section of bookings/availability.py.
PostgreSQL: one statement-level trigger per table (a bulk update bumps once). SQLite (the single-process
default of `make run`): row-level triggers, one per kind of write.
"""

from django.db import migrations, models

WATCHED = (
    "bookings_appointment",
    "clinic_workinghours",
    "clinic_timeoff",
    "clinic_room",
    "clinic_practitioner",
    "clinic_practitioner_treatments",
    "clinic_treatment",
)
BUMP = "UPDATE bookings_availabilitygeneration SET value = value + 1 WHERE id = 1"


def create_triggers(apps, schema_editor):
    apps.get_model("bookings", "AvailabilityGeneration").objects.get_or_create(pk=1)
    run = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        run(
            "CREATE OR REPLACE FUNCTION bookings_bump_availability_generation() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for table in WATCHED:
            run(
                f"CREATE TRIGGER {table}_availability AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bookings_bump_availability_generation()"
            )
    elif schema_editor.connection.vendor == "sqlite":
        for table in WATCHED:
            for event in ("INSERT", "UPDATE", "DELETE"):
                run(f"CREATE TRIGGER {table}_availability_{event.lower()} AFTER {event} ON {table} BEGIN {BUMP}; END")


def drop_triggers(apps, schema_editor):
    run = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        for table in WATCHED:
            run(f"DROP TRIGGER IF EXISTS {table}_availability ON {table}")
        run("DROP FUNCTION IF EXISTS bookings_bump_availability_generation()")
    elif schema_editor.connection.vendor == "sqlite":
        for table in WATCHED:
            for event in ("insert", "update", "delete"):
                run(f"DROP TRIGGER IF EXISTS {table}_availability_{event}")


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0007_appointment_indexes_for_scale"),
        ("clinic", "0002_role_groups"),
    ]

    operations = [
        migrations.CreateModel(
            name="AvailabilityGeneration",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
