"""An appointment is recorded at a site: its room's, held by the database.

- `site` is filled from each appointment's room (every room is at a site since clinic 0009), then required;
  `travel_until` from the travel time;
- a foreign key (room_id, site_id) -> clinic_room (id, site_id) (PostgreSQL): a room at site A can never
  hold an appointment recorded at site B, whoever writes the row, and a room that has held appointments
  cannot move to another site;
- `travel_until` = busy_until + the travel time (`CLINIC_TRAVEL_MINUTES`, set by `Appointment.save`), and
  an exclusion constraint: two live appointments of one practitioner at two different sites keep the travel
  time between them, [start_at, travel_until) never overlap (rows written in bulk without it: busy_until).
  With the practitioner's no-overlap constraint (0002, 0016), a practitioner is never in two places at once.
SQLite has no such constraints: the booking service's check in its transaction holds them there.
"""

import datetime

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery

LIVE = "status IN ('awaiting_deposit', 'booked', 'checked_in', 'completed')"


def fill_sites(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # Check the new foreign key row by row now, not at commit: the ALTER TABLEs below refuse to run while
        # deferred checks are pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    Appointment = apps.get_model("bookings", "Appointment")
    Room = apps.get_model("clinic", "Room")
    Appointment.objects.filter(site__isnull=True).update(
        site=Subquery(Room.objects.filter(pk=OuterRef("room_id")).values("site_id")[:1])
    )
    # Every appointment was at the one site until now: the travel time cannot be in the way of any.
    travel = datetime.timedelta(minutes=settings.CLINIC["TRAVEL_MINUTES"])
    Appointment.objects.filter(travel_until__isnull=True).update(travel_until=F("busy_until") + travel)


def add_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run(
        "ALTER TABLE bookings_appointment ADD CONSTRAINT appointment_room_at_its_site "
        "FOREIGN KEY (room_id, site_id) REFERENCES clinic_room (id, site_id)"
    )
    run(
        "ALTER TABLE bookings_appointment ADD CONSTRAINT appointment_practitioner_travel EXCLUDE USING gist "
        "(practitioner_id WITH =, site_id WITH <>, "
        "tstzrange(start_at, coalesce(travel_until, busy_until), '[)') WITH &&) "
        f"WHERE ({LIVE})"
    )


def drop_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in ("appointment_practitioner_travel", "appointment_room_at_its_site"):
        schema_editor.execute(f"ALTER TABLE bookings_appointment DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0018_site_availability_triggers"),
        ("clinic", "0011_room_id_site"),
    ]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="site",
            field=models.ForeignKey(
                null=True,
                help_text="Its room's site, always (a (room, site) foreign key in the database, migration 0019).",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="appointments",
                to="clinic.site",
            ),
        ),
        migrations.AddField(
            model_name="appointment",
            name="travel_until",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                help_text="busy_until plus the travel time (CLINIC_TRAVEL_MINUTES) when it was saved: the "
                "practitioner is at no other site before then. Empty (rows written in bulk): busy_until.",
                null=True,
            ),
        ),
        migrations.RunPython(fill_sites, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="appointment",
            name="site",
            field=models.ForeignKey(
                help_text="Its room's site, always (a (room, site) foreign key in the database, migration 0019).",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="appointments",
                to="clinic.site",
            ),
        ),
        migrations.RunPython(add_constraints, drop_constraints),
    ]
