"""A treatment and the buffer after it last at most a day (`clinic.models.LONGEST_APPOINTMENT`).

Availability, the desk and the booking checks read a range's appointments by their start, from a day before
the range, so that the (practitioner|room, start) indexes do the work: an appointment longer than that would
be missed by them, its time offered and then refused by the exclusion constraints. Nothing held it before:
the admin took a treatment of any length. bookings 0029 holds it on each appointment too.
"""

import django.db.models.expressions
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("clinic", "0012_site_travel")]

    operations = [
        migrations.AddConstraint(
            model_name="treatment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "duration_minutes__lte",
                        django.db.models.expressions.CombinedExpression(
                            models.Value(1440), "-", models.F("buffer_after_minutes")
                        ),
                    )
                ),
                name="treatment_fits_in_a_day",
                violation_error_message="A treatment and the buffer after it last at most 24 hours (1,440 minutes).",
            ),
        ),
    ]
