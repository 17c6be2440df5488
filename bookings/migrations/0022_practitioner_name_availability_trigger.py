"""A practitioner's name is part of the clinic's set-up: renaming a practitioner's user (first name, last
name, or the email a nameless one is shown by) bumps the "clinic" availability scope, like a write to the
practitioner's own row (0015_availability_scopes).

The availability catalogue holds the practitioners with their users, and the booking page's practitioner
choice and the times list's "with ..." show their names from it; without this, a rename showed the old
name there until the next change to the set-up. Only those three columns of a practitioner's user count:
a sign-in (`last_login`), a password or a patient's own rename bumps nothing.
"""

from django.db import migrations

NAME_CHANGED = (
    "OLD.first_name IS DISTINCT FROM NEW.first_name OR OLD.last_name IS DISTINCT FROM NEW.last_name "
    "OR OLD.email IS DISTINCT FROM NEW.email"
)

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION bookings_availability_practitioner_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM clinic_practitioner WHERE user_id = NEW.id) THEN
        PERFORM bookings_bump_availability(ARRAY['clinic']);
    END IF;
    RETURN NULL;
END $$;
"""

SQLITE_BUMP = (
    "INSERT INTO bookings_availabilityscope (scope, value) VALUES ('clinic', 1) "
    "ON CONFLICT (scope) DO UPDATE SET value = value + 1"
)


def create_trigger(apps, schema_editor):
    run = schema_editor.execute
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        run(POSTGRES_FUNCTION)
        run(
            "CREATE TRIGGER clinic_user_availability AFTER UPDATE OF first_name, last_name, email ON clinic_user "
            f"FOR EACH ROW WHEN ({NAME_CHANGED}) EXECUTE FUNCTION bookings_availability_practitioner_name()"
        )
    elif vendor == "sqlite":
        sqlite_changed = NAME_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
        run(
            "CREATE TRIGGER clinic_user_availability_update AFTER UPDATE OF first_name, last_name, email "
            f"ON clinic_user WHEN ({sqlite_changed}) "
            "AND EXISTS (SELECT 1 FROM clinic_practitioner WHERE user_id = NEW.id) "
            f"BEGIN {SQLITE_BUMP}; END"
        )


def drop_trigger(apps, schema_editor):
    run = schema_editor.execute
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        run("DROP TRIGGER IF EXISTS clinic_user_availability ON clinic_user")
        run("DROP FUNCTION IF EXISTS bookings_availability_practitioner_name()")
    elif vendor == "sqlite":
        run("DROP TRIGGER IF EXISTS clinic_user_availability_update")


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0021_travel_time_per_pair_of_sites"),
        ("clinic", "0012_site_travel"),
    ]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
