"""Loads a demo clinic. Safe to run again: it updates what it made before and creates nothing twice."""

import datetime
from decimal import Decimal

from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from bookings.models import Appointment
from clinic import clock, roles
from clinic.models import (
    BodyArea,
    Patient,
    Practitioner,
    Room,
    Site,
    SiteTravel,
    Treatment,
    User,
    WorkingHours,
    default_site,
)
from clinic.two_factor import manual_entry_key
from consultations import selectors as intake_selectors
from consultations import services as intake_services
from consultations.screening import ANSWERS_WITH_NO_FLAGS
from practice import services as practice_services
from practice.models import CoursePlan

DEMO_PASSWORD = "demo-clinic-2026"

PRE_CARE = (
    "For 7 days before: pause blood-thinning supplements such as fish oil, vitamin E and ginkgo, and "
    "painkillers such as ibuprofen or aspirin you take by choice, if your practitioner has advised it. "
    "If a doctor prescribed you a blood thinner (for example warfarin, apixaban, rivaroxaban or "
    "clopidogrel), do not stop it: speak to your prescriber first and tell us.\n\n"
    "Stop retinoid creams on the area, avoid sunbathing and tanning, and avoid alcohol for 48 hours before.\n\n"
    "Arrive 20 minutes early: we apply numbing cream."
)
# Only what the standard aftercare message (with its advice per body area) does not already say: the
# message would otherwise give the same advice twice.
AFTERCARE = "Your next session of the course can be booked four weeks from today at the earliest."
SESSION_DESCRIPTION = (
    "Collagen induction therapy: a fine-needle device makes controlled micro-channels in the skin, which "
    "prompts new collagen and firmer, smoother skin over the following weeks. A course is usually 3 to 6 "
    "sessions at least four weeks apart. Numbing cream keeps it comfortable."
)

TREATMENTS = [
    dict(
        slug="consultation",
        name="Free consultation",
        kind=Treatment.Kind.CONSULTATION,
        duration_minutes=30,
        buffer_after_minutes=0,
        price=Decimal("0"),
        body_areas=[],
        min_days_between_sessions=0,
        needs_cleared_intake=False,
        display_order=0,
        summary="Meet a practitioner, talk through your goals and medical history, and plan a course.",
        description="Every course starts here. We go through your intake form, look at the areas that "
        "concern you and agree whether microneedling suits you, and if so, a plan.",
        pre_care="",
        aftercare="",
    ),
    dict(
        slug="microneedling-thighs",
        name="Microneedling for cellulite: thighs",
        duration_minutes=60,
        buffer_after_minutes=15,
        price=Decimal("250.00"),
        body_areas=[BodyArea.THIGHS],
        display_order=1,
        summary="Collagen induction therapy for cellulite on the thighs.",
    ),
    dict(
        slug="microneedling-buttocks",
        name="Microneedling for cellulite: buttocks",
        duration_minutes=45,
        buffer_after_minutes=15,
        price=Decimal("200.00"),
        body_areas=[BodyArea.BUTTOCKS],
        display_order=2,
        summary="Collagen induction therapy for cellulite on the buttocks.",
    ),
    dict(
        slug="microneedling-abdomen",
        name="Microneedling for cellulite: abdomen",
        duration_minutes=45,
        buffer_after_minutes=15,
        price=Decimal("200.00"),
        body_areas=[BodyArea.ABDOMEN],
        display_order=3,
        summary="Collagen induction therapy for cellulite on the abdomen.",
    ),
]
SESSION_DEFAULTS = dict(
    kind=Treatment.Kind.SESSION,
    min_days_between_sessions=28,
    needs_cleared_intake=True,
    description=SESSION_DESCRIPTION,
    pre_care=PRE_CARE,
    aftercare=AFTERCARE,
)

