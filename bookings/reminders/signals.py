def seed_reminder_settings_for_new_treatment(sender, instance, created, raw=False, **kwargs):
    """A new treatment starts with the default timeline, ready to edit in its admin page."""
    if created and not raw:
        from bookings.reminders.timing import seed_treatment_reminders

        seed_treatment_reminders(instance)
