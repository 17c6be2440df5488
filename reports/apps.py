from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The clinic owner's reports: reads every app below (bookings, consultations, practice, payments) and
    writes nothing. It sits in the top layer beside payments and operations and imports neither."""

    name = "reports"
    verbose_name = "Reports"
