"""A scope's value never repeats, even after a rollback: bumped to the database clock's microseconds when
they are past value + 1.

Values only grow within committed history, but a rolled-back transaction takes its bumps back with it. With
"+ 1" alone, the next write bumped the same rows to the same values again, so an answer cached inside the
rolled-back transaction (it saw its own booking) was filed under exactly the name of the state after the
next, different, booking, and was served for it: that booking's time was offered (tests/
test_availability_cache.py, "rolled back"). The database clock moves on between the two, so the values do
not meet again; "+ 1" stays for bumps within one microsecond. The same function serves the desk's kept day
view (bookings/frontdesk/day_cache.py). SQLite: nothing (no triggers; every write bumps "clinic" there).
"""

from django.db import migrations

NOW_MICROS = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"


def bump_function(new_value: str) -> str:
    """bookings_bump_availability (0015) with `new_value` as what a bump sets an existing row to."""
    return rf"""
CREATE OR REPLACE FUNCTION bookings_bump_availability(scopes text[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO bookings_availabilityscope (scope, value)
    SELECT scope, {NOW_MICROS}
    FROM (SELECT DISTINCT unnest(scopes) AS scope) AS wanted
    ORDER BY scope
    ON CONFLICT (scope) DO UPDATE SET value = {new_value}
$$;
"""


POSTGRES_FORWARD = bump_function("greatest(bookings_availabilityscope.value + 1, EXCLUDED.value)")
POSTGRES_BACKWARD = bump_function("bookings_availabilityscope.value + 1")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("bookings", "0026_desk_scopes")]

    operations = [migrations.RunPython(forward, backward)]
