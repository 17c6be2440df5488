"""The desk's scopes per date, not per patient (issue 16): its kept day view reads a few dozen rows, not 600.

0026 bumped "patient:<id>" for what a card shows of a patient, so a day view named a scope for every patient
of the day: it read the day's appointments to learn them, then some 600 scope rows (a busy day over two
sites' clocks), 2 to 7 ms of PostgreSQL on every reload. Now the same writes bump "desk:<UTC date>" for
each date one of the patient's appointments starts on, and a day view reads one such row a date whatever
its patients:
- a patient's row, their user's name, their health forms, the forms' flags and reviews, their pinned
  alerts, consents and health-form confirmations: "desk:<date>" of every start date of their appointments;
- an appointment written only in what the desk shows beyond availability's columns (its patient, treatment,
  end, confirmation, cancellation reason): "desk:<date>" of its start, old and new. Anything else written
  about it (inserted, deleted, moved, another room, practitioner, site or status) bumps its room's scope on
  its dates already (0020), so bookings, moves and cancellations never bump a "desk:" row: no booking waits
  on another patient's (issue 17).
Which dates a patient's appointments start on is read in the writing transaction, so it must not miss one
being placed at the same moment: the write takes the patient's row lock first (`FOR UPDATE`, held already
by the services' `clinic.locks.lock_patient`), and a trigger on appointments takes its share of it
(`FOR KEY SHARE`) before an appointment is placed or given another patient, whoever writes (the admin too):
the two are ordered, and the later one sees the earlier. The "patient:" rows are removed.
SQLite: nothing (the day view is not kept there).
"""

import importlib

from django.db import migrations

desk_scopes = importlib.import_module("bookings.migrations.0026_desk_scopes")

DATE = "to_char((a.start_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD')"
# Each trigger function of 0026 that bumped a patient's scope, and the patients its row is about (OLD is NULL
# on an insert, NEW on a delete: no patient matches NULL).
PATIENTS_OF_ROW = {
    "bookings_desk_patient_row": "ARRAY[OLD.patient_id, NEW.patient_id]",  # forms, alerts, consents
    "bookings_desk_intake_row": (
        "ARRAY(SELECT patient_id FROM consultations_intakeform WHERE id IN (OLD.intake_id, NEW.intake_id))"
    ),
    "bookings_desk_confirmation_row": (
        "ARRAY(SELECT patient_id FROM bookings_appointment WHERE id IN (OLD.appointment_id, NEW.appointment_id))"
    ),
    "bookings_desk_patient": "ARRAY[OLD.id, NEW.id]",
    "bookings_desk_patient_name": "ARRAY(SELECT id FROM clinic_patient WHERE user_id = NEW.id)",
}


def patients_trigger_function(name: str, patients: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bookings_bump_availability(bookings_desk_patient_dates({patients}));
    RETURN NULL;
END $$;
"""


POSTGRES_FORWARD = (
    rf"""
CREATE OR REPLACE FUNCTION bookings_desk_patient_dates(patient_ids bigint[]) RETURNS text[]
LANGUAGE plpgsql AS $$
BEGIN
    -- After any placement of theirs that holds their row (or before it: it waits for this one to commit).
    PERFORM 1 FROM clinic_patient WHERE id = ANY(patient_ids) ORDER BY id FOR UPDATE;
    RETURN ARRAY(
        SELECT DISTINCT 'desk:' || {DATE} FROM bookings_appointment AS a WHERE a.patient_id = ANY(patient_ids)
    );
END $$;
"""
    + "".join(patients_trigger_function(name, patients) for name, patients in PATIENTS_OF_ROW.items())
    + r"""
CREATE OR REPLACE FUNCTION bookings_desk_appointment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Placed, or given another patient: ordered with any write of what the desk shows of that patient.
    IF TG_OP = 'INSERT'
       OR (TG_OP = 'UPDATE' AND (NEW.patient_id, NEW.start_at) IS DISTINCT FROM (OLD.patient_id, OLD.start_at))
    THEN
        PERFORM 1 FROM clinic_patient WHERE id = NEW.patient_id FOR KEY SHARE;
    END IF;
    -- Inserted, deleted, or written in availability's columns: its room's scope on its dates (0020).
    IF TG_OP <> 'UPDATE'
       OR (NEW.practitioner_id, NEW.room_id, NEW.site_id, NEW.start_at, NEW.busy_until, NEW.status)
          IS DISTINCT FROM (OLD.practitioner_id, OLD.room_id, OLD.site_id, OLD.start_at, OLD.busy_until, OLD.status)
    THEN
        RETURN NULL;
    END IF;
    -- Only what the desk's cards show beyond them (bookings/frontdesk/grid.py): the date it starts on.
    IF (NEW.patient_id, NEW.treatment_id, NEW.end_at, NEW.confirmed_at, NEW.cancellation_reason)
       IS NOT DISTINCT FROM (OLD.patient_id, OLD.treatment_id, OLD.end_at, OLD.confirmed_at, OLD.cancellation_reason)
    THEN
        RETURN NULL;
    END IF;
    PERFORM bookings_bump_availability(
        ARRAY['desk:' || to_char((NEW.start_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD')]
    );
    RETURN NULL;
END $$;

DELETE FROM bookings_availabilityscope WHERE left(scope, 8) = 'patient:';
"""
)

POSTGRES_BACKWARD = (
    desk_scopes.POSTGRES_FORWARD
    + """
DROP FUNCTION IF EXISTS bookings_desk_patient_dates(bigint[]);
DELETE FROM bookings_availabilityscope WHERE left(scope, 5) = 'desk:';
"""
)


def on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("bookings", "0027_availability_scope_values_never_repeat")]

    operations = [migrations.RunPython(on_postgresql(POSTGRES_FORWARD), on_postgresql(POSTGRES_BACKWARD))]
