"""Availability scopes per practitioner and UTC date, instead of one row a practitioner for all their days.

0020 had an appointment (and 0015 a time off) bump "practitioner:<id>": every answer about that practitioner,
whatever its days, was made stale by each of their bookings, and every first-available answer by every
booking of anyone. Now they bump "practitioner:<id>:<UTC date>" for each date the appointment's
[start_at, busy_until) (the time off's [start_at, end_at)) touches, old and new values, like the rooms' rows.
An answer reads its practitioners' dates from its earliest time less the longest travel time between two
sites to its latest plus the longest buffer and travel time (`bookings.availability._practitioner_dates`):
what it can meet of their appointments (an overlap, or one at another site nearer than the travel time)
and time off. In the busy clinic of bench/throughput.py a booking made 57 of its 204 answers stale, 8 of
them the practitioner's other weeks and first available's (docs/benchmarks.md, issue #16's fifth pass).
The old "practitioner:<id>" rows are left (nothing reads them). Rows are still bumped in name order.
SQLite: unchanged (every write bumps "clinic").
"""

from django.db import migrations

POSTGRES_FORWARD = r"""
CREATE OR REPLACE FUNCTION bookings_appointment_scopes(
    practitioner_id bigint, room_id bigint, start_at timestamptz, busy_until timestamptz
) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(
        array_agg('practitioner:' || practitioner_id || ':' || to_char(day, 'YYYY-MM-DD'))
        || array_agg('room:' || room_id || ':' || to_char(day, 'YYYY-MM-DD')),
        '{}'
    )
    FROM generate_series(
        (start_at AT TIME ZONE 'UTC')::date,
        ((busy_until - interval '1 microsecond') AT TIME ZONE 'UTC')::date,
        interval '1 day'
    ) AS day
$$;

CREATE OR REPLACE FUNCTION bookings_time_off_scopes(practitioner_id bigint, start_at timestamptz, end_at timestamptz)
RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg('practitioner:' || practitioner_id || ':' || to_char(day, 'YYYY-MM-DD')), '{}')
    FROM generate_series(
        (start_at AT TIME ZONE 'UTC')::date,
        ((end_at - interval '1 microsecond') AT TIME ZONE 'UTC')::date,
        interval '1 day'
    ) AS day
$$;

CREATE OR REPLACE FUNCTION bookings_availability_time_off() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    scopes text[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        scopes := scopes || bookings_time_off_scopes(OLD.practitioner_id, OLD.start_at, OLD.end_at);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        scopes := scopes || bookings_time_off_scopes(NEW.practitioner_id, NEW.start_at, NEW.end_at);
    END IF;
    PERFORM bookings_bump_availability(scopes);
    RETURN NULL;
END $$;

SELECT bookings_bump_availability(ARRAY['clinic']);
"""

POSTGRES_BACKWARD = r"""
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

DROP FUNCTION IF EXISTS bookings_time_off_scopes(bigint, timestamptz, timestamptz);
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
        ("bookings", "0023_availability_scope_layout"),
    ]

    operations = [migrations.RunPython(forward, backward)]