PRACTITIONERS = [
    dict(
        email="amelia.hart@clinic.example",
        first_name="Amelia",
        last_name="Hart",
        title="Aesthetic nurse prescriber",
        registration_number="NMC 12A3456E",
        bio="Amelia has led the clinic's skin treatments for eight years and trains other nurses in "
        "collagen induction therapy.",
        qualifications="RGN, BSc (Hons) Adult Nursing\nNon-medical prescriber\n"
        "Level 7 Certificate in Aesthetic Medicine",
        hours=[(d, "09:00", "13:00") for d in range(0, 5)] + [(d, "14:00", "17:30") for d in range(0, 5)],
    ),
    dict(
        email="david.okafor@clinic.example",
        first_name="David",
        last_name="Okafor",
        title="Aesthetic doctor",
        registration_number="GMC 7654321",
        bio="David is a GP with a special interest in skin. He sees patients with more complex medical histories.",
        qualifications="MBBS, MRCGP\nDiploma in Clinical Dermatology",
        hours=[(1, "12:00", "20:00"), (3, "12:00", "20:00"), (5, "09:00", "14:00")],
    ),
    dict(
        email="sofia.marin@clinic.example",
        first_name="Sofia",
        last_name="Marin",
        title="Aesthetic practitioner",
        registration_number="NMC 98B7654C",
        bio="Sofia specialises in body treatments and loves seeing a course come together.",
        qualifications="RGN\nLevel 4 Microneedling and Skin Science",
        # Mondays and Wednesdays in London, Fridays and Saturdays in Manchester (issue 17: one practitioner,
        # two sites, on different days).
        hours=[(0, "10:00", "18:00"), (2, "10:00", "18:00"), (4, "10:00", "18:00"), (5, "09:00", "13:00")],
        manchester_days={4, 5},
    ),
]

# The second site (issue 17); the first is the one the settings made (`default_site`), at Harley Street.
MANCHESTER = dict(
    slug="manchester",
    name="Manchester",
    address="1 King Street, Manchester M2 4LQ",
    phone="0161 496 0000",
    email="manchester@clinic.example",
    time_zone="Europe/London",
    bank_holidays="GB-ENG",
    display_order=1,
)
MANCHESTER_TRAVEL_MINUTES = 180  # London to Manchester by train, door to door
MANCHESTER_ROOMS = ("Room 1 (Oak)", "Room 2 (Elm)")

STAFF = [
    dict(email="frontdesk@clinic.example", first_name="Fran", last_name="Desk", role=roles.FRONT_DESK, site="london"),
    dict(
        email="manchester.desk@clinic.example",
        first_name="Max",
        last_name="Desk",
        role=roles.FRONT_DESK,
        site="manchester",
    ),
    dict(
        email="admin@clinic.example",
        first_name="Alex",
        last_name="Admin",
        role=roles.CLINIC_ADMIN,
        is_staff=True,
        is_superuser=True,
    ),
]
DEMO_PATIENT = dict(email="patient@clinic.example", first_name="Pat", last_name="Example")
DEMO_INTAKE_ANSWERS = {
    **ANSWERS_WITH_NO_FLAGS,
    "gp_practice": "Marylebone Health Centre, London",
    "goals": "Smoother skin on my thighs.",
}


