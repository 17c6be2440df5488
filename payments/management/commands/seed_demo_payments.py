"""The demo clinic's money (run by `seed_demo`, which may not import payments: both sit in the top layer).

Deposit policies on the three session treatments and course packages for sale, as a clinic like ours sets
them; the demo patient bought a course of six thigh sessions at the desk when the course began, and the
session recorded a week ago used one (five left), so the desk's till, the patient's *My payments* and a
receipt have something to show. With no Stripe keys (`make run`) online booking still needs no deposit:
the policies only apply once Stripe is configured (docs/payments.md). Safe to run again: policies and
packages are updated in place, the purchase is made once.
"""

import datetime
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from bookings.models import Appointment
from clinic.models import Patient, Treatment, User

from ... import services
from ...models import DepositPolicy, Package, PatientPackage, Payment

DEPOSITS = {
    # slug: (kind, amount, percent)
    "consultation": (DepositPolicy.Kind.NONE, Decimal("0"), Decimal("0")),
    "microneedling-thighs": (DepositPolicy.Kind.FIXED, Decimal("50.00"), Decimal("0")),
    "microneedling-buttocks": (DepositPolicy.Kind.SHARE, Decimal("0"), Decimal("20")),
    "microneedling-abdomen": (DepositPolicy.Kind.FIXED, Decimal("40.00"), Decimal("0")),
}
PACKAGES = [
    # name, slug, sessions, price, valid days
    ("Thighs: course of 6", "microneedling-thighs", 6, Decimal("1200.00"), 365),
    ("Thighs: course of 3", "microneedling-thighs", 3, Decimal("660.00"), 180),
    ("Buttocks: course of 6", "microneedling-buttocks", 6, Decimal("1000.00"), 365),
    ("Abdomen: course of 6", "microneedling-abdomen", 6, Decimal("1000.00"), 365),
]
DEMO_PATIENT_EMAIL = "patient@clinic.example"
DESK_EMAIL = "frontdesk@clinic.example"


class Command(BaseCommand):
    help = "Load (or refresh) the demo clinic's deposit policies, packages and the demo patient's course package."

    def handle(self, *args, **options):
        with transaction.atomic():
            treatments = {t.slug: t for t in Treatment.objects.filter(slug__in=DEPOSITS)}
            for slug, (kind, amount, percent) in DEPOSITS.items():
                if slug in treatments:
                    DepositPolicy.objects.update_or_create(
                        treatment=treatments[slug], defaults={"kind": kind, "amount": amount, "percent": percent}
                    )
            for name, slug, sessions, price, days in PACKAGES:
                if slug in treatments:
                    Package.objects.update_or_create(
                        name=name,
                        defaults={
                            "treatment": treatments[slug],
                            "sessions": sessions,
                            "price": price,
                            "valid_days": days,
                        },
                    )
            bought = self.seed_course_package()
        self.stdout.write(
            f"  payments: deposit policies on {len(treatments) - 1} treatments (used once Stripe keys are set), "
            f"{len(PACKAGES)} packages for sale{bought}"
        )

    def seed_course_package(self) -> str:
        patient = Patient.objects.filter(user__email=DEMO_PATIENT_EMAIL).first()
        desk = User.objects.filter(email=DESK_EMAIL).first()
        package = Package.objects.filter(name=PACKAGES[0][0]).first()
        if (
            patient is None
            or desk is None
            or package is None
            or PatientPackage.objects.filter(patient=patient).exists()
        ):
            return ""
        bought = services.sell_package(patient=patient, package=package, method=Payment.Method.CARD_TERMINAL, by=desk)
        # Bought when the course began (its first session was recorded a week ago: seed_demo's course).
        first_session = (
            Appointment.objects.filter(
                patient=patient, treatment=package.treatment, status=Appointment.Status.COMPLETED
            )
            .order_by("start_at")
            .first()
        )
        bought_at = (first_session.start_at if first_session else timezone.now()) - datetime.timedelta(hours=1)
        PatientPackage.objects.filter(pk=bought.pk).update(
            purchased_at=bought_at, expires_at=bought_at + datetime.timedelta(days=package.valid_days)
        )
        Payment.objects.filter(patient_package=bought).update(created_at=bought_at, paid_at=bought_at)
        if first_session is not None:
            services.redeem_package_session(first_session)
        bought.refresh_from_db()
        return f"; the demo patient's course package ({bought.balance} of {bought.sessions_total} sessions left)"
