"""Clinic closures change availability: a write to clinic_closure bumps the availability generation like a
write to time off (the function and the pattern of 0008_availability_generation)."""

from django.db import migrations

TABLE = "clinic_closure"
BUMP = "UPDATE bookings_availabilitygeneration SET value = value + 1 WHERE id = 1"


def create_trigger(apps, schema_editor):
    run = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        run(
            f"CREATE TRIGGER {TABLE}_availability AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bookings_bump_availability_generation()"
        )
    elif schema_editor.connection.vendor == "sqlite":
        for event in ("INSERT", "UPDATE", "DELETE"):
            run(f"CREATE TRIGGER {TABLE}_availability_{event.lower()} AFTER {event} ON {TABLE} BEGIN {BUMP}; END")


def drop_trigger(apps, schema_editor):
    run = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        run(f"DROP TRIGGER IF EXISTS {TABLE}_availability ON {TABLE}")
    elif schema_editor.connection.vendor == "sqlite":
        for event in ("insert", "update", "delete"):
            run(f"DROP TRIGGER IF EXISTS {TABLE}_availability_{event}")


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0009_reminder_kind_moved"),
        ("clinic", "0005_closure"),
    ]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
