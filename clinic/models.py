"""The clinic itself: people (users, patients, practitioners), what it offers, where and when.

Models hold data and the invariants a single row can check (`clean`); anything that needs several rows
or a transaction lives in services.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from clinic import clock

from . import medicine_advice

MINIMUM_PATIENT_AGE = 18


class BodyArea(models.TextChoices):
    THIGHS = "thighs", "Thighs"
    BUTTOCKS = "buttocks", "Buttocks"
    ABDOMEN = "abdomen", "Abdomen"
    ARMS = "arms", "Upper arms"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


# Patients booked by phone without an address, and erased patients, get a unique address in this reserved,
# never-delivered domain (RFC 2606): the login needs one, and nothing may be mailed to it.
PLACEHOLDER_EMAIL_DOMAIN = "patients.invalid"


class User(AbstractUser):
    """Everyone who signs in. The email address is the login; roles are groups (see `clinic.roles`)."""

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["first_name", "last_name"]

    objects = UserManager()

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self):
        return self.get_full_name() or self.email

    @property
    def has_real_email(self) -> bool:
        """False for a placeholder address (PLACEHOLDER_EMAIL_DOMAIN): show 'none given', send nothing."""
        return bool(self.email) and not self.email.lower().endswith("@" + PLACEHOLDER_EMAIL_DOMAIN)

    def save(self, *args, **kwargs):
        self.email = (self.email or "").strip().lower()
        super().save(*args, **kwargs)


def age_on(born: datetime.date, day: datetime.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def validate_adult(born: datetime.date) -> None:
    today = clock.today()
    if born > today:
        raise ValidationError("The date of birth cannot be in the future.")
    if age_on(born, today) < MINIMUM_PATIENT_AGE:
        raise ValidationError(f"Treatments are only for adults: patients must be {MINIMUM_PATIENT_AGE} or over.")


class Patient(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="patient")
    phone = models.CharField(max_length=32, help_text="E.164, e.g. +447700900123 (clinic.phones).")
    date_of_birth = models.DateField(validators=[validate_adult])
    sms_opt_in = models.BooleanField("send me text messages too", default=False)
    non_essential_opt_out = models.BooleanField(
        "no non-essential messages",
        default=False,
        help_text="Confirmations and safety messages are always sent.",
    )
    texts_stopped_at = models.DateTimeField(
        "replied STOP",
        null=True,
        blank=True,
        help_text="The patient replied STOP: no non-essential texts (START undoes it). Set by the inbound webhook.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self):
        return str(self.user)

    def save(self, *args, **kwargs):
        """One spelling per number (E.164), whichever path wrote it: forms check and convert first; the demo,
        the tests and the admin's own fields meet the same rule here."""
        from .phones import to_e164

        self.phone = to_e164(self.phone) or self.phone
        super().save(*args, **kwargs)

    @property
    def email(self):
        return self.user.email

    @property
    def full_name(self):
        return self.user.get_full_name()


