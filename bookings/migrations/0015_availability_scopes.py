"""Availability scopes: invalidation by what changed, instead of one clinic-wide counter.

See bookings.models.AvailabilityScope and the "cached reads" section of bookings/availability.py.
PostgreSQL:
- an appointment written (inserted, deleted, or updated in its times, practitioner, room or status) bumps
  "rooms:<UTC date>" for each date its old and new [start_at, busy_until) touch, row by row;
- time off bumps "practitioner:<id>" of its old and new practitioner, row by row;
- treatments, practitioners, what they offer, working hours, rooms and clinic closures bump "clinic", once a
  statement;
- a TRUNCATE of appointments or time off bumps "clinic" (every answer).
A scope's row is created at its first bump, at the microseconds since 1970. Rows are bumped in name order
within a statement, so two single bookings never wait on each other in opposite orders.
SQLite (the single-process default of `make run`): every write to those tables bumps "clinic".
"""

from django.db import migrations, models

CLINIC_TABLES = (
    "clinic_workinghours",
    "clinic_room",
    "clinic_practitioner",
    "clinic_practitioner_treatments",
    "clinic_treatment",
    "clinic_closure",
)
ALL_TABLES = (*CLINIC_TABLES, "bookings_appointment", "clinic_timeoff")
OLD_TABLES = ("bookings_appointment", *CLINIC_TABLES, "clinic_timeoff")

POSTGRES_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION bookings_bump_availability(scopes text[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO bookings_availabilityscope (scope, value)
    SELECT scope, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
    FROM (SELECT DISTINCT unnest(scopes) AS scope) AS wanted
    ORDER BY scope
    ON CONFLICT (scope) DO UPDATE SET value = bookings_availabilityscope.value + 1
$$;

CREATE OR REPLACE FUNCTION bookings_rooms_scopes(start_at timestamptz, busy_until timestamptz) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg('rooms:' || to_char(day, 'YYYY-MM-DD')), '{}')
    FROM generate_series(
        (start_at AT TIME ZONE 'UTC')::date,
        ((busy_until - interval '1 microsecond') AT TIME ZONE 'UTC')::date,
        interval '1 day'
    ) AS day
$$;

CREATE OR REPLACE FUNCTION bookings_availability_clinic() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bookings_bump_availability(ARRAY['clinic']);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bookings_availability_appointment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    scopes text[] := '{}';
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.start_at = OLD.start_at AND NEW.busy_until = OLD.busy_until
       AND NEW.practitioner_id = OLD.practitioner_id AND NEW.room_id = OLD.room_id AND NEW.status = OLD.status THEN
        RETURN NULL;  -- notes, reminders' bookkeeping: nothing availability reads
    END IF;
    IF TG_OP <> 'INSERT' THEN
        scopes := scopes || bookings_rooms_scopes(OLD.start_at, OLD.busy_until);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        scopes := scopes || bookings_rooms_scopes(NEW.start_at, NEW.busy_until);
    END IF;
    PERFORM bookings_bump_availability(scopes);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bookings_availability_time_off() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    scopes text[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        scopes := scopes || ('practitioner:' || OLD.practitioner_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        scopes := scopes || ('practitioner:' || NEW.practitioner_id);
    END IF;
    PERFORM bookings_bump_availability(scopes);
    RETURN NULL;
END $$;
"""

SQLITE_BUMP = (
    "INSERT INTO bookings_availabilityscope (scope, value) VALUES ('clinic', 1) "
    "ON CONFLICT (scope) DO UPDATE SET value = value + 1"
)


def create_triggers(apps, schema_editor):
    run = schema_editor.execute
    vendor = schema_editor.connection.vendor
    # The old counter's triggers (migrations 0008 and 0010).
    if vendor == "postgresql":
        for table in OLD_TABLES:
            run(f"DROP TRIGGER IF EXISTS {table}_availability ON {table}")
        run("DROP FUNCTION IF EXISTS bookings_bump_availability_generation()")
    elif vendor == "sqlite":
        for table in OLD_TABLES:
            for event in ("insert", "update", "delete"):
                run(f"DROP TRIGGER IF EXISTS {table}_availability_{event}")

    if vendor == "postgresql":
        run(POSTGRES_FUNCTIONS)
        run("SELECT bookings_bump_availability(ARRAY['clinic'])")
        for table in CLINIC_TABLES:
            run(
                f"CREATE TRIGGER {table}_availability AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bookings_availability_clinic()"
            )
        for table, function in (
            ("bookings_appointment", "bookings_availability_appointment"),
            ("clinic_timeoff", "bookings_availability_time_off"),
        ):
            run(
                f"CREATE TRIGGER {table}_availability AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
            run(
                f"CREATE TRIGGER {table}_availability_truncate AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bookings_availability_clinic()"
            )
    elif vendor == "sqlite":
        run(SQLITE_BUMP)
        for table in ALL_TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                run(f"CREATE TRIGGER {table}_availability_{event.lower()} AFTER {event} ON {table} BEGIN {SQLITE_BUMP}; END")


def drop_triggers(apps, schema_editor):
    run = schema_editor.execute
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in ALL_TABLES:
            run(f"DROP TRIGGER IF EXISTS {table}_availability ON {table}")
            run(f"DROP TRIGGER IF EXISTS {table}_availability_truncate ON {table}")
        for function in (
            "bookings_availability_clinic()",
            "bookings_availability_appointment()",
            "bookings_availability_time_off()",
            "bookings_rooms_scopes(timestamptz, timestamptz)",
            "bookings_bump_availability(text[])",
        ):
            run(f"DROP FUNCTION IF EXISTS {function}")
    elif vendor == "sqlite":
        for table in ALL_TABLES:
            for event in ("insert", "update", "delete"):
                run(f"DROP TRIGGER IF EXISTS {table}_availability_{event}")


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0014_outbox_attempts_inbound_texts"),
        ("clinic", "0005_closure"),
    ]

    operations = [
        migrations.CreateModel(
            name="AvailabilityScope",
            fields=[
                ("scope", models.CharField(max_length=80, primary_key=True, serialize=False)),
                ("value", models.BigIntegerField()),
            ],
        ),
        # Going back drops these triggers and brings the old counter's table back, without its triggers.
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.DeleteModel(name="AvailabilityGeneration"),
    ]
