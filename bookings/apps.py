from django.apps import AppConfig
from django.db.models.signals import post_save


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Bookings"

    def ready(self):
        """Connect bookings to the signals and page hooks of the apps below it, and its own waitlist to
        `appointment_freed` (see bookings/signals.py)."""
        from bookings import notices, selectors, signals, tasks
        from bookings.reminders.signals import seed_reminder_settings_for_new_treatment
        from clinic.models import Treatment
        from consultations.signals import REVIEW_QUEUE_PAGE, clearance_suspended

        post_save.connect(seed_reminder_settings_for_new_treatment, sender=Treatment, dispatch_uid="seed_reminders")
        signals.appointment_freed.connect(tasks.queue_waitlist_offers, dispatch_uid="waitlist-offers")
        clearance_suspended.connect(notices.tell_practitioners_clearance_suspended, dispatch_uid="clearance-notice")
        REVIEW_QUEUE_PAGE.connect(selectors.review_queue_attention, dispatch_uid="review-queue-attention")
