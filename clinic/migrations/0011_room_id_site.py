"""(id, site) of a room is unique (it is, since id is): the key that appointments' (room, site) foreign key
points at, so an appointment is always recorded at its room's site (bookings 0019)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0010_site_staff"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="room",
            constraint=models.UniqueConstraint(fields=("id", "site"), name="room_id_site"),
        ),
    ]
