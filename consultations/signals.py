"""What consultations tells the apps above it, without importing them.

- `clearance_suspended` (sent inside the transaction that suspends it; kwargs `intake`): a re-sent health form
  with a new serious answer suspended the patient's clearance. Bookings knows who the patient is booked with
  and tells those practitioners (`bookings.notices`).
- `REVIEW_QUEUE_PAGE`: extra context for the review queue (kwargs `user`); bookings adds the practitioner's
  upcoming sessions whose patient is not cleared.
"""

from django.dispatch import Signal

from clinic.extensions import PageExtension

clearance_suspended = Signal()
REVIEW_QUEUE_PAGE = PageExtension("review queue")