# Today and this week (`seed_week`): (first name, last name, health form, consent signed), when relative to now
# (days, minutes), practitioner (index in PRACTITIONERS), a session or a consultation, the status.
_DONE, _NO_SHOW, _IN, _BOOKED, _CANCELLED = "completed", "no_show", "checked_in", "booked", "cancelled"
DEMO_WEEK = [
    dict(patient=("Grace", "Hill", "cleared", True), days=0, minutes=-240, practitioner=0, session=True, status=_DONE),
    dict(patient=("Lena", "Park", None, False), days=0, minutes=-120, practitioner=1, session=False, status=_NO_SHOW),
    dict(patient=("Ivy", "Chen", "cleared", True), days=0, minutes=15, practitioner=0, session=True, status=_IN),
    dict(patient=("Omar", "Reed", "cleared", False), days=0, minutes=60, practitioner=2, session=True, status=_BOOKED),
    dict(patient=("Sam", "Ward", None, False), days=0, minutes=120, practitioner=1, session=False, status=_BOOKED),
    dict(
        patient=("Tom", "Ellis", "pending", False),
        days=0,
        minutes=180,
        practitioner=0,
        session=False,
        status=_CANCELLED,
        reason="Unwell; will call back to rebook.",
    ),
    dict(patient=("Lena", "Park", None, False), days=1, minutes=0, practitioner=0, session=False, status=_BOOKED),
    dict(
        patient=("Nina", "Brooks", "cleared", True), days=2, minutes=-60, practitioner=2, session=True, status=_BOOKED
    ),
    dict(
        patient=("Raj", "Patel", None, False),
        days=3,
        minutes=30,
        practitioner=1,
        session=False,
        status=_BOOKED,
        source="online",
    ),
    dict(patient=("Ella", "Stone", "cleared", True), days=4, minutes=0, practitioner=0, session=True, status=_BOOKED),
]
STATUS_EVENTS = {_DONE: "completed", _NO_SHOW: "no_show", _IN: "checked_in", _CANCELLED: "cancelled"}
DEMO_WEEK_NAMES = sorted({spec["patient"][:2] for spec in DEMO_WEEK})
DEMO_PINNED_ALERT = "Fainted at a previous needling: treat lying down, and stay while the patient sits up."


