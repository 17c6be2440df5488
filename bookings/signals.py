"""What bookings tells the apps above it (and its own waitlist), without importing them.

- `appointment_freed` (sent once the transaction that freed the time has committed; kwargs `treatment_id`,
  `practitioner_id`, `start_at`): a cancellation or the old time of a move. The waitlist offers the time
  (`bookings.tasks.queue_waitlist_offers`). Sent on commit, so nothing is offered for a change that rolled
  back; the booking service never calls the waitlist itself.
- `DESK_PATIENT_PAGE`: extra context for the front desk's patient page (kwargs `patient`, `appointments`);
  practice adds the patient's course plans.
- `DESK_APPOINTMENT_COLUMNS`: annotations for the appointments the desk's calendars and day sheet read (no
  kwargs), so they cost no extra query; practice adds `form_confirmed` (the patient confirmed their health
  form for this visit), which `bookings.selectors.paperwork_due` reads when it is there. The desk's day view
  is kept until a scope it reads is bumped (bookings/frontdesk/day_cache.py): a column read from a new table
  needs a trigger that bumps its patient's dates' "desk:<UTC date>" scopes (`bookings_desk_patient_dates`,
  as migrations 0026 and 0028 do for `form_confirmed`), and a test in tests/test_desk_day_cache.py.
"""

from django.dispatch import Signal

from clinic.extensions import PageExtension

appointment_freed = Signal()
DESK_PATIENT_PAGE = PageExtension("front desk patient page")
DESK_APPOINTMENT_COLUMNS = PageExtension("front desk appointment columns")