def valid_time_zone(name: str) -> None:
    """A site's zone is an IANA name zoneinfo knows (e.g. Europe/Madrid), never an offset: offsets do not
    follow the clock changes."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown time zone {name!r}: give an IANA name such as Europe/London.") from None
    if name not in available_timezones():
        raise ValidationError(f"Unknown time zone {name!r}: give an IANA name such as Europe/London.")


class SiteQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class Site(models.Model):
    """One address of the clinic: its rooms, its opening hours, its closures, its own wall clock.

    A clinic with one address has one site (the migration `clinic 0009` built it from the clinic's settings,
    `CLINIC_NAME`, `CLINIC["ADDRESS"]`, `CLINIC_TIME_ZONE`...); rooms, working-hours spans and closures name
    a site; treatments may be limited to some sites. Times are stored in UTC and read on the site's clock
    (`clinic.clock`, given the site). `default_site()` is the one a row joins when nothing names one."""

    name = models.CharField(max_length=120, unique=True, help_text="e.g. Harley Street")
    slug = models.SlugField(unique=True, help_text="Names the site in addresses and the API, e.g. harley-street.")
    address = models.TextField(help_text="As patients read it in messages and on calendar files.")
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    time_zone = models.CharField(
        max_length=64,
        default="Europe/London",
        validators=[valid_time_zone],
        help_text="IANA name, e.g. Europe/London or Europe/Madrid: the site's wall clock.",
    )
    bank_holidays = models.CharField(
        max_length=16,
        default="GB-ENG",
        blank=True,
        help_text="Whose public holidays close the site: a country, optionally with a region (GB-ENG, GB-SCT, "
        "ES-MD, FR); empty for none. CLINIC_CLOSED_ON_BANK_HOLIDAYS=0 turns them all off.",
    )
    active = models.BooleanField(default=True, help_text="An inactive site offers no time; its history stays.")
    display_order = models.PositiveIntegerField(default=0)
    staff = models.ManyToManyField(
        "clinic.User",
        blank=True,
        related_name="work_sites",
        help_text="Front desk staff who work here: the desk's calendars open on their own sites' "
        "(clinic.access.desk_default_sites); they may switch to any site's.",
    )

    objects = SiteQuerySet.as_manager()

    class Meta:
        ordering = ["display_order", "name", "pk"]

    def __str__(self):
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def holiday_calendar(self) -> tuple[str, str | None] | None:
        """(country, region or None) of `bank_holidays`, or None for none."""
        code = (self.bank_holidays or "").strip().upper()
        if not code:
            return None
        country, _, region = code.partition("-")
        return country, (region or None)

    def clean(self):
        # A site's name and address reach patients in every message about its appointments (`message_text.place`):
        # staff-written text, held to the medicine-advice rule like a treatment's (design notes, invariant 7).
        medicine_advice.check_patient_texts(self, ["name", "address"])
        if self.bank_holidays:
            import holidays

            country, region = self.holiday_calendar()
            try:
                holidays.country_holidays(country, subdiv=region)
            except NotImplementedError:
                raise ValidationError(
                    {"bank_holidays": f"Unknown holiday calendar {self.bank_holidays!r}: e.g. GB-ENG, ES-MD, FR."}
                ) from None


def default_site() -> Site:
    """The site a row joins when it names none (a one-site clinic never names one): the first site made.
    The migration made it from the clinic's settings; a database emptied since (a flushed test database) gets
    it made again from the same settings."""
    from django.conf import settings

    site = Site.objects.order_by("pk").first()
    if site is None:
        site, _ = Site.objects.get_or_create(
            slug=slugify(settings.CLINIC["NAME"]) or "main",
            defaults={
                "name": settings.CLINIC["NAME"],
                "address": settings.CLINIC["ADDRESS"],
                "phone": settings.CLINIC["PHONE"],
                "email": settings.CLINIC["EMAIL"],
                "time_zone": settings.CLINIC_TIME_ZONE,
            },
        )
    return site


def default_travel_time() -> datetime.timedelta:
    """The time kept free between a practitioner's appointments at two sites that have no figure of their own
    (`CLINIC_TRAVEL_MINUTES`)."""
    from django.conf import settings

    return datetime.timedelta(minutes=settings.CLINIC["TRAVEL_MINUTES"])


@dataclass(frozen=True)
class TravelTimes:
    """How long a practitioner needs between two sites: each pair's own figure (`SiteTravel`), else the
    clinic's one figure. What availability keeps free, and what the database refuses (bookings 0021)."""

    default: datetime.timedelta
    pairs: dict = field(default_factory=dict)  # (lower site id, higher site id) -> timedelta

    def between(self, site_id, other_site_id) -> datetime.timedelta:
        if site_id == other_site_id:
            return datetime.timedelta(0)
        return self.pairs.get(SiteTravel.pair(site_id, other_site_id), self.default)

    def longest(self) -> datetime.timedelta:
        """The most any pair needs: how far around a range a computation must look for other sites' rows."""
        return max([self.default, *self.pairs.values()])


class SiteTravel(models.Model):
    """The travel time between two sites, when it is not the clinic's one figure (`CLINIC_TRAVEL_MINUTES`):
    two sites in one city a short walk apart, London and Manchester a train ride. One row a pair, whichever
    order it was entered in (kept as lower site id first)."""

    from_site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", verbose_name="site")
    to_site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", verbose_name="other site")
    minutes = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(24 * 60)],
        help_text="Kept free for a practitioner between an appointment at one of these sites and one at the "
        "other, either way round.",
    )

    class Meta:
        verbose_name = "travel time between sites"
        constraints = [
            models.UniqueConstraint(fields=["from_site", "to_site"], name="site_travel_one_row_a_pair"),
            models.CheckConstraint(condition=Q(from_site__lt=F("to_site")), name="site_travel_lower_site_first"),
        ]

    def __str__(self):
        return f"{self.from_site} - {self.to_site}: {self.minutes} min"

    def save(self, *args, **kwargs):
        self.from_site_id, self.to_site_id = self.pair(self.from_site_id, self.to_site_id)
        super().save(*args, **kwargs)

    def clean(self):
        if self.from_site_id and self.to_site_id:
            if self.from_site_id == self.to_site_id:
                raise ValidationError({"to_site": "Choose two different sites."})
            self.from_site_id, self.to_site_id = self.pair(self.from_site_id, self.to_site_id)

    @staticmethod
    def pair(site_id, other_site_id) -> tuple:
        return (min(site_id, other_site_id), max(site_id, other_site_id))

    @classmethod
    def times(cls) -> TravelTimes:
        """Every pair's figure, in one query."""
        rows = cls.objects.values_list("from_site", "to_site", "minutes")
        pairs = {(a, b): datetime.timedelta(minutes=minutes) for a, b, minutes in rows}
        return TravelTimes(default_travel_time(), pairs)


