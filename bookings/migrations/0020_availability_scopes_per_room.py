"""Availability scopes per practitioner and per room, instead of one row per date for every room.

0015 had every appointment write bump "rooms:<UTC date>": every booking of a day, at any site, in any room,
waited on that one row until the booking before it committed. Now an appointment written (inserted, deleted,
or updated in its times, practitioner, room, site or status) bumps, for its old and its new values:
- "practitioner:<id>" (the row its time off bumps already): answers for that practitioner, at any site;
- "room:<id>:<UTC date>" for each date its [start_at, busy_until) touches: answers that read that room.
So bookings of different practitioners in different rooms never wait on the same row, whichever site they
are at, and a booking makes stale only the answers that read its practitioner or its room on its dates.
Rows are still bumped in name order within a statement. The old "rooms:<date>" rows are removed.
SQLite: unchanged (every write bumps "clinic").
"""

from django.db import migrations

POSTGRES_FORWARD = r"""
CREATE OR REPLACE FUNCTION bookings_appointment_scopes(
    practitioner_id bigint, room_id bigint, start_at timestamptz, busy_until timestamptz
) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['practitioner:' || practitioner_id] || coalesce(array_agg('room:' || room_id || ':' || to_char(day, 'YYYY-MM-DD')), '{}')
    FROM generate_series(
        (start_at AT TIME ZONE 'UTC')::date,
        ((busy_until - interval '1 microsecond') AT TIME ZONE 'UTC')::date,
        interval '1 day'
    ) AS day
$$;

CREATE OR REPLACE FUNCTION bookings_availability_appointment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    scopes text[] := '{}';
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.start_at = OLD.start_at AND NEW.busy_until = OLD.busy_until
       AND NEW.practitioner_id = OLD.practitioner_id AND NEW.room_id = OLD.room_id
       AND NEW.site_id = OLD.site_id AND NEW.status = OLD.status THEN
        RETURN NULL;  -- notes, reminders' bookkeeping: nothing availability reads
    END IF;
    IF TG_OP <> 'INSERT' THEN
        scopes := scopes || bookings_appointment_scopes(OLD.practitioner_id, OLD.room_id, OLD.start_at, OLD.busy_until);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        scopes := scopes || bookings_appointment_scopes(NEW.practitioner_id, NEW.room_id, NEW.start_at, NEW.busy_until);
    END IF;
    PERFORM bookings_bump_availability(scopes);
    RETURN NULL;
END $$;

DELETE FROM bookings_availabilityscope WHERE left(scope, 6) = 'rooms:';
SELECT bookings_bump_availability(ARRAY['clinic']);
"""

POSTGRES_BACKWARD = r"""
CREATE OR REPLACE FUNCTION bookings_availability_appointment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    scopes text[] := '{}';
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.start_at = OLD.start_at AND NEW.busy_until = OLD.busy_until
       AND NEW.practitioner_id = OLD.practitioner_id AND NEW.room_id = OLD.room_id AND NEW.status = OLD.status THEN
        RETURN NULL;
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

DROP FUNCTION IF EXISTS bookings_appointment_scopes(bigint, bigint, timestamptz, timestamptz);
DELETE FROM bookings_availabilityscope WHERE left(scope, 5) = 'room:';
SELECT bookings_bump_availability(ARRAY['clinic']);
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0019_appointment_site"),
    ]

    operations = [migrations.RunPython(forward, backward)]
