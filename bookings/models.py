"""Appointments and their history.

The no-double-booking invariant is held by PostgreSQL exclusion constraints (see migration 0002): no two
live appointments of one practitioner, or in one room, may overlap over [start_at, busy_until), where
busy_until includes the treatment's buffer. Cancelled and no-show appointments do not block; one awaiting its
deposit does.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor
from django.utils import timezone

from clinic import medicine_advice
from clinic.models import LONGEST_APPOINTMENT, Patient, Practitioner, Room, Site, Treatment, default_travel_time


class SiteOfRoomDescriptor(ForwardManyToOneDescriptor):
    """`appointment.site` without a query when the room came with its site (`select_related("room__site")`):
    it is the same row, the database holds it (migration 0019)."""

    def __get__(self, instance, cls=None):
        if instance is not None and not self.is_cached(instance):
            room_field = type(instance)._meta.get_field("room")
            room = room_field.get_cached_value(instance, default=None) if room_field.is_cached(instance) else None
            if room is not None and room.site_id == instance.site_id and room._meta.get_field("site").is_cached(room):
                self.field.set_cached_value(instance, room.site)
        return super().__get__(instance, cls)


class SiteOfRoomField(models.ForeignKey):
    """A foreign key to the appointment's site that reads its room's site when that is loaded already."""

    forward_related_accessor_class = SiteOfRoomDescriptor

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.ForeignKey", args, kwargs


class AppointmentQuerySet(models.QuerySet):
    def live(self):
        return self.filter(status__in=Appointment.LIVE_STATUSES)

    def upcoming(self, now=None):
        """Starting after now: the one rule for 'upcoming' (`clinic.clock.is_upcoming` says why `>`)."""
        return self.filter(start_at__gt=now or timezone.now())

    def not_cancelled(self):
        """Appointments that relate a patient and a practitioner (past, future, no-shows): `clinic.access`
        reads this through `practitioner.appointments` to say who a practitioner's patients are."""
        return self.exclude(status=Appointment.Status.CANCELLED)

    def overlapping(self, start_at, end_at):
        return self.filter(start_at__lt=end_at, busy_until__gt=start_at)