class OpeningHours(models.Model):
    """When a site's doors are open on a weekday, in the site's local time (several spans a day are fine).
    What patients read on the site's page; a working-hours span at the site lies within them."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.IntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["site", "weekday", "opens"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(condition=Q(closes__gt=models.F("opens")), name="opening_hours_closes_after_opens"),
        ]

    def __str__(self):
        return f"{self.site}: {self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def clean(self):
        if self.opens is not None and self.closes is not None and self.closes <= self.opens:
            raise ValidationError({"closes": "Closing must be after opening."})


class SiteDefaultMixin:
    """A row saved without a site joins `default_site()` (one query, only then): the forms and scripts of a
    one-site clinic never name it."""

    def save(self, *args, **kwargs):
        if self.site_id is None:
            self.site = default_site()
        super().save(*args, **kwargs)


# An appointment (a treatment and the buffer after it) lasts at most this long: availability, the desk and the
# booking checks read a range's appointments by their start (`start_at >= range start - LONGEST_APPOINTMENT`,
# bookings/availability.py) so that the (practitioner|room, start) indexes do the work, and a longer one would
# be missed there (offered, then refused by the exclusion constraints). Held by the database on both rows:
# a treatment's length and buffer (below) and each appointment's busy time (bookings.Appointment).
LONGEST_APPOINTMENT = datetime.timedelta(days=1)
LONGEST_APPOINTMENT_MINUTES = int(LONGEST_APPOINTMENT.total_seconds()) // 60


class Treatment(models.Model):
    class Kind(models.TextChoices):
        CONSULTATION = "consultation", "Consultation"
        SESSION = "session", "Treatment session"

    name = models.CharField(max_length=120)
    slug = models.SlugField(unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SESSION)
    summary = models.CharField(max_length=240, blank=True)
    description = models.TextField(blank=True, help_text="What to expect.")
    duration_minutes = models.PositiveIntegerField(validators=[MinValueValidator(5)])
    buffer_after_minutes = models.PositiveIntegerField(
        default=0, help_text="Time kept free after the session to clean and prepare the room."
    )
    price = models.DecimalField(max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    body_areas = models.JSONField(default=list, blank=True, help_text='Area codes, e.g. ["thighs"].')
    min_days_between_sessions = models.PositiveIntegerField(
        default=0, help_text="A patient's sessions of this treatment are at least this many days apart."
    )
    needs_cleared_intake = models.BooleanField(
        default=True, help_text="Only bookable once a practitioner has cleared the patient's intake."
    )
    pre_care = models.TextField("before your session", blank=True)
    aftercare = models.TextField("after your session", blank=True)
    sites = models.ManyToManyField(
        Site,
        related_name="treatments",
        blank=True,
        help_text="Offered only at these sites; none chosen means every site.",
    )
    active = models.BooleanField(default=True)
    display_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["display_order", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(duration_minutes__gt=0), name="treatment_duration_positive"),
            models.CheckConstraint(condition=Q(price__gte=0), name="treatment_price_not_negative"),
            models.CheckConstraint(
                condition=Q(duration_minutes__lte=LONGEST_APPOINTMENT_MINUTES - F("buffer_after_minutes")),
                name="treatment_fits_in_a_day",
                violation_error_message="A treatment and the buffer after it last at most 24 hours (1,440 minutes).",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("treatment_detail", args=[self.slug])

    @property
    def interval_rule(self) -> str:
        """The course interval in words, the same wherever it refuses something."""
        return f"Sessions of {self.name} are at least {self.min_days_between_sessions} days apart."

    def interval_problem(self, interval_days: int) -> str:
        """Why a course plan's interval is too short for this treatment, or '' when it is not. The one check of
        a plan's interval (the form and the service ask it); bookings hold the same minimum between sessions
        (`bookings.availability.course_blocks`)."""
        if interval_days < self.min_days_between_sessions:
            return f"{self.interval_rule} Choose an interval of {self.min_days_between_sessions} days or more."
        return ""

    @property
    def is_consultation(self):
        return self.kind == self.Kind.CONSULTATION

    @property
    def duration(self) -> datetime.timedelta:
        return datetime.timedelta(minutes=self.duration_minutes)

    @property
    def buffer_after(self) -> datetime.timedelta:
        return datetime.timedelta(minutes=self.buffer_after_minutes)

    def offered_at(self, site) -> bool:
        """Whether the treatment is offered at a site: everywhere unless limited to some (`sites`). Reads
        the prefetched sites when there are (`prefetch_related("sites")`), else one query."""
        if site is None:
            return True
        site_ids = [s.pk for s in self.sites.all()]
        return not site_ids or site.pk in site_ids

    def body_area_labels(self):
        labels = dict(BodyArea.choices)
        return [labels.get(code, code) for code in self.body_areas]

    def clean(self):
        if not isinstance(self.body_areas, list):
            raise ValidationError({"body_areas": "Give a list of body areas."})
        unknown = sorted(set(self.body_areas) - set(BodyArea.values))
        if unknown:
            raise ValidationError(
                {
                    "body_areas": f"Unknown body area(s): {', '.join(map(str, unknown))}. "
                    f"Choose from {', '.join(BodyArea.values)}."
                }
            )
        if self.is_consultation and self.needs_cleared_intake:
            raise ValidationError(
                {"needs_cleared_intake": "A consultation is how a patient gets cleared: it cannot require it."}
            )
        # Every patient reads these: no prescriber advises a whole clinic's patients at once.
        medicine_advice.check_patient_texts(self, ["summary", "description", "pre_care", "aftercare"])


class Room(SiteDefaultMixin, models.Model):
    """A treatment room, at one site: it is only ever offered, and booked, at its own site."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=80)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="room_name_unique_per_site"),
            # What appointments' (room, site) foreign key points at: an appointment's site is its room's
            # (bookings migration 0019).
            models.UniqueConstraint(fields=["id", "site"], name="room_id_site"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        """A room that has held appointments stays at its site: they happened there (the database refuses it
        too). Moving a room means a new room at the new site."""
        if self.pk is None or self.site_id is None:
            return
        moved = Room.objects.filter(pk=self.pk).exclude(site_id=self.site_id).exists()
        # `appointments` is the bookings app's reverse relation: read here, never imported.
        if moved and self.appointments.exists():
            raise ValidationError(
                {"site": "This room has appointments at its site: add a new room at the other site instead."}
            )


class Practitioner(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="practitioner")
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=120, help_text="e.g. Aesthetic nurse practitioner")
    bio = models.TextField(blank=True)
    qualifications = models.TextField(blank=True)
    registration_number = models.CharField(max_length=40, blank=True, help_text="e.g. NMC PIN or GMC number")
    photo = models.ImageField(upload_to="practitioners/", blank=True)
    treatments = models.ManyToManyField(Treatment, related_name="practitioners", blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self):
        return self.user.get_full_name() or self.user.email

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = slugify(f"{self.user.first_name} {self.user.last_name}") or f"practitioner-{self.user_id}"
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("practitioner_detail", args=[self.slug])

    def clean(self):
        # The public profile: every visitor and patient reads it.
        medicine_advice.check_patient_texts(self, ["title", "bio", "qualifications"])

    @property
    def name(self):
        return str(self)

    @property
    def photo_url(self):
        return self.photo.url if self.photo else static("clinic/practitioner.svg")


