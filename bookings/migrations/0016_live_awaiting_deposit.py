"""An appointment awaiting its deposit is live: it blocks its practitioner and room like a booking.

The exclusion constraints of 0002 and the partial indexes of 0007 are rebuilt with the new live set. The
old constraint is dropped and the new one added in this one migration's transaction, so no moment exists
in which overlaps are allowed.
"""

from django.conf import settings
from django.db import migrations, models

OLD_LIVE = "status IN ('booked', 'checked_in', 'completed')"
NEW_LIVE = "status IN ('awaiting_deposit', 'booked', 'checked_in', 'completed')"
CONSTRAINTS = {
    "appointment_practitioner_no_overlap": "practitioner_id",
    "appointment_room_no_overlap": "room_id",
}


def _rebuild(live):
    def rebuild(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name, column in CONSTRAINTS.items():
            schema_editor.execute(f"ALTER TABLE bookings_appointment DROP CONSTRAINT IF EXISTS {name}")
            schema_editor.execute(
                f"ALTER TABLE bookings_appointment ADD CONSTRAINT {name} EXCLUDE USING gist "
                f"({column} WITH =, tstzrange(start_at, busy_until, '[)') WITH &&) WHERE ({live})"
            )

    return rebuild


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0015_availability_scopes'),
        ('clinic', '0003_erasure_request'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(_rebuild(NEW_LIVE), _rebuild(OLD_LIVE)),
        migrations.RemoveIndex(
            model_name='appointment',
            name='appointment_live_practitioner',
        ),
        migrations.RemoveIndex(
            model_name='appointment',
            name='appointment_live_room',
        ),
        migrations.AlterField(
            model_name='appointment',
            name='status',
            field=models.CharField(choices=[('awaiting_deposit', 'Awaiting deposit'), ('booked', 'Booked'), ('checked_in', 'Checked in'), ('completed', 'Completed'), ('cancelled', 'Cancelled'), ('no_show', 'No-show')], default='booked', max_length=20),
        ),
        migrations.AddIndex(
            model_name='appointment',
            index=models.Index(condition=models.Q(('status__in', ('awaiting_deposit', 'booked', 'checked_in', 'completed'))), fields=['practitioner', 'start_at'], include=('busy_until', 'room'), name='appointment_live_practitioner'),
        ),
        migrations.AddIndex(
            model_name='appointment',
            index=models.Index(condition=models.Q(('status__in', ('awaiting_deposit', 'booked', 'checked_in', 'completed'))), fields=['room', 'start_at'], include=('busy_until', 'practitioner'), name='appointment_live_room'),
        ),
        migrations.AlterField(
            model_name='appointmentevent',
            name='action',
            field=models.CharField(choices=[('booked', 'Booked'), ('rescheduled', 'Rescheduled'), ('cancelled', 'Cancelled'), ('checked_in', 'Checked in'), ('completed', 'Completed'), ('no_show', 'Marked no-show'), ('confirmed', 'Confirmed by the patient'), ('check_in_undone', 'Check-in undone'), ('completion_undone', 'Completion undone'), ('deposit_paid', 'Deposit paid: confirmed')], max_length=20),
        ),
    ]
