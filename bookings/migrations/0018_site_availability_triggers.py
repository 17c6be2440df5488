"""Sites are part of the clinic's set-up: a write to a site (its zone, whether it is active), its opening
hours or the sites a treatment is limited to bumps the "clinic" availability scope, like a write to rooms
or working hours (the functions and the pattern of 0015_availability_scopes). Rooms, working hours and
closures already have their triggers; their new `site` column changes nothing there."""

from django.db import migrations

TABLES = ("clinic_site", "clinic_openinghours", "clinic_treatment_sites")
SQLITE_BUMP = (
    "INSERT INTO bookings_availabilityscope (scope, value) VALUES ('clinic', 1) "
    "ON CONFLICT (scope) DO UPDATE SET value = value + 1"
)


def create_triggers(apps, schema_editor):
    run = schema_editor.execute
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            run(
                f"CREATE TRIGGER {table}_availability AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bookings_availability_clinic()"
            )
        elif vendor == "sqlite":
            for event in ("INSERT", "UPDATE", "DELETE"):
                run(f"CREATE TRIGGER {table}_availability_{event.lower()} AFTER {event} ON {table} BEGIN {SQLITE_BUMP}; END")


def drop_triggers(apps, schema_editor):
    run = schema_editor.execute
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            run(f"DROP TRIGGER IF EXISTS {table}_availability ON {table}")
        elif vendor == "sqlite":
            for event in ("insert", "update", "delete"):
                run(f"DROP TRIGGER IF EXISTS {table}_availability_{event}")


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0017_signedlink_notice"),
        ("clinic", "0009_sites"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