class WorkingHours(SiteDefaultMixin, models.Model):
    """A span of a weekday a practitioner works at one site, in that site's local time. Several spans a day
    are fine, at one site or several (Mondays in London, Thursdays in Madrid; mornings here, afternoons
    there): a span never overlaps another of the same practitioner, wherever it is."""

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="working_hours")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="working_hours")
    weekday = models.IntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["practitioner", "weekday", "start"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="working_hours_end_after_start"),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"

    def clean(self):
        """Overlap between spans is checked where spans are edited together: `WorkingHoursFormSet`."""
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValidationError({"end": "The end must be after the start."})


class TimeOff(models.Model):
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="time_off")
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start_at"]
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(condition=Q(end_at__gt=models.F("start_at")), name="time_off_end_after_start"),
        ]

    def __str__(self):
        return f"{self.practitioner}: {self.start_at:%Y-%m-%d %H:%M} to {self.end_at:%Y-%m-%d %H:%M}"

    def clean(self):
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ValidationError({"end_at": "The end must be after the start."})


class Closure(models.Model):
    """Days a site is closed, or every site when `site` is empty (a clinic-wide time off), besides the bank
    holidays that `clinic.closures` adds by itself. The site's local days, both inclusive."""

    site = models.ForeignKey(
        Site,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="closures",
        help_text="Empty: every site is closed.",
    )
    first_day = models.DateField()
    last_day = models.DateField(help_text="The same as the first day for a single day.")
    reason = models.CharField(max_length=120, help_text="e.g. Staff training; shown to staff and patients.")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["first_day", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(last_day__gte=models.F("first_day")), name="closure_days_in_order"),
        ]

    def __str__(self):
        if self.first_day == self.last_day:
            return f"{self.reason} ({self.first_day:%-d %b %Y})"
        return f"{self.reason} ({self.first_day:%-d %b} to {self.last_day:%-d %b %Y})"

    def closes(self, site) -> bool:
        """Whether this closure closes that site (a clinic-wide one closes every site)."""
        return self.site_id is None or site is None or self.site_id == site.pk

    def clean(self):
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValidationError({"last_day": "The last day cannot be before the first."})


