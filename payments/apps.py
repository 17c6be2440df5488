from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self):
        """Payments sits above bookings: it fills in bookings' one-slot registry (does this booking wait for
        a deposit, where next, the desk's till) and listens to its signal (money follows cancellations,
        no-shows and completions). Bookings never imports payments; see bookings/hooks.py."""
        from bookings import hooks
        from clinic.extensions import PATIENT_DATA

        from .booking_steps import PaymentSteps
        from .selectors import patient_data_section
        from .services import on_appointment_changed

        hooks.register(PaymentSteps())
        hooks.appointment_changed.connect(on_appointment_changed, dispatch_uid="payments-follow-appointments")
        # The patient's copy of their data holds their payments too (operations may not import payments).
        PATIENT_DATA.connect(patient_data_section, dispatch_uid="payments-patient-data")
