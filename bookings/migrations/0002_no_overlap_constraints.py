"""The no-double-booking invariant, held by PostgreSQL.

Exclusion constraints (btree_gist) forbid two live appointments of one practitioner, or in one room, whose
[start_at, busy_until) ranges overlap. Cancelled and no-show appointments do not block. SQLite has no
exclusion constraints: there the booking service's check inside its transaction holds the invariant for
the single-process default (`make run`).
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

LIVE = "status IN ('booked', 'checked_in', 'completed')"
CONSTRAINTS = {
    "appointment_practitioner_no_overlap": "practitioner_id",
    "appointment_room_no_overlap": "room_id",
}


def add_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in CONSTRAINTS.items():
        schema_editor.execute(
            f"ALTER TABLE bookings_appointment ADD CONSTRAINT {name} EXCLUDE USING gist "
            f"({column} WITH =, tstzrange(start_at, busy_until, '[)') WITH &&) WHERE ({LIVE})"
        )


def drop_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE bookings_appointment DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial")]
    operations = [
        BtreeGistExtension(),
        migrations.RunPython(add_constraints, drop_constraints),
    ]
