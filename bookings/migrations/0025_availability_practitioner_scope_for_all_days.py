"""The practitioner's row for all their days bumped again, beside the rows per date (0024).

An answer about one practitioner reads their rows per date; an answer about several (first available: every
practitioner offering the treatment) reads each one's row for all their days, one row a practitioner, as
before 0024: read per date, a month of first available read 50 ranges of about 31 rows, and its scope read
cost twice as much (0.30 -> 0.57 to 0.62 ms of PostgreSQL CPU on the bench clinic once the rows exist,
docs/benchmarks.md, issue #16's fifth pass), for the booking page's first-available times too. So an
appointment and a time off bump "practitioner:<id>" and "practitioner:<id>:<UTC date>" for each date they
touch (`bookings.availability.answer_read` says which an answer reads). A booking already locked its
practitioner's row before 0024: no new wait. SQLite: unchanged (every write bumps "clinic").
"""

from django.db import migrations

POSTGRES_FORWARD = r"""
CREATE OR REPLACE FUNCTION bookings_appointment_scopes(
    practitioner_id bigint, room_id bigint, start_at timestamptz, busy_until timestamptz
) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['practitioner:' || practitioner_id] || coalesce(
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
    SELECT ARRAY['practitioner:' || practitioner_id]
        || coalesce(array_agg('practitioner:' || practitioner_id || ':' || to_char(day, 'YYYY-MM-DD')), '{}')
    FROM generate_series(
        (start_at AT TIME ZONE 'UTC')::date,
        ((end_at - interval '1 microsecond') AT TIME ZONE 'UTC')::date,
        interval '1 day'
    ) AS day
$$;

SELECT bookings_bump_availability(ARRAY['clinic']);
"""

POSTGRES_BACKWARD = r"""
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
        ("bookings", "0024_availability_practitioner_scopes_per_date"),
    ]

    operations = [migrations.RunPython(forward, backward)]
