"""Scopes for the desk's cached day view (issue 16): what a card shows beyond availability's scopes.

The desk's day view is cached per state of everything it reads (bookings/frontdesk/day_cache.py). Most of
that already bumps an availability scope (0015, 0018, 0020, 0022, 0024, 0025): the set-up ("clinic": practitioners and
their names, working hours, rooms, sites, treatments, closures) and every appointment written in its times,
room, practitioner, site or status ("room:<id>:<UTC date>" of its old and new dates). The rest is per
patient or per day, in the same table and through the same bump function, so they never make bookings of
different patients queue on one row (issue 17):
- "patient:<id>", bumped by a write to that patient's appointments in what the desk shows of them (a
  confirmation, a cancellation's reason, another treatment: columns availability does not read; and its
  times, room, practitioner, site and status again), their own row, their user's name, their
  health forms, the forms' flags and reviews, their pinned alerts, their consents and their health-form
  confirmations for a visit;
- "time-off:<UTC date>", bumped for every date a time off's old and new [start_at, end_at) touch (time off
  also bumps the practitioner's scopes (0024, 0025), with every booking of theirs: the desk would read fifty
  of those a date where it reads one of these);
- a TRUNCATE of any of these tables bumps "clinic" (every cached answer and day).
SQLite: nothing (the day view is not cached there).
"""

from django.db import migrations

PATIENT_COLUMN_TABLES = (  # rows with a patient_id
    "consultations_intakeform",
    "consultations_pinnedalert",
    "consultations_consent",
)
INTAKE_COLUMN_TABLES = ("consultations_screeningflag", "consultations_review")  # rows with an intake_id
TRUNCATED = (*PATIENT_COLUMN_TABLES, *INTAKE_COLUMN_TABLES, "consultations_intakeconfirmation", "clinic_patient")

POSTGRES_FORWARD = r"""
CREATE OR REPLACE FUNCTION bookings_desk_patient_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    scopes text[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        scopes := scopes || ('patient:' || OLD.patient_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        scopes := scopes || ('patient:' || NEW.patient_id);
    END IF;
    PERFORM bookings_bump_availability(scopes);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bookings_desk_appointment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    scopes text[] := '{}';
BEGIN
    -- An appointment's columns the desk's calendars read (bookings/frontdesk/grid.py): a card showing another
    -- one needs it here. Other writes (its source, a check-in's time, reminders' bookkeeping) bump nothing.
    IF TG_OP = 'UPDATE'
       AND (NEW.patient_id, NEW.practitioner_id, NEW.treatment_id, NEW.room_id, NEW.site_id, NEW.start_at,
            NEW.end_at, NEW.status, NEW.confirmed_at, NEW.cancellation_reason)
       IS NOT DISTINCT FROM (OLD.patient_id, OLD.practitioner_id, OLD.treatment_id, OLD.room_id, OLD.site_id,
            OLD.start_at, OLD.end_at, OLD.status, OLD.confirmed_at, OLD.cancellation_reason) THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        scopes := scopes || ('patient:' || OLD.patient_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        scopes := scopes || ('patient:' || NEW.patient_id);
    END IF;
    PERFORM bookings_bump_availability(scopes);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bookings_desk_intake_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    scopes text[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        scopes := scopes || ARRAY(SELECT 'patient:' || patient_id FROM consultations_intakeform WHERE id = OLD.intake_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        scopes := scopes || ARRAY(SELECT 'patient:' || patient_id FROM consultations_intakeform WHERE id = NEW.intake_id);
    END IF;
    PERFORM bookings_bump_availability(scopes);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bookings_desk_confirmation_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    scopes text[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        scopes := scopes || ARRAY(SELECT 'patient:' || patient_id FROM bookings_appointment WHERE id = OLD.appointment_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        scopes := scopes || ARRAY(SELECT 'patient:' || patient_id FROM bookings_appointment WHERE id = NEW.appointment_id);
    END IF;
    PERFORM bookings_bump_availability(scopes);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bookings_desk_patient() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    scopes text[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        scopes := scopes || ('patient:' || OLD.id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        scopes := scopes || ('patient:' || NEW.id);
    END IF;
    PERFORM bookings_bump_availability(scopes);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bookings_desk_patient_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bookings_bump_availability(ARRAY(SELECT 'patient:' || id FROM clinic_patient WHERE user_id = NEW.id));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bookings_desk_days(start_at timestamptz, end_at timestamptz) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg('time-off:' || to_char(day, 'YYYY-MM-DD')), '{}')
    FROM generate_series(
        (start_at AT TIME ZONE 'UTC')::date,
        (greatest(start_at, end_at - interval '1 microsecond') AT TIME ZONE 'UTC')::date,
        interval '1 day'
    ) AS day
$$;

CREATE OR REPLACE FUNCTION bookings_desk_time_off() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    scopes text[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        scopes := scopes || bookings_desk_days(OLD.start_at, OLD.end_at);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        scopes := scopes || bookings_desk_days(NEW.start_at, NEW.end_at);
    END IF;
    PERFORM bookings_bump_availability(scopes);
    RETURN NULL;
END $$;
"""

ROW_TRIGGERS = (
    ("bookings_appointment", "bookings_desk_appointment"),
    *((table, "bookings_desk_patient_row") for table in PATIENT_COLUMN_TABLES),
    *((table, "bookings_desk_intake_row") for table in INTAKE_COLUMN_TABLES),
    ("consultations_intakeconfirmation", "bookings_desk_confirmation_row"),
    ("clinic_patient", "bookings_desk_patient"),
    ("clinic_timeoff", "bookings_desk_time_off"),
)
FUNCTIONS = (
    "bookings_desk_appointment()",
    "bookings_desk_patient_row()",
    "bookings_desk_intake_row()",
    "bookings_desk_confirmation_row()",
    "bookings_desk_patient()",
    "bookings_desk_patient_name()",
    "bookings_desk_time_off()",
    "bookings_desk_days(timestamptz, timestamptz)",
)


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run(POSTGRES_FORWARD)
    for table, function in ROW_TRIGGERS:
        run(
            f"CREATE TRIGGER {table}_desk AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
    for table in TRUNCATED:
        run(
            f"CREATE TRIGGER {table}_desk_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bookings_availability_clinic()"
        )
    # A patient's name is their user's (`Patient.full_name`); a practitioner's is bumped as "clinic" (0022).
    run(
        "CREATE TRIGGER clinic_user_desk AFTER UPDATE OF first_name, last_name ON clinic_user FOR EACH ROW "
        "WHEN (OLD.first_name IS DISTINCT FROM NEW.first_name OR OLD.last_name IS DISTINCT FROM NEW.last_name) "
        "EXECUTE FUNCTION bookings_desk_patient_name()"
    )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run("DROP TRIGGER IF EXISTS clinic_user_desk ON clinic_user")
    for table, _ in ROW_TRIGGERS:
        run(f"DROP TRIGGER IF EXISTS {table}_desk ON {table}")
    for table in TRUNCATED:
        run(f"DROP TRIGGER IF EXISTS {table}_desk_truncate ON {table}")
    for function in FUNCTIONS:
        run(f"DROP FUNCTION IF EXISTS {function}")
    run("DELETE FROM bookings_availabilityscope WHERE left(scope, 8) = 'patient:' OR left(scope, 9) = 'time-off:'")


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0025_availability_practitioner_scope_for_all_days"),
        ("clinic", "0012_site_travel"),
        ("consultations", "0010_pinned_alerts"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
