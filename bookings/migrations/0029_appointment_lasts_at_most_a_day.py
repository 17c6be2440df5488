"""An appointment's busy time (start to busy_until) lasts at most a day (`clinic.models.LONGEST_APPOINTMENT`),
whoever writes the row (the booking service, the admin, a bulk load): what the reads by start rely on
(clinic 0013 says why). Adding it checks every existing row.
"""

import datetime

import django.db.models.expressions
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0028_desk_scopes_per_date"),
        ("clinic", "0013_treatment_fits_in_a_day"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "busy_until__lte",
                        django.db.models.expressions.CombinedExpression(
                            models.F("start_at"), "+", models.Value(datetime.timedelta(days=1))
                        ),
                    )
                ),
                name="appointment_lasts_at_most_a_day",
                violation_error_message="An appointment, with the buffer after it, lasts at most 24 hours.",
            ),
        ),
    ]
