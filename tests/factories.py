"""Factories for tests: real rows in the real database, with sensible defaults."""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth.models import Group

from clinic import roles
from clinic.models import Patient, Practitioner, Room, Site, TimeOff, Treatment, User, WorkingHours
from consultations.consent import CONSENT_VERSION
from consultations.screening import ANSWERS_WITH_NO_FLAGS

PASSWORD = "correct-horse-battery-staple"


def role_group(role: str) -> Group:
    """The role's group. Transactional tests flush the tables after each test, which removes the groups
    the migration made; get_or_create brings them back."""
    return Group.objects.get_or_create(name=role)[0]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(PASSWORD)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    user = factory.SubFactory(UserFactory)
    phone = "07700 900123"
    date_of_birth = datetime.date(1990, 1, 15)


class TreatmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Treatment
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Microneedling area {n}")
    slug = factory.Sequence(lambda n: f"microneedling-{n}")
    kind = Treatment.Kind.SESSION
    duration_minutes = 60
    buffer_after_minutes = 15
    price = Decimal("250.00")
    body_areas = ["thighs"]
    min_days_between_sessions = 28
    needs_cleared_intake = True
    pre_care = "Avoid alcohol for 48 hours."
    aftercare = "Moisturise; no sun for 24 hours."


class ConsultationFactory(TreatmentFactory):
    name = "Free consultation"
    slug = "consultation"
    kind = Treatment.Kind.CONSULTATION
    duration_minutes = 30
    buffer_after_minutes = 0
    price = Decimal("0")
    body_areas = []
    min_days_between_sessions = 0
    needs_cleared_intake = False


class SiteFactory(factory.django.DjangoModelFactory):
    """Another site than the default one (`clinic.models.default_site`, which rows join when they name none)."""

    class Meta:
        model = Site
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Site {n}")
    slug = factory.Sequence(lambda n: f"site-{n}")
    address = factory.Sequence(lambda n: f"{n} High Street, Manchester M1 1AA")
    time_zone = "Europe/London"


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room
        # A room is known by its name: a test that names "Room 1" and a factory that reaches "Room 1" by its
        # sequence (which depends on what ran before in the same process, e.g. under pytest-xdist) share it.
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Room {n}")


class PractitionerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practitioner
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    title = "Aesthetic nurse"
    bio = "Experienced practitioner."
    slug = factory.Sequence(lambda n: f"practitioner-{n}")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create:
            self.user.groups.add(role_group(roles.PRACTITIONER))

    @factory.post_generation
    def treatments(self, create, extracted, **kwargs):
        if create and extracted:
            self.treatments.set(extracted)


class WorkingHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkingHours

    practitioner = factory.SubFactory(PractitionerFactory)
    weekday = 0
    start = datetime.time(9, 0)
    end = datetime.time(17, 0)


class TimeOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeOff

    practitioner = factory.SubFactory(PractitionerFactory)


def staff_user(role: str, **kwargs) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(role_group(role))
    if role == roles.CLINIC_ADMIN:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user


class AppointmentFactory(factory.django.DjangoModelFactory):
    """A row written straight to the table: for set-up only. Code under test books through the service."""

    class Meta:
        model = "bookings.Appointment"

    patient = factory.SubFactory(PatientFactory)
    practitioner = factory.SubFactory(PractitionerFactory)
    treatment = factory.SubFactory(TreatmentFactory)
    room = factory.SubFactory(RoomFactory)
    start_at = factory.LazyFunction(
        lambda: (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=7)).replace(
            hour=10, minute=0, second=0, microsecond=0
        )
    )
    end_at = factory.LazyAttribute(lambda o: o.start_at + o.treatment.duration)
    busy_until = factory.LazyAttribute(lambda o: o.end_at + o.treatment.buffer_after)


# --- Health forms (consultations) -----------------------------------------------------------------
# Answers that trigger no screening rule. Tests override the one answer they are about.
INTAKE_ANSWERS_NO_FLAGS = ANSWERS_WITH_NO_FLAGS


def ensure_screening_rules():
    """The screening rules a data migration seeded. A transactional test flushes them with every table;
    this puts them back (one query when they are there)."""
    import importlib

    from django.apps import apps

    from consultations.models import ScreeningRule

    if not ScreeningRule.objects.exists():
        for seeding in ("0002_seed_screening_rules", "0007_seed_implant_screening_rules"):
            importlib.import_module(f"consultations.migrations.{seeding}").seed_rules(apps, None)


def submitted_intake(patient=None, **answers):
    """A patient's health form sent through the real service (so it is screened like any other)."""
    from consultations import services

    return services.submit_intake(patient or PatientFactory(), {**INTAKE_ANSWERS_NO_FLAGS, **answers})


def clear_patient(patient=None, *, reviewer=None, **review):
    """Send a clean health form and have a practitioner clear it: the patient may then book sessions."""
    from consultations import services

    intake = submitted_intake(patient)
    review.setdefault("decision", "cleared")
    services.record_review(intake, reviewer=reviewer or PractitionerFactory().user, **review)
    return intake.patient


class ClearedPatientFactory(PatientFactory):
    """A patient whose health form a practitioner has cleared (for booking tests of sessions)."""

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def cleared(self, create, extracted, **kwargs):
        if create:
            clear_patient(self)


# --- Session records (consultations) ----------------------------------------------------------------


def make_safe_to_record(patient):
    """What a session record needs of the patient (a clearance in force, the current consent signed), made
    when missing."""
    from consultations import selectors
    from consultations import services as intake_services

    if selectors.current_clearance(patient) is None:
        intake = selectors.current_intake(patient)
        if intake is None or not intake.is_submitted:
            intake = submitted_intake(patient)
        intake_services.record_review(
            intake, reviewer=PractitionerFactory().user, decision="cleared", free_text_read=True
        )
    if getattr(selectors.latest_consent(patient), "text_version", None) != CONSENT_VERSION:
        intake_services.sign_consent(patient, signed_name=patient.full_name)
    return patient


def record_session_for(appointment, *, areas=(("thighs", "hexsel", 10),), photo=None, safe=True, **details):
    """A practitioner's record of the session, through the service, with ordinary details; a test
    overrides the detail it is about. `safe`: first give the patient what a record needs."""
    from decimal import Decimal

    from practice import services as practice_services

    if safe:
        make_safe_to_record(appointment.patient)
    details = {
        "device": "Dermapen",
        "needle_depth_mm": Decimal("1.0"),
        "passes": 2,
        "product": "",
        "reactions": "",
        "notes": "Private clinical note",
        **details,
    }
    return practice_services.record_session(
        appointment, by=appointment.practitioner.user, details=details, areas=list(areas), photo=photo
    )


# --- Files ---------------------------------------------------------------------------------------------------


def png_bytes(size=(8, 8)) -> bytes:
    """A real (tiny) PNG: the photo checks open the image, so a fake would be refused."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 120)).save(buffer, format="PNG")
    return buffer.getvalue()


def png_upload(name="thighs.png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")