class Appointment(models.Model):
    class Status(models.TextChoices):
        AWAITING_DEPOSIT = "awaiting_deposit", "Awaiting deposit"
        BOOKED = "booked", "Booked"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    class Source(models.TextChoices):
        ONLINE = "online", "Online"
        API = "api", "API"
        PHONE = "phone", "Phone"
        FRONT_DESK = "front_desk", "Front desk"

    # An appointment awaiting its deposit holds its time like any booking (payments releases it if unpaid).
    LIVE_STATUSES = (Status.AWAITING_DEPOSIT, Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="appointments")
    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="appointments")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="appointments")
    site = SiteOfRoomField(
        Site,
        on_delete=models.PROTECT,
        related_name="appointments",
        help_text="Its room's site, always (a (room, site) foreign key in the database, migration 0019).",
    )
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    busy_until = models.DateTimeField(
        help_text="End plus the treatment's buffer: practitioner and room are busy until then."
    )
    travel_until = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="busy_until plus the travel time (CLINIC_TRAVEL_MINUTES) when it was saved: the practitioner "
        "is at no other site before then. Empty (rows written in bulk): busy_until.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.ONLINE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=300, blank=True)
    confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the patient confirmed they are coming (a reply C or a link)."
    )
    # The clinic's real day: when the patient arrived and when the session really ended (check-out). The
    # aftercare, the 3-day check-in and the next-session message are timed from `completed_at`.
    checked_in_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["start_at"]
        indexes = [
            models.Index(fields=["practitioner", "start_at"]),
            models.Index(fields=["room", "start_at"]),
            models.Index(fields=["patient", "start_at"]),
            # The desk's calendars: everything (any status) starting in a window.
            models.Index(fields=["start_at"], name="appointment_start"),
            # Availability reads only live rows (a clinic keeps many cancelled ones): these partial, covering
            # indexes answer it from the index alone.
            models.Index(
                fields=["practitioner", "start_at"],
                include=["busy_until", "room"],
                condition=Q(status__in=("awaiting_deposit", "booked", "checked_in", "completed")),
                name="appointment_live_practitioner",
            ),
            models.Index(
                fields=["room", "start_at"],
                include=["busy_until", "practitioner"],
                condition=Q(status__in=("awaiting_deposit", "booked", "checked_in", "completed")),
                name="appointment_live_room",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end_at__gt=F("start_at")), name="appointment_end_after_start"),
            models.CheckConstraint(condition=Q(busy_until__gte=F("end_at")), name="appointment_busy_covers_end"),
            # What the reads by start rely on (clinic.models.LONGEST_APPOINTMENT), whoever writes the row.
            models.CheckConstraint(
                condition=Q(busy_until__lte=F("start_at") + LONGEST_APPOINTMENT),
                name="appointment_lasts_at_most_a_day",
                violation_error_message="An appointment, with the buffer after it, lasts at most 24 hours.",
            ),
        ]

    def __str__(self):
        return f"{self.treatment} with {self.practitioner} for {self.patient} at {self.start_at:%Y-%m-%d %H:%M} UTC"

    def save(self, *args, **kwargs):
        """The site is the room's, and the travel time is kept after `busy_until`, whoever saves (the booking
        service, the admin, the tests' factories); the database refuses anything else (migration 0019)."""
        update_fields = kwargs.get("update_fields")
        room_known = Appointment.room.is_cached(self)  # no query for it: a room set or selected with the row
        room_changes = update_fields is None or "room" in update_fields
        if self.room_id is not None and (self.site_id is None or room_known) and room_changes:
            self.site_id = self.room.site_id
            if update_fields is not None:
                kwargs["update_fields"] = update_fields = {*update_fields, "site"}
        if self.busy_until is not None:
            self.travel_until = self.busy_until + default_travel_time()
            if update_fields is not None and "busy_until" in update_fields:
                kwargs["update_fields"] = {*update_fields, "travel_until"}
        super().save(*args, **kwargs)

    @property
    def is_live(self):
        return self.status in self.LIVE_STATUSES


class AppointmentEvent(models.Model):
    """What happened to an appointment, by whom, when and why: booked, moved, cancelled, checked in..."""

    class Action(models.TextChoices):
        BOOKED = "booked", "Booked"
        RESCHEDULED = "rescheduled", "Rescheduled"
        CANCELLED = "cancelled", "Cancelled"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        NO_SHOW = "no_show", "Marked no-show"
        CONFIRMED = "confirmed", "Confirmed by the patient"
        CHECK_IN_UNDONE = "check_in_undone", "Check-in undone"
        COMPLETION_UNDONE = "completion_undone", "Completion undone"
        DEPOSIT_PAID = "deposit_paid", "Deposit paid: confirmed"

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20, choices=Action.choices)
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    old_start_at = models.DateTimeField(null=True, blank=True)
    new_start_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.get_action_display()} at {self.at:%Y-%m-%d %H:%M}"


# --- Reminders: the outbox Celery drains (rules in bookings/reminders/timing.py) --------------------


class ReminderKind(models.TextChoices):
    CONFIRMATION = "confirmation", "Booking confirmation"
    PRE_CARE = "pre_care", "Pre-care (7 days before)"
    PRE_CARE_48H = "pre_care_48h", "Pre-care (48 hours before)"
    REMINDER_24H = "reminder_24h", "Appointment reminder (24 hours before)"
    AFTERCARE = "aftercare", "Aftercare"
    CHECK_IN = "check_in", "How is your skin? (3 days after)"
    NEXT_SESSION = "next_session", "Book your next session"
    MOVED = "moved", "Appointment moved"
    CANCELLED = "cancelled", "Cancellation confirmed"


class ReminderChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"


