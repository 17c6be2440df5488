"""Session records, areas, photos, photo consent, course plans and intake confirmations now belong to the
practice app. State only: the tables stay as they are, with their rows (practice/migrations/0001_initial.py
takes them over under the same names)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("consultations", "0004_review_prescriber_advice")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="SessionArea"),
                migrations.DeleteModel(name="SessionPhoto"),
                migrations.DeleteModel(name="SessionRecord"),
                migrations.DeleteModel(name="PhotoConsent"),
                migrations.DeleteModel(name="CoursePlan"),
                migrations.DeleteModel(name="IntakeConfirmation"),
            ],
            database_operations=[],
        )
    ]