class ErasureRequest(models.Model):
    """A patient asked the clinic to erase their personal data (UK GDPR Article 17). Nothing changes when
    they ask: a clinic admin completes it (`operations.erasure.complete_erasure`, which anonymises the patient and
    keeps the clinical record for the retention period) or refuses it with a reason."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        COMPLETED = "completed", "Completed: personal data anonymised"
        REFUSED = "refused", "Refused"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="erasure_requests")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField("completed or refused at", null=True, blank=True)
    closed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="completed or refused by"
    )
    refusal_reason = models.TextField(
        blank=True, help_text="Why the clinic refuses; write it before using the 'Refuse' action."
    )
    retain_until = models.DateField(
        null=True,
        blank=True,
        help_text="The clinical record is kept until then (last treatment plus the retention period), then may be "
        "destroyed.",
    )

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"], condition=Q(status="requested"), name="erasure_request_one_open_per_patient"
            ),
            models.CheckConstraint(
                condition=Q(status="requested") | Q(closed_at__isnull=False), name="erasure_request_closed_has_time"
            ),
        ]

    def __str__(self):
        return f"Erasure request {self.pk} of patient {self.patient_id} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.REQUESTED


class Notice(models.Model):
    """One message the clinic owes someone that is not about one appointment (those are `bookings.Reminder`):
    a review decided, a clearance suspended, an erasure asked for, the welcome after sign-up, the health form
    link the desk sends (by email or text). The row is written in the transaction of the change it tells
    of, so it exists exactly when that change committed; `clinic.notices` sends it right after the commit
    and, if the backend refuses, again later with the reminders' backoff, until it goes or has failed
    `REMINDER_MAX_ATTEMPTS` times. As for reminders, the attempt is recorded (`sending`) and committed before
    the hand-over, so a crash in between is resolved from evidence, not by resending blindly. No clinical
    detail in a notice: who, and where to look."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Being handed over"
        SENT = "sent", "Sent"
        UNCERTAIN = "uncertain", "Delivery uncertain"
        FAILED = "failed", "Failed"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "Text message"

    kind = models.CharField(max_length=40, help_text="What it tells of, e.g. clearance_suspended.")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    to = models.JSONField(help_text="Email addresses, or one phone number (E.164) for a text.")
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="notices", help_text="When to one."
    )
    subject = models.CharField(max_length=200)
    body = models.TextField()
    body_after_sending = models.TextField(
        blank=True, help_text="What the row keeps once the message is out (without a signed link's token)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # The hand-over in progress, committed before the message goes to the backend (see bookings.Reminder).
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    attempt_digest = models.CharField(max_length=64, blank=True)
    provider_ref = models.CharField(max_length=64, blank=True, db_index=True)
    provider_status = models.CharField(max_length=20, blank=True)
    provider_status_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notice_due")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="notice_sent_has_sent_at"
            )
        ]

    def __str__(self):
        return f"{self.subject} ({self.status})"