class ReminderQuerySet(models.QuerySet):
    def unsent(self):
        return self.filter(status__in=Reminder.UNSENT_STATUSES)


class Reminder(models.Model):
    """One message to one patient on one channel, due at a time: a row of the outbox.

    pending -> queued (claimed by the dispatcher, with a lease) -> sending (the attempt recorded and committed
    before the hand-over to the email or SMS backend) -> sent. A failed send goes back to pending with a later
    `next_attempt_at`, or to failed after the last attempt. A queued row whose lease ran out (task lost with
    Redis) is claimed again; a `sending` row whose lease ran out was interrupted during its hand-over, and is
    resolved from evidence (bookings/reminders/services.py): sent, sent again, or `uncertain` for the desk.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Being handed over"
        SENT = "sent", "Sent"
        UNCERTAIN = "uncertain", "Delivery uncertain"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    UNSENT_STATUSES = (Status.PENDING, Status.QUEUED, Status.SENDING)

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    channel = models.CharField(max_length=10, choices=ReminderChannel.choices, default=ReminderChannel.EMAIL)
    due_at = models.DateTimeField(help_text="When the timeline says it should go out (UTC).")
    next_attempt_at = models.DateTimeField(
        help_text="The dispatcher may claim the row from then: the due time, a retry's backoff, or a lease's end."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="Send attempts that finished (sent or an error).")
    claims = models.PositiveIntegerField(default=0, help_text="Times the dispatcher queued it.")
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    # The hand-over in progress, committed before the message goes to the backend: when it started and the
    # SHA-256 of what was handed over (to recognise it at the provider after a crash).
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    attempt_digest = models.CharField(max_length=64, blank=True)
    # What the SMS provider says: its message id and the last status its callbacks or a lookup reported.
    provider_ref = models.CharField(max_length=64, blank=True, db_index=True)
    provider_status = models.CharField(max_length=20, blank=True)
    provider_status_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ReminderQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "kind", "channel"], name="reminder_once_per_kind_channel"),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="reminder_sent_has_sent_at"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="reminder_claimable")]

    def __str__(self):
        return f"{self.get_kind_display()} by {self.channel} for appointment {self.appointment_id} ({self.status})"


class TreatmentReminder(models.Model):
    """A treatment's version of one step of the timeline: on or off, when, and extra words.

    Rows are seeded from the defaults in `bookings.reminders.timing` for every treatment; a missing row
    means the default.
    """

    treatment = models.ForeignKey(Treatment, on_delete=models.CASCADE, related_name="reminder_settings")
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    enabled = models.BooleanField(default=True)
    offset_hours = models.IntegerField(
        null=True,
        blank=True,
        help_text="Hours before the start (pre-care, reminder) or after the end (aftercare, check-in, next "
        "session). Empty: the default. Ignored for the confirmation, which goes at booking.",
    )
    subject = models.CharField(max_length=150, blank=True, help_text="Empty: the default subject.")
    extra_text = models.TextField(blank=True, help_text="Added to the message, after the standard text.")

    class Meta:
        ordering = ["treatment", "kind"]
        constraints = [models.UniqueConstraint(fields=["treatment", "kind"], name="treatment_reminder_once")]

    def __str__(self):
        return f"{self.treatment}: {self.get_kind_display()}"

    def clean(self):
        # Sent to every patient booked for the treatment: never advice to stop a blood thinner.
        medicine_advice.check_patient_texts(self, ["subject", "extra_text"])


class AftercareCheckIn(models.Model):
    """A patient's answer to 'how is your skin?' a few days after a session. Concerning answers are flagged
    for the practitioner and the front desk until someone follows them up."""

    class Answer(models.TextChoices):
        FINE = "fine", "Fine, healing well"
        REDNESS = "redness", "Still some redness"
        SWELLING = "swelling", "Still some swelling"
        BRUISING = "bruising", "Some bruising"
        INFECTION = "infection", "Signs of infection: spreading redness, heat, pus or fever"
        OTHER = "other", "Something else"

    CONCERNING_ANSWERS = (Answer.INFECTION, Answer.OTHER)

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="check_ins")
    answer = models.CharField(max_length=20, choices=Answer.choices)
    details = models.TextField(blank=True)
    needs_attention = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    followed_up_at = models.DateTimeField(null=True, blank=True)
    followed_up_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "aftercare check-in"

    def __str__(self):
        return f"{self.get_answer_display()} ({self.appointment})"


# --- Waitlist: patients asking for an earlier time (rules in bookings/waitlist.py) -------------------


class WaitlistEntry(models.Model):
    """A patient asking for an earlier time for a treatment, with one practitioner or any (practitioner
    empty), within an optional range of days. Served first come, first served (by `created_at`)."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        FULFILLED = "fulfilled", "Booked from the waitlist"
        LEFT = "left", "Left the waitlist"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="waitlist_entries")
    treatment = models.ForeignKey(Treatment, on_delete=models.CASCADE, related_name="waitlist_entries")
    practitioner = models.ForeignKey(
        Practitioner,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="waitlist_entries",
        help_text="Empty: any practitioner who offers the treatment.",
    )
    earliest_day = models.DateField(null=True, blank=True, help_text="Clinic-local day; empty: from now.")
    latest_day = models.DateField(null=True, blank=True, help_text="Clinic-local day, inclusive; empty: any.")
    before_day = models.DateField(
        null=True, blank=True, help_text="Only times before this clinic-local day (e.g. an existing booking)."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", help_text="When fulfilled."
    )

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "waitlist entries"
        indexes = [models.Index(fields=["treatment", "status", "created_at"], name="waitlist_fifo")]
        constraints = [
            # One waiting entry per patient, treatment and practitioner (or 'any'): two constraints, because
            # NULLs are distinct in a unique index.
            models.UniqueConstraint(
                fields=["patient", "treatment", "practitioner"],
                condition=Q(status="waiting", practitioner__isnull=False),
                name="waitlist_once_per_practitioner",
            ),
            models.UniqueConstraint(
                fields=["patient", "treatment"],
                condition=Q(status="waiting", practitioner__isnull=True),
                name="waitlist_once_for_any_practitioner",
            ),
        ]

    def __str__(self):
        return f"{self.patient} waiting for {self.treatment} with {self.practitioner or 'any practitioner'}"


