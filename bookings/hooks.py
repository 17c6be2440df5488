"""The seams through which apps above bookings (payments) take part in a booking, without bookings importing
them.

Two kinds, chosen by what bookings needs back:

- `appointment_changed`, a signal, for "this happened": sent by the booking service INSIDE its transaction,
  after the appointment and its event are saved, so whatever a receiver writes (a deposit kept as a fee, a
  refund queued, a package session redeemed) commits or rolls back with the change itself. Receivers write
  rows only; anything that talks to the outside world (a payment provider) goes in `transaction.on_commit`.
- `BookingSteps`, a registry with ONE slot, for questions that need one answer: does this online booking wait
  for a deposit, where does the patient go next, may the patient cancel inside the window (their deposit
  then kept), what do the desk's pages show beside the appointment. A signal has no single answer; a
  registry filled in at app ready (payments/apps.py) has exactly one, and with nothing registered bookings
  behaves as it always did: no deposit, straight to the appointment page, no late cancellation online.
"""

from django.dispatch import Signal

# Sent with: appointment, action (AppointmentEvent.Action), by (user or None), old_start_at, inside_window
# (whether it happened inside the cancellation window, judged at that moment).
appointment_changed = Signal()


class BookingSteps:
    """What the booking pages ask. Subclass and `register()` it; every method has bookings' own answer."""

    def needs_deposit(self, patient, treatment, start_at) -> bool:
        """An online booking (the patient's pages or the API) of this treatment at this time is held as
        *awaiting deposit* until paid. Asked by `bookings.services.book_appointment` only, inside its
        transaction after the patient's lock, so every online path follows one rule and the answer cannot
        race another booking of the same patient (a package's last session covers one booking, not two)."""
        return False

    def deposit_due(self, appointment) -> dict:
        """For an appointment awaiting its deposit: what is asked (`amount`, `currency`, `pay_by`, `terms`),
        for the API's answer. Empty when nothing is due."""
        return {}

    def next_url(self, appointment) -> str:
        """Where the patient goes after booking online; empty: the appointment's page."""
        return ""

    def late_cancellation_terms(self, appointment) -> str:
        """Non-empty: the patient may cancel inside the window online, on these terms (shown before they do)."""
        return ""

    def booking_terms(self, appointment) -> str:
        """What the patient is told about money for this appointment (on its page and in the confirmation)."""
        return ""

    def desk_appointment_panels(self, request, appointment) -> list[str]:
        """Extra HTML panels on the desk's appointment page (already escaped, rendered by their owner)."""
        return []

    def desk_patient_panels(self, request, patient) -> list[str]:
        """Extra HTML panels on the desk's patient page."""
        return []


_steps = BookingSteps()


def register(steps: BookingSteps) -> None:
    global _steps
    _steps = steps


def steps() -> BookingSteps:
    return _steps