class Command(BaseCommand):
    help = "Load (or refresh) the demo clinic: treatments, rooms, practitioners with hours, demo logins."

    def handle(self, *args, **options):
        with transaction.atomic():
            roles.sync_role_permissions()
            treatments = self.seed_treatments()
            self.seed_rooms()
            self.seed_practitioners(treatments)
            self.seed_staff()
            admin_device = self.seed_admin_authenticator()
            self.seed_patient()
            self.seed_week()
            if apps.is_installed("payments"):
                # Deposit policies, packages, the demo patient's course package: payments' own command
                # (operations may not import payments; both are in the top layer).
                call_command("seed_demo_payments", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo clinic ready. Sign in at /accounts/login/ with:"))
        for email, role in [
            (DEMO_PATIENT["email"], "patient"),
            (PRACTITIONERS[0]["email"], "practitioner"),
            (STAFF[0]["email"], "front desk"),
            (STAFF[1]["email"], "desk, Manchester"),
            (STAFF[2]["email"], "clinic admin"),
        ]:
            self.stdout.write(f"  {role:<17} {email:<32} password: {DEMO_PASSWORD}")
        self.stdout.write(
            f"The clinic admin also gives a two-factor code: add the key {manual_entry_key(admin_device)} to an\n"
            f"authenticator app (time-based, 6 digits), or print the current code with `make code`."
        )

    def seed_treatments(self):
        treatments = []
        for spec in TREATMENTS:
            is_consultation = spec.get("kind") == Treatment.Kind.CONSULTATION
            values = dict(spec) if is_consultation else {**SESSION_DEFAULTS, **spec}
            treatment, _ = Treatment.objects.update_or_create(slug=values.pop("slug"), defaults=values)
            treatments.append(treatment)
        self.stdout.write(f"  treatments: {len(treatments)}")
        return treatments

    def seed_rooms(self):
        """Harley Street (the first site) has three rooms, Manchester two: room names are unique per site."""
        london = default_site()
        for name in ("Room 1 (Rose)", "Room 2 (Sage)", "Room 3 (Sand)"):
            Room.objects.get_or_create(name=name, site=london)
        manchester, _ = Site.objects.update_or_create(slug=MANCHESTER["slug"], defaults=MANCHESTER)
        for name in MANCHESTER_ROOMS:
            Room.objects.get_or_create(name=name, site=manchester)
        # A train ride apart: more than the clinic's one figure (CLINIC_TRAVEL_MINUTES) for sites in one city.
        from_site, to_site = SiteTravel.pair(london.pk, manchester.pk)
        SiteTravel.objects.update_or_create(
            from_site_id=from_site, to_site_id=to_site, defaults={"minutes": MANCHESTER_TRAVEL_MINUTES}
        )
        self.stdout.write(
            f"  sites: {london.name} (3 rooms), {manchester.name} ({len(MANCHESTER_ROOMS)} rooms),"
            f" {MANCHESTER_TRAVEL_MINUTES} minutes apart"
        )

    def seed_practitioners(self, treatments):
        group = Group.objects.get(name=roles.PRACTITIONER)
        for spec in PRACTITIONERS:
            spec = dict(spec)
            hours = spec.pop("hours")
            manchester_days = spec.pop("manchester_days", set())
            user = self.demo_user(spec.pop("email"), spec.pop("first_name"), spec.pop("last_name"))
            user.groups.add(group)
            practitioner, _ = Practitioner.objects.update_or_create(user=user, defaults=spec)
            practitioner.treatments.set(treatments)
            practitioner.working_hours.all().delete()
            # bulk_create skips the save() that would name the site: each span names it.
            london, manchester = default_site(), Site.objects.get(slug=MANCHESTER["slug"])
            WorkingHours.objects.bulk_create(
                WorkingHours(
                    practitioner=practitioner,
                    site=manchester if day in manchester_days else london,
                    weekday=day,
                    start=datetime.time.fromisoformat(start),
                    end=datetime.time.fromisoformat(end),
                )
                for day, start, end in hours
            )
        self.stdout.write(f"  practitioners: {len(PRACTITIONERS)}")

    def seed_staff(self):
        for spec in STAFF:
            user = self.demo_user(spec["email"], spec["first_name"], spec["last_name"])
            user.is_staff = spec.get("is_staff", False)
            user.is_superuser = spec.get("is_superuser", False)
            user.save()
            user.groups.add(Group.objects.get(name=spec["role"]))
            if spec.get("site"):  # the desk's calendars open on their own site's (docs/front-desk.md)
                site = default_site() if spec["site"] == "london" else Site.objects.get(slug=spec["site"])
                site.staff.add(user)

    def seed_admin_authenticator(self) -> TOTPDevice:
        """Admins must sign in with a second factor. The demo admin gets a confirmed authenticator with a
        random key, kept across runs so an app set up once keeps working; `two_factor_code` prints its code."""
        admin = User.objects.get(email=STAFF[2]["email"])
        device = TOTPDevice.objects.filter(user=admin, confirmed=True).first()
        return device or TOTPDevice.objects.create(user=admin, confirmed=True, name="Demo authenticator")

    def seed_patient(self):
        user = self.demo_user(**DEMO_PATIENT)
        patient, _ = Patient.objects.get_or_create(
            user=user, defaults={"phone": "07700 900123", "date_of_birth": datetime.date(1988, 5, 17)}
        )
        self.seed_cleared_intake(patient)
        self.seed_course(patient)
        self.seed_pinned_alert(patient)

    def seed_pinned_alert(self, patient):
        """The demo patient's banner shows a practitioner's pinned alert beside the clearance's conditions
        (docs/clinical-safety.md); the desk sees only "Alert: see practitioner". Pinned once, kept across runs."""
        if not patient.pinned_alerts.filter(unpinned_at__isnull=True).exists():
            pinned_by = User.objects.get(email=PRACTITIONERS[0]["email"])
            intake_services.pin_alert(patient, by=pinned_by, text=DEMO_PINNED_ALERT)

    def seed_cleared_intake(self, patient):
        """The demo patient has a sent health form, cleared with conditions (a structured limit the record form
        enforces, and an area not to treat: docs/clinical-safety.md) and a signed consent, so sessions are
        bookable and the conditions show on the practitioner's pages."""
        intake = intake_selectors.current_intake(patient)
        if intake is None or not intake.is_submitted:
            intake = intake_services.submit_intake(patient, DEMO_INTAKE_ANSWERS)
        if intake_selectors.current_clearance(patient) is None:
            reviewer = User.objects.get(email=PRACTITIONERS[0]["email"])
            intake_services.record_review(
                intake,
                reviewer=reviewer,
                decision="cleared_with_conditions",
                message_to_patient="We will keep to a needle depth of 1.5 mm at most, and leave your abdomen "
                "untreated until the scar from your operation there is a year old.",
                notes="Demo data: appendix scar (lower abdomen), 8 months old.",
                free_text_read=True,
                max_needle_depth_mm=Decimal("1.50"),
                excluded_areas=[BodyArea.ABDOMEN],
            )
        if intake_selectors.latest_consent(patient) is None:
            intake_services.sign_consent(patient, signed_name=patient.full_name)
        self.stdout.write("  demo patient: health form sent and cleared with conditions, consent signed")

    def seed_course(self, patient):
        """A consultation five weeks ago, a plan of six thigh sessions 28 days apart, and the first session
        (a week ago) recorded with a grade, so the workspace, progress chart and course plan have something to
        show. Made once: skipped when the demo patient already has a plan."""
        if CoursePlan.objects.filter(patient=patient).exists():
            return
        practitioner = Practitioner.objects.get(user__email=PRACTITIONERS[0]["email"])
        room = Room.objects.order_by("name").first()
        today = datetime.datetime.now(clock.zone()).date()

        def past(treatment, days_ago):
            start = datetime.datetime.combine(
                today - datetime.timedelta(days=days_ago), datetime.time(10), clock.zone()
            )
            return Appointment.objects.create(
                patient=patient,
                practitioner=practitioner,
                treatment=treatment,
                room=room,
                start_at=start,
                end_at=start + treatment.duration,
                busy_until=start + treatment.duration + treatment.buffer_after,
                status=Appointment.Status.COMPLETED,
                source=Appointment.Source.FRONT_DESK,
            )

        past(Treatment.objects.get(slug="consultation"), 35)
        thighs = Treatment.objects.get(slug="microneedling-thighs")
        practice_services.set_course_plan(
            patient, treatment=thighs, sessions=6, interval_days=28, practitioner=practitioner
        )
        CoursePlan.objects.filter(patient=patient).update(starts_on=today - datetime.timedelta(days=35))
        practice_services.record_session(
            past(thighs, 7),
            by=practitioner.user,
            details={
                "device": "Dermapen 4",
                "needle_depth_mm": Decimal("1.50"),
                "passes": 3,
                "product": "Hyaluronic acid serum",
                "reactions": "Expected redness, settled within the hour.",
                "notes": "Demo data: tolerated well with numbing cream.",
            },
            areas=[(BodyArea.THIGHS, "hexsel", 10)],
        )
        self.stdout.write("  demo patient: a course plan of 6 sessions, the first one recorded")

    def seed_week(self):
        """Today and this week, relative to the moment it runs, so the desk's calendar and *My day* show a
        real day on first sign-in: appointments in every state (completed, no-show, checked in, booked,
        cancelled) and patients with forms still to do. Times are rows written as a clinic's past would
        have left them (a completed visit hours ago cannot be booked now through the service). Run again
        the same day it adds nothing: a demo patient with an appointment that day is skipped."""
        from django.db import IntegrityError
        from django.utils import timezone

        from bookings.models import Appointment, AppointmentEvent
        from consultations import services as intake_services
        from consultations.selectors import current_intake

        zone = clock.zone()
        now = timezone.now().astimezone(zone)
        base = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
        practitioners = list(Practitioner.objects.filter(user__email__in=[p["email"] for p in PRACTITIONERS]))
        practitioners.sort(key=lambda p: [s["email"] for s in PRACTITIONERS].index(p.user.email))
        rooms_at = {}  # site id -> its rooms: an appointment is in a room of the site its practitioner works at
        for room in Room.objects.order_by("name"):
            rooms_at.setdefault(room.site_id, []).append(room)
        spans = list(WorkingHours.objects.filter(practitioner__in=practitioners))
        london = default_site()
        consultation = Treatment.objects.get(slug="consultation")
        thighs = Treatment.objects.get(slug="microneedling-thighs")
        desk = User.objects.get(email=STAFF[0]["email"])
        made = 0
        for spec in DEMO_WEEK:
            first, last, form, consent = spec["patient"]
            patient = self.demo_patient(first, last)
            if form in ("cleared", "pending") and current_intake(patient) is None:
                intake = intake_services.submit_intake(patient, DEMO_INTAKE_ANSWERS)
                if form == "cleared":
                    reviewer = practitioners[0].user
                    intake_services.record_review(
                        intake, reviewer=reviewer, decision="cleared", notes="Demo data.", free_text_read=True
                    )
            if consent and not patient.consents.exists():
                intake_services.sign_consent(patient, signed_name=patient.full_name)
            start = base + datetime.timedelta(days=spec["days"], minutes=spec["minutes"])
            start = start.astimezone(datetime.UTC)
            day_start = datetime.datetime.combine(start.astimezone(zone).date(), datetime.time(), zone)
            if Appointment.objects.filter(
                patient=patient, start_at__gte=day_start, start_at__lt=day_start + datetime.timedelta(days=1)
            ).exists():
                continue
            treatment = thighs if spec["session"] else consultation
            status = spec["status"]
            practitioner = practitioners[spec["practitioner"]]
            local = start.astimezone(zone)
            site_id = next(
                (
                    span.site_id
                    for span in spans
                    if span.practitioner_id == practitioner.pk
                    and span.weekday == local.weekday()
                    and span.start <= local.time() < span.end
                ),
                london.pk,
            )
            rooms = rooms_at.get(site_id) or rooms_at[london.pk]
            try:
                with transaction.atomic():
                    appointment = Appointment.objects.create(
                        patient=patient,
                        practitioner=practitioners[spec["practitioner"]],
                        treatment=treatment,
                        room=rooms[spec["practitioner"] % len(rooms)],
                        start_at=start,
                        end_at=start + treatment.duration,
                        busy_until=start + treatment.duration + treatment.buffer_after,
                        status=status,
                        source=spec.get("source", Appointment.Source.PHONE),
                        created_by=desk,
                        cancelled_at=timezone.now() if status == Appointment.Status.CANCELLED else None,
                        cancellation_reason=spec.get("reason", ""),
                    )
                    AppointmentEvent.objects.create(
                        appointment=appointment, action=AppointmentEvent.Action.BOOKED, by=desk, new_start_at=start
                    )
                    if status in STATUS_EVENTS:
                        AppointmentEvent.objects.create(
                            appointment=appointment,
                            action=STATUS_EVENTS[status],
                            by=desk,
                            reason=spec.get("reason", ""),
                        )
            except IntegrityError:  # a time someone booked since: the demo leaves it to them
                continue
            made += 1
        self.stdout.write(f"  today and this week: {made} appointments added")

    def demo_patient(self, first_name, last_name):
        """One of the week's demo patients (phone 07700 900201 onwards: Ofcom's numbers for drama)."""
        user = self.demo_user(f"{first_name}.{last_name}@patients.example".lower(), first_name, last_name)
        number = 201 + DEMO_WEEK_NAMES.index((first_name, last_name))
        patient, _ = Patient.objects.get_or_create(
            user=user, defaults={"phone": f"07700 900{number}", "date_of_birth": datetime.date(1985, 6, 1)}
        )
        return patient

    def demo_user(self, email, first_name, last_name):
        user, created = User.objects.get_or_create(
            email=email, defaults={"first_name": first_name, "last_name": last_name}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user