class WaitlistOffer(models.Model):
    """A freed time offered to one waiting entry. One row per entry and slot: a retried task finds it and
    sends nothing twice. `sent_at` is set in the transaction that hands the message over."""

    class Status(models.TextChoices):
        OFFERED = "offered", "Offered"
        ACCEPTED = "accepted", "Accepted"
        TAKEN = "taken", "Taken by someone else"
        EXPIRED = "expired", "Expired"

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="+")
    start_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFERED)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sms_sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    call_needed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Nothing could be sent (no email address, no texts): the desk was asked to phone the patient.",
    )

    class Meta:
        ordering = ["start_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "practitioner", "start_at"], name="waitlist_offer_once_per_slot")
        ]

    def __str__(self):
        return f"Offer of {self.start_at:%Y-%m-%d %H:%M} UTC to entry {self.entry_id} ({self.status})"


# --- Calendars: a practitioner's private iCal feed (bookings/calendar_feeds.py) ---------------------------


class CalendarFeed(models.Model):
    """The secret in a practitioner's private iCal feed URL. Anyone holding the URL reads the feed, so
    resetting it replaces the token: the old URL stops working at once."""

    practitioner = models.OneToOneField(Practitioner, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(help_text="When this token was made (a reset makes a new one).")

    def __str__(self):
        return f"Calendar feed of {self.practitioner}"


class AvailabilityScope(models.Model):
    """One row per part of what availability reads, whose value names its current state.

    Scopes: "clinic" (treatments, practitioners and what they offer, working hours, rooms),
    "practitioner:<id>:<UTC date>" (their time off and live appointments that day; migration 0024),
    "practitioner:<id>" (the same on all their days, what answers about several practitioners read; 0025)
    and "room:<id>:<UTC date>" (the live appointments occupying that room that day; migration 0020). The
    desk's kept day view reads two more kinds (migrations 0026 and 0028, bookings/frontdesk/day_cache.py):
    "desk:<UTC date>" (what a calendar card shows of the patient and their appointments beyond availability's
    columns, on the dates their appointments start) and "time-off:<UTC date>" (time off touching that date).
    Database triggers bump the scopes a write touches, in the writing transaction itself: whatever makes the write
    (a service, the admin, a bulk update, another process), cached answers that read it are never read again once
    the write commits; others stay. A row first written starts at the database clock's microseconds since 1970, and
    a bump sets it to that clock when it is past value + 1 (0027: values never repeat, even after a rollback), so a
    lost row never comes back at a value it had before; a value only grows, which lets a cached answer name the
    state of what it read by the sum of their values (`bookings.availability.ScopeRead`).
    """

    scope = models.CharField(max_length=80, primary_key=True)
    value = models.BigIntegerField()

    def __str__(self):
        return f"{self.scope} at {self.value}"


# --- Signed links in messages (rules in bookings/links.py) ------------------------------------------


class SignedLink(models.Model):
    """A link in a message that lets one patient do one thing without a password, until it expires.

    Only a hash of the token is stored: the database (or a backup) alone cannot be used to act as a patient.
    Links that change something are used once (`used_at`, set by a conditional update).
    """

    class Action(models.TextChoices):
        CONFIRM = "confirm", "Confirm the appointment"
        CANCEL = "cancel", "Cancel the appointment"
        RESCHEDULE = "reschedule", "Choose another time"
        HEALTH_FORM = "health_form", "Fill in the health form and sign the consent"
        CHECK_IN = "check_in", "Tell us how your skin is"

    token_hash = models.CharField(max_length=64, unique=True)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="signed_links")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, null=True, blank=True, related_name="signed_links"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set for links the desk sends on their own (not inside a reminder): who sent it, by which channel.
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=ReminderChannel.choices, blank=True)
    notice = models.ForeignKey(
        "clinic.Notice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The message that carried a link the desk sent: whether it went.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(action="health_form") | Q(appointment__isnull=False),
                name="signed_link_appointment_actions_name_one",
            ),
        ]

    def __str__(self):
        return f"{self.get_action_display()} for patient {self.patient_id} (until {self.expires_at:%Y-%m-%d %H:%M})"


