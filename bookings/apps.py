from django.apps import AppConfig
from django.db.models.signals import post_save


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Bookings"

    def ready(self):
        from bookings.reminders.signals import seed_reminder_settings_for_new_treatment
        from clinic.models import Treatment

        post_save.connect(seed_reminder_settings_for_new_treatment, sender=Treatment, dispatch_uid="seed_reminders")
