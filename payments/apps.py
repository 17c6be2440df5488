from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self):
        """Payments sits above bookings: it fills in bookings' one-slot registry (does this booking wait for
        a deposit, where next, the desk's till) and listens to its signal (money follows cancellations,
        no-shows and completions). Bookings never imports payments; see bookings/hooks.py."""
        from bookings import hooks

        from .booking_steps import PaymentSteps
        from .services import on_appointment_changed

        hooks.register(PaymentSteps())
        hooks.appointment_changed.connect(on_appointment_changed, dispatch_uid="payments-follow-appointments")