# --- Texts patients send us (rules in bookings/reminders/inbound.py) -------------------------------------


class InboundMessage(models.Model):
    """A text a patient (or anyone) sent to the clinic's number, as the provider's webhook gave it: what it was
    taken to mean, and for the desk's inbox whether someone must act and who did."""

    class Intent(models.TextChoices):
        CONFIRM = "confirm", "Confirmed (C)"
        RESCHEDULE = "reschedule", "Wants another time (R)"
        STOP = "stop", "Stop texts (STOP)"
        START = "start", "Texts again (START)"
        OTHER = "other", "Other reply"
        UNKNOWN = "unknown", "Unknown number"

    provider_ref = models.CharField(max_length=64, unique=True, help_text="The provider's message id.")
    from_number = models.CharField(max_length=32, db_index=True, help_text="E.164")
    body = models.TextField(blank=True)
    received_at = models.DateTimeField()
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="inbound_messages"
    )
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_messages"
    )
    intent = models.CharField(max_length=12, choices=Intent.choices)
    answer = models.TextField(blank=True, help_text="What the clinic answered at once, if anything.")
    needs_desk = models.BooleanField(default=False)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(
                fields=["received_at"], condition=Q(needs_desk=True, handled_at__isnull=True), name="inbox_open"
            )
        ]

    def __str__(self):
        return f"{self.get_intent_display()} from {self.from_number} at {self.received_at:%Y-%m-%d %H:%M}"
