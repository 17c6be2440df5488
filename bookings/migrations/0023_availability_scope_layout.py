"""The availability scope table kept dense: a fill factor, and its rows rewritten in the order of their names.

Every cached answer reads its scopes (`bookings.availability.ScopeRead`): a month of one practitioner is
about 320 "room:<id>:<UTC date>" rows, read as one index range a room. Every booking bumps a few rows. With
pages filled to the brim, a bump that finds no room left on its row's page writes the new version to another
page (and a new index entry), so the rows of one room's month end up on as many pages as rows: on the bench
clinic the table had grown to 1,410 pages (11 MB) for 7,351 rows, and a month's read visited 320 heap pages
(and a plan made once for every read could prefer to scan the whole table, bookings.availability.SCOPE_READ).
- fillfactor 70: new rows leave 30% of each page free, so a bump stays on its row's page (a HOT update: no
  index entry, the old version pruned by the next reader of the page), whatever the vacuum does;
- CLUSTER on the primary key, once: every row kept, rewritten in the order of their names, so a room's
  dates lie together (a month: about 15 heap pages instead of 320; docs/benchmarks.md, issue #16's fifth
  pass). Rows created later go where there is room, which for rows made day by day is close together.
The table is small (a row per practitioner, per room and date, and the "clinic" row): the rewrite holds its
lock for milliseconds. SQLite: nothing (no fill factor; its scope reads are few).
"""

from django.db import migrations

TABLE = "bookings_availabilityscope"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = 70)")
        schema_editor.execute(f"CLUSTER {TABLE} USING {TABLE}_pkey")
        schema_editor.execute(f"ANALYZE {TABLE}")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} RESET (fillfactor)")
        schema_editor.execute(f"ALTER TABLE {TABLE} SET WITHOUT CLUSTER")


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0022_practitioner_name_availability_trigger"),
    ]

    operations = [migrations.RunPython(forward, backward)]
