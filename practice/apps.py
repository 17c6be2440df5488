from django.apps import AppConfig


class PracticeConfig(AppConfig):
    """The practitioner's workspace and clinical records of sessions (above bookings: docs/architecture.md)."""

    name = "practice"
    verbose_name = "Practice"

    def ready(self):
        """Add the course plans to the front desk's patient page and the health form's confirmation to the
        desk's calendars (hooks bookings offers)."""
        from bookings.signals import DESK_APPOINTMENT_COLUMNS, DESK_PATIENT_PAGE

        from . import selectors

        DESK_PATIENT_PAGE.connect(selectors.desk_patient_courses, dispatch_uid="practice-desk-courses")
        DESK_APPOINTMENT_COLUMNS.connect(selectors.desk_form_confirmed, dispatch_uid="practice-desk-confirmed")
