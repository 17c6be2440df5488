"""Hostile input: every form and write endpoint gets random and hostile values (very long strings, unicode,
NUL, HTML and script, SQL-like strings, impossible dates and numbers) from hypothesis.

For each example, as the user the view is for:
- the answer is never a server error (the test client re-raises any exception a view lets escape);
- a refused submission (4xx, an error message, a form with errors) writes nothing: the rows of the domain
  tables are the same before and after; a GET form writes nothing at all;
- any echoed value is escaped: no raw `<script>` or attribute-breaking payload in the page, nor in the
  page a successful post redirects to (where the success message repeats the input).

`FORM_VIEWS` is the table of what is covered; `NO_FORM_VIEWS` lists every other URL of the project with
why it takes no input. `test_every_url_is_in_one_table` walks the URL resolver, so a new view fails until
it is put in one of them. Examples per view come from the hypothesis profile (tests/conftest.py): `ci` by
default (few, derandomized), `HYPOTHESIS_PROFILE=thorough` for many random ones.
"""

import copy
import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth.tokens import default_token_generator
from django.contrib.messages import ERROR, SUCCESS, WARNING, get_messages
from django.db import connection, transaction
from django.forms import BaseForm, BaseFormSet
from django.test.utils import ContextList, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings import availability, links
from bookings.models import Appointment, SignedLink, WaitlistEntry, WaitlistOffer
from clinic import roles
from clinic.models import User
from payments import services as payment_services
from payments.models import Package, Payment
from tests.factories import (
    AppointmentFactory,
    ClearedPatientFactory,
    ConsultationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    ensure_screening_rules,
    staff_user,
    submitted_intake,
)
from tests.helpers import WriteWatch, rows_written

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# --- hostile values ----------------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
# What must never reach a page unescaped. Each is a piece of a payload below.
NEEDLES = [b"<script>alert(", b"<img src=x onerror=", b'" onmouseover="alert(', b"' onmouseover='alert("]

CLASSIC = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x00<script>",
    SCRIPT,
    f'"><{SCRIPT[1:]}',
    "'><img src=x onerror=alert(1)>",
    '" onmouseover="alert(1)',
    "' onmouseover='alert(1)",
    "javascript:alert(1)",
    "{{ 7|add:7 }}{% debug %}",
    "'; DROP TABLE clinic_user; --",
    "' OR '1'='1",
    "1; SELECT pg_sleep(5)--",
    "%' OR 1=1 --",
    "\\",
    "%",
    "_",
    "2026-02-30",
    "0000-00-00",
    "2026-13-01",
    "31/02/2026",
    "0001-01-01",
    "9999-12-31",
    "24:00",
    "25:61",
    "23:59:60",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "2026-02-30T10:00Z",
    "9999-12-31T23:45Z",
    "1@9999-12-31T23:45:00+00:00",
    "99999999999999999999@2030-01-01T10:00:00+00:00",
    "0",
    "-1",
    "-0",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "99999999999999999999999999999999",
    "1e309",
    "-1e309",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    "1_000",
    "١٢٣",
    "\u202eevil\u202c",
    "zero\u200bwidth\ufeff\u200d",
    "😀" * 40,
    "名前 मेरा नाम اسمي",
    "Ω≈ç√∫˜µ≤≥÷",
    "\r\nX-Injected: 1\r\n\r\n",
    "../../../../etc/passwd",
    "%00%0d%0a",
    "check-in",
    "give",
    "other",
]


def _at_least_10k(piece: str, extra: int) -> str:
    return piece * (10_000 // len(piece) + extra)


LONG = st.builds(_at_least_10k, st.sampled_from(["A", "é", "😀", SCRIPT, "' OR 1=1; ", "\u200b"]), st.integers(0, 50))
HOSTILE = st.one_of(
    st.sampled_from(CLASSIC),
    st.tuples(st.sampled_from(CLASSIC), st.sampled_from(CLASSIC)).map("".join),
    st.text(max_size=60),
    LONG,
)
# A field sometimes arrives more than once (?a=1&a=2); multi-choice fields always may.
HOSTILE_VALUE = st.one_of(HOSTILE, st.lists(HOSTILE, min_size=2, max_size=3))
JSON_HOSTILE = st.one_of(
    HOSTILE,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(HOSTILE, max_size=2),
    st.dictionaries(st.sampled_from(["a", "$ne", "__proto__"]), HOSTILE, max_size=2),
)

# --- the clinic the forms are posted to --------------------------------------------------------------------


@dataclass
class World:
    patient: object
    practitioner: object
    desk: object
    admin: object
    treatment: object
    consultation: object
    upcoming: object
    checked_in: object
    intake: object
    entry: object
    offer: object
    slot_start: str
    day: str
    package: object = None
    bought: object = None
    payment: object = None
    kept_deposit: object = None
    payloads: dict = field(default_factory=dict, repr=False)  # hostile_payload's strategies, one a view


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module (0.3 s, for each of about 200 tests before), in a transaction rolled back at
    its end: each test's own transaction is a savepoint inside it, as for the every-page scenario
    (tests/scenario.py). The settings the tests' own fixtures give (tests/conftest.py) are given here too."""
    overrides = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        SMS_BACKEND="clinic.sms.LocmemSmsBackend",
        CLINIC={**django_settings.CLINIC, "CLOSED_ON_BANK_HOLIDAYS": False},
    )
    with overrides, django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            ensure_screening_rules()
            yield build_world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def build_world() -> World:
    treatment = TreatmentFactory(name="Thighs session", slug="microneedling-thighs")
    consultation = ConsultationFactory()
    room = RoomFactory()
    practitioner = PractitionerFactory(treatments=[treatment, consultation])
    for weekday in range(7):
        WorkingHoursFactory(practitioner=practitioner, weekday=weekday, start=datetime.time(9), end=datetime.time(17))
    patient = ClearedPatientFactory()
    upcoming = AppointmentFactory(patient=patient, practitioner=practitioner, treatment=treatment, room=room)
    checked_in = AppointmentFactory(
        patient=patient,
        practitioner=practitioner,
        treatment=treatment,
        room=room,
        status=Appointment.Status.CHECKED_IN,
        start_at=(timezone.now() - datetime.timedelta(hours=2)).replace(microsecond=0),
    )
    other = PatientFactory()
    intake = submitted_intake(other)
    AppointmentFactory(
        patient=other,
        practitioner=practitioner,
        treatment=consultation,
        room=room,
        start_at=upcoming.start_at + datetime.timedelta(days=1),
    )
    entry = WaitlistEntry.objects.create(patient=patient, treatment=treatment, practitioner=practitioner)
    day = timezone.localdate() + datetime.timedelta(days=3)
    slots = availability.available_slots(treatment, practitioner, day, day)[day]
    offer = WaitlistOffer.objects.create(
        entry=entry,
        practitioner=practitioner,
        start_at=slots[-1].start_at,
        expires_at=timezone.now() + datetime.timedelta(hours=2),
        sent_at=timezone.now(),
    )
    admin = staff_user(roles.CLINIC_ADMIN)
    TOTPDevice.objects.create(user=admin, confirmed=True, name="test")
    desk = staff_user(roles.FRONT_DESK)
    package = Package.objects.create(name="Course of 6", treatment=treatment, sessions=6, price=Decimal("1200"))
    bought = payment_services.sell_package(patient=patient, package=package, method="cash", by=desk)
    payment = payment_services.take_desk_payment(patient=patient, amount=Decimal("80"), method="cash", by=desk)
    kept_deposit = Payment.objects.create(  # a late cancellation's deposit, kept as a fee (set-up row)
        patient=patient,
        appointment=checked_in,
        purpose=Payment.Purpose.DEPOSIT,
        method=Payment.Method.CARD_ONLINE,
        status=Payment.Status.PAID,
        deposit_outcome=Payment.DepositOutcome.KEPT,
        amount=Decimal("50"),
        paid_at=timezone.now(),
    )
    return World(
        package=package,
        bought=bought,
        payment=payment,
        kept_deposit=kept_deposit,
        patient=patient,
        practitioner=practitioner,
        desk=desk,
        admin=admin,
        treatment=treatment,
        consultation=consultation,
        upcoming=upcoming,
        checked_in=checked_in,
        intake=intake,
        entry=entry,
        offer=offer,
        slot_start=slots[0].start_at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ"),
        day=day.isoformat(),
    )


# --- the table of forms ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormView:
    """One form (or write endpoint): who posts it, where, and a valid submission that hostile values replace
    field by field (so an example can be valid but for one field and reach the service behind the form)."""

    name: str
    who: str  # anonymous | patient | practitioner | desk | admin | admin_unverified
    valid: Callable[[World], dict] = lambda w: {}
    args: Callable[[World], list] = lambda w: []
    method: str = "post"  # "get" for search and filter forms: they must write nothing at all
    api: bool = False  # a JSON endpoint
    prepare: Callable | None = field(default=None, compare=False)  # (client, world) -> url, for multi-step pages

    def __str__(self):
        return f"{self.name}-{self.method}"


def _reset_link(client, world) -> str:
    """A password reset link as the email gives it; the first visit swaps the token for the session's. (The
    token is made from the user's row as it is now: a sign-in earlier in the test set its last_login.)"""
    user = User.objects.get(pk=world.patient.user_id)
    url = reverse("password_reset_confirm", args=[urlsafe_base64_encode(force_bytes(user.pk)), "x"])
    url = url.replace("/x/", f"/{default_token_generator.make_token(user)}/")
    return client.get(url)["Location"]


PASSWORD = "A-long-enough-passphrase-2026"


def _confirm_link(client, world) -> str:
    """A fresh signed link to confirm the upcoming appointment, as a message carries it."""
    url = links.make_link(patient=world.patient, action=SignedLink.Action.CONFIRM, appointment=world.upcoming)
    return urlsplit(url).path


def _signed_in_by_link(client, world) -> str:
    """Signed in with a health form link (a fresh session), on the page that sets a password."""
    client.logout()
    url = links.make_link(patient=world.patient, action=SignedLink.Action.HEALTH_FORM)
    client.post(urlsplit(url).path)
    return reverse("link_set_password")


INTAKE = {
    "emergency_contact_name": "Sam Example",
    "emergency_contact_phone": "07700 900456",
    "gp_name": "Dr Jones",
    "gp_practice": "Marylebone Health Centre",
    "medical_history": "",
    "bleeding_disorder": "False",
    "diabetes": "False",
    "immune_condition": "False",
    "cancer_treatment": "False",
    "cancer_in_area": "False",
    "collagen_disease": "False",
    "anticoagulants": "warfarin",
    "nsaids": "",
    "supplements": "",
    "other_medicines": "",
    "took_isotretinoin": "True",
    "isotretinoin_last_dose": "2026-01-10",
    "pregnant_or_breastfeeding": "False",
    "skin_condition_in_area": "False",
    "keloid_scarring": "False",
    "recent_sun_exposure": "False",
    "recent_area_treatments": "False",
    "recent_area_treatments_details": "",
    "metal_allergy": "False",
    "anaesthetic_allergy": "False",
    "other_allergies": "",
    "drinks_alcohol": "False",
    "areas_of_concern": "thighs",
    "goals": "Smoother skin.",
    "declaration": "on",
    "submit": "Send",
}


def _waitlist(w):
    return {"treatment": w.treatment.slug, "practitioner": w.practitioner.pk, "earliest_day": w.day, "latest_day": ""}


FORM_VIEWS = [
    # accounts
    FormView(
        "signup",
        "anonymous",
        lambda w: {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "phone": "07700 900123",
            "date_of_birth": "1990-01-31",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    ),
    FormView("login", "anonymous", lambda w: {"username": w.patient.user.email, "password": "wrong"}),
    FormView("logout", "patient"),
    FormView(
        "password_change",
        "patient",
        lambda w: {"old_password": "wrong", "new_password1": PASSWORD, "new_password2": PASSWORD},
    ),
    FormView("password_reset", "anonymous", lambda w: {"email": w.patient.user.email}),
    FormView("signed_link", "anonymous", prepare=_confirm_link),
    FormView(
        "link_set_password",
        "anonymous",
        lambda w: {"new_password1": PASSWORD, "new_password2": PASSWORD},
        prepare=_signed_in_by_link,
    ),
    FormView(
        "password_reset_confirm",
        "anonymous",
        lambda w: {"new_password1": PASSWORD, "new_password2": PASSWORD},
        prepare=_reset_link,
    ),
    FormView(
        "profile",
        "patient",
        lambda w: {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "07700 900123",
            "date_of_birth": "1990-01-31",
            "sms_opt_in": "on",
        },
    ),
    FormView("erasure_request", "patient", lambda w: {"password": "wrong", "understood": "on"}),
    FormView("two_factor_setup", "practitioner", lambda w: {"token": "123456"}),
    FormView("two_factor_verify", "admin_unverified", lambda w: {"token": "123456"}),
    FormView(
        "practitioner_edit",
        "practitioner",
        lambda w: {
            "title": "Nurse",
            "bio": "Bio",
            "qualifications": "RGN",
            "registration_number": "12A3456",
            "treatments": str(w.treatment.pk),
            "hours-TOTAL_FORMS": "1",
            "hours-INITIAL_FORMS": "0",
            "hours-0-weekday": "0",
            "hours-0-start": "09:00",
            "hours-0-end": "12:00",
        },
        lambda w: [w.practitioner.slug],
    ),
    FormView("practitioner_calendar_settings", "practitioner", args=lambda w: [w.practitioner.slug]),
    # booking, as a patient
    FormView(
        "book_confirm",
        "patient",
        lambda w: {"start": w.slot_start, "practitioner": w.practitioner.pk},
        lambda w: [w.treatment.slug],
    ),
    FormView(
        "book_confirm",
        "patient",
        lambda w: {"start": w.slot_start, "practitioner": w.practitioner.pk},
        lambda w: [w.treatment.slug],
        method="get",
    ),
    FormView(
        "book_treatment",
        "patient",
        lambda w: {"day": w.day, "practitioner": w.practitioner.pk},
        lambda w: [w.treatment.slug],
        method="get",
    ),
    FormView(
        "book_times",
        "patient",
        lambda w: {"day": w.day, "practitioner": ""},
        lambda w: [w.treatment.slug],
        method="get",
    ),
    FormView("appointment_cancel", "patient", lambda w: {"reason": "Ill"}, lambda w: [w.upcoming.pk]),
    FormView(
        "appointment_reschedule",
        "patient",
        lambda w: {"start": w.slot_start, "practitioner": w.practitioner.pk, "day": w.day},
        lambda w: [w.upcoming.pk],
    ),
    FormView(
        "appointment_reschedule_times",
        "patient",
        lambda w: {"day": w.day, "practitioner": w.practitioner.pk},
        lambda w: [w.upcoming.pk],
        method="get",
    ),
    FormView("waitlist_join", "patient", _waitlist),
    FormView("waitlist_leave", "patient", args=lambda w: [w.entry.pk]),
    FormView("waitlist_offer", "patient", args=lambda w: [w.offer.pk]),
    FormView(
        "aftercare_check_in", "patient", lambda w: {"answer": "other", "details": "Itchy"}, lambda w: [w.checked_in.pk]
    ),
    # health form and consent
    FormView("intake_form", "patient", lambda w: dict(INTAKE)),
    FormView("consent_sign", "patient", lambda w: {"signed_name": w.patient.full_name, "agreed": "on"}),
    FormView("intake_confirm", "patient", args=lambda w: [w.upcoming.pk]),
    FormView("photo_consent", "patient", lambda w: {"choice": "give"}),
    # practitioners
    FormView(
        "intake_review",
        "practitioner",
        lambda w: {"decision": "cleared_with_conditions", "message_to_patient": "Hi", "notes": "", "valid_until": ""},
        lambda w: [w.intake.pk],
    ),
    FormView(
        "practice_session_record",
        "practitioner",
        lambda w: {
            "scale": "hexsel",
            "device": "Dermapen",
            "needle_depth_mm": "1.5",
            "passes": "3",
            "product": "",
            "reactions": "",
            "notes": "",
            "treated_thighs": "on",
            "grade_thighs": "7",
            "photo": "",
        },
        lambda w: [w.checked_in.pk],
    ),
    FormView(
        "practice_course_plan",
        "practitioner",
        lambda w: {"treatment": w.treatment.pk, "sessions": "6", "interval_days": "28"},
        lambda w: [w.patient.pk],
    ),
    FormView("practice_pin_alert", "practitioner", lambda w: {"text": "Pacemaker: no RF"}, lambda w: [w.patient.pk]),
    FormView("my_day", "practitioner", lambda w: {"day": w.day}, method="get"),
    # front desk
    FormView(
        "desk:patient_new",
        "desk",
        lambda w: {
            "first_name": "Bob",
            "last_name": "Jones",
            "phone": "07700 900999",
            "email": "",
            "date_of_birth": "1980-05-05",
            "sms_opt_in": "",
        },
    ),
    FormView(
        "desk:book",
        "desk",
        lambda w: {
            "treatment": w.treatment.pk,
            "practitioner": w.practitioner.pk,
            "date": w.day,
            "slot": f"{w.practitioner.pk}@{w.slot_start}",
            "override_reason": "",
        },
        lambda w: [w.patient.pk],
    ),
    FormView(
        "desk:book",
        "admin",
        lambda w: {
            "treatment": w.treatment.pk,
            "practitioner": "",
            "date": w.day,
            "slot": f"{w.practitioner.pk}@{w.slot_start}",
            "override_reason": "Phoned GP",
        },
        lambda w: [w.patient.pk],
        method="get",
    ),
    FormView(
        "desk:move",
        "desk",
        lambda w: {"date": w.day, "time": "10:00", "practitioner": "", "reason": "Asked"},
        lambda w: [w.upcoming.pk],
    ),
    FormView(
        "desk:panel_book",
        "desk",
        lambda w: {
            "slot": f"{w.practitioner.pk}@{w.slot_start}",
            "patient": w.patient.pk,
            "treatment": w.treatment.pk,
            "source": "phone",
            "override_reason": "",
        },
    ),
    FormView(
        "desk:panel_book",
        "desk",
        lambda w: {"slot": f"{w.practitioner.pk}@{w.slot_start}", "patient": ""},
        method="get",
    ),
    FormView("desk:panel_patients", "desk", lambda w: {"q": "Lovelace"}, method="get"),
    FormView(
        "desk:panel_move",
        "desk",
        lambda w: {"slot": f"{w.practitioner.pk}@{w.slot_start}", "date": w.day, "reason": "Asked"},
        lambda w: [w.upcoming.pk],
    ),
    FormView("desk:panel_move", "desk", lambda w: {"date": w.day}, lambda w: [w.upcoming.pk], method="get"),
    FormView("desk:week_all", "desk", lambda w: {"date": w.day}, method="get"),
    FormView("desk:month", "desk", lambda w: {"date": w.day}, method="get"),
    FormView("desk:cancel", "desk", lambda w: {"reason": "Ill", "next": "/desk/"}, lambda w: [w.upcoming.pk]),
    FormView("desk:status", "desk", lambda w: {"next": "/desk/"}, lambda w: [w.checked_in.pk, "complete"]),
    FormView("desk:status", "desk", lambda w: {"next": "//evil.example/"}, lambda w: [w.upcoming.pk, "check-in"]),
    FormView(
        "desk:status", "desk", lambda w: {"reason": "Wrong patient"}, lambda w: [w.checked_in.pk, "undo-check-in"]
    ),
    FormView("desk:patients", "desk", lambda w: {"q": "Lovelace", "page": "1"}, method="get"),
    FormView("desk:closures", "desk", lambda w: {"first_day": w.day, "last_day": w.day, "reason": "Training"}),
    FormView(
        "desk:rota_edit",
        "desk",
        lambda w: {
            "hours-TOTAL_FORMS": "1",
            "hours-INITIAL_FORMS": "0",
            "hours-0-weekday": "1",
            "hours-0-start": "09:00",
            "hours-0-end": "12:00",
            "off-TOTAL_FORMS": "1",
            "off-INITIAL_FORMS": "0",
            "off-0-start_at_0": w.day,
            "off-0-start_at_1": "09:00",
            "off-0-end_at_0": w.day,
            "off-0-end_at_1": "12:00",
            "off-0-reason": "Course",
        },
        lambda w: [w.practitioner.pk],
    ),
    FormView(
        "payments:desk_take",
        "desk",
        lambda w: {"amount": "80.00", "method": "cash", "note": "Paid in full", "appointment": str(w.upcoming.pk)},
        lambda w: [w.patient.pk],
    ),
    FormView(
        "payments:desk_take",
        "desk",
        lambda w: {"amount": "30.00", "method": "waived", "note": "Goodwill"},
        lambda w: [w.patient.pk],
    ),
    FormView(
        "payments:desk_sell_package",
        "desk",
        lambda w: {"package": str(w.package.pk), "method": "card_terminal"},
        lambda w: [w.patient.pk],
    ),
    FormView(
        "payments:desk_refund", "desk", lambda w: {"amount": "5.00", "reason": "Overcharged"}, lambda w: [w.payment.pk]
    ),
    FormView("payments:desk_waive_fee", "desk", lambda w: {"reason": "Hospital"}, lambda w: [w.kept_deposit.pk]),
    FormView("payments:desk_invoice", "desk", lambda w: {"next": "/desk/"}, lambda w: [w.checked_in.pk]),
    FormView("payments:desk_package_refund", "admin", lambda w: {"reason": "Moving"}, lambda w: [w.bought.pk]),
    FormView("payments:deposit", "patient", lambda w: {}, lambda w: [w.upcoming.pk]),
    FormView("payments:stripe_webhook", "anonymous", lambda w: {"id": "evt_1", "type": "checkout.session.completed"}),
    FormView("desk:calendar", "desk", lambda w: {"date": w.day, "view": "rooms"}, method="get"),
    # The owner's reports: a filter form (GET) and its CSV downloads; a bad value is a 400 with a message.
    *[
        FormView(
            f"reports:{report}",
            "admin",
            lambda w, table=table: {"start": w.day, "end": w.day, "practitioner": w.practitioner.pk, "csv": table},
            method="get",
        )
        for report, table in (
            ("utilisation", "practitioners"),
            ("attendance", "practitioners"),
            ("revenue", "practitioners"),
            ("courses", "courses"),
            ("screening", "flags"),
            ("messages", "messages"),
        )
    ],
    FormView("desk:week", "desk", lambda w: {"date": w.day}, lambda w: [w.practitioner.pk], method="get"),
    FormView("desk:day_sheet", "desk", lambda w: {"date": w.day}, lambda w: [w.practitioner.pk], method="get"),
    FormView(
        "waitlist_desk_add",
        "desk",
        lambda w: {**_waitlist(w), "patient_email": w.patient.user.email},
    ),
    FormView(
        "waitlist_desk_add",
        "desk",
        lambda w: {"patient": str(w.patient.pk), "treatment": w.treatment.slug, "practitioner": w.practitioner.pk},
        method="get",
    ),
    FormView("waitlist_desk_remove", "desk", args=lambda w: [w.entry.pk]),
    FormView("desk:patient_form_link", "desk", lambda w: {"channel": "sms"}, args=lambda w: [w.patient.pk]),
    FormView("sms_inbound", "anonymous", lambda w: {"MessageSid": "SM1", "From": "+447700900123", "Body": "C"}),
    FormView("sms_status", "anonymous", lambda w: {"MessageSid": "SM1", "MessageStatus": "delivered"}),
    FormView(
        "waitlist_desk",
        "desk",
        lambda w: {"treatment": w.treatment.slug, "practitioner": w.practitioner.pk},
        method="get",
    ),
    # the JSON API
    FormView(
        "api_appointment_list",
        "patient",
        lambda w: {"treatment": w.treatment.slug, "practitioner": w.practitioner.slug, "start": w.slot_start},
        api=True,
    ),
    FormView("api_appointment_cancel", "patient", lambda w: {"reason": "Ill"}, lambda w: [w.upcoming.pk], api=True),
    FormView(
        "api_availability",
        "anonymous",
        lambda w: {"treatment": w.treatment.slug, "practitioner": "", "from": w.day, "to": w.day},
        method="get",
    ),
]

# Every other URL of the project, and why it takes no input worth fuzzing. Posting to them is still tried.
NO_FORM_VIEWS = {
    "home": "page",
    "start": "a redirect to the signed-in role's working page; takes no input",
    "health": "the health check: reads nothing from the request (GET; a POST is refused)",
    "my_data": "page: the patient's own data",
    "my_data_json": "download: the patient's own data",
    "treatment_detail": "page",
    "practitioner_list": "page",
    "practitioner_detail": "page",
    "password_change_done": "page",
    "password_reset_done": "page",
    "password_reset_complete": "page",
    "intake_home": "page",
    "review_queue": "page",
    "practice_patient": "page (its forms post to practice_course_plan, practice_pin_alert, practice_unpin_alert)",
    "practice_unpin_alert": "a button: no input but the patient and the alert in the URL",
    "session_photo": "file download",
    "my_progress": "page (its form posts to photo_consent)",
    "desk:appointment": "page (its forms post to desk:cancel, desk:status)",
    "desk:patient": "page",
    "desk:rota": "page: a list of practitioners linking to desk:rota_edit",
    "desk:closure_remove": "a button: no input but the closure in the URL",
    "desk:inbox": "page (its forms post to desk:inbox_done)",
    "desk:inbox_done": "a button: marks one text done (tests/test_sms_twilio.py)",
    "desk:reminder_send_again": "a button: sends an uncertain message again (tests/test_sms_twilio.py)",
    "desk:panel_appointment": "panel (its forms post to desk:status, its links open desk:panel_move)",
    "payments:mine": "page: the patient's payments, packages and receipts",
    "reports:index": "page: links to the six reports",
    "payments:deposit_return": "page: where Stripe sends the patient back (the webhook decides, not this)",
    "payments:document_pdf": "download: a receipt or invoice",
    "book_start": "page",
    "my_appointments": "page",
    "appointment_detail": "page",
    "waitlist_mine": "page",
    "appointment_ics": "GET only: a calendar file",
    "practitioner_calendar_feed": "GET only: a calendar feed, key in the URL",
    "api_treatment_list": "GET only (schemathesis covers the API: tests/test_api_schemathesis.py)",
    "api_treatment_detail": "GET only",
    "api_practitioner_list": "GET only",
    "api_practitioner_detail": "GET only",
    "api_appointment_detail": "GET only",
    "api_schema": "GET only",
    "api_docs": "page",
}
# Django's own admin: staff only, behind two-factor sign-in; its forms are Django's.
SKIPPED_NAMESPACES = {"admin"}

# --- how one example is judged -----------------------------------------------------------------------------

# Audit and sign-in bookkeeping are meant to be written on any request; these are the rows that must not.
WATCHED_APPS = {"clinic", "bookings", "consultations", "payments"}
NOT_WATCHED = {"consultations.intakeaccess"}


def watched_tables() -> list[str]:
    return sorted(
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in WATCHED_APPS and model._meta.label_lower not in NOT_WATCHED
    )


def snapshot() -> dict[str, str]:
    """Every row of the domain tables (their many-to-many tables too), as a digest of each table's rows in
    one query: reading them through the ORM, a query a table, cost more than most of the requests checked
    (32 ms an example, about half the file's time)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            " UNION ALL ".join(
                f"SELECT '{table}', (SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) "
                f"FROM {quote(table)} r)"
                for table in watched_tables()
            )
        )
        return dict(cursor.fetchall())


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [table for table in before if after[table] != before[table]]


def refused(response) -> bool:
    """The user was told no: a 4xx, an error message, or the form shown again with its errors."""
    levels = {message.level for message in get_messages(response.wsgi_request)}
    if levels & {SUCCESS, WARNING}:
        return False
    if response.status_code >= 400 or ERROR in levels:
        return True
    context = getattr(response, "context", None)
    if response.status_code != 200 or context is None:
        return False
    contexts = context if isinstance(context, ContextList) else [context]
    return any(
        isinstance(value, BaseForm | BaseFormSet) and value.is_bound and not value.is_valid()
        for one in contexts
        for value in one.flatten().values()
    )


def assert_escaped(response):
    if "html" not in response.get("Content-Type", ""):
        return
    content = response.content
    for needle in NEEDLES:
        assert needle not in content, f"unescaped {needle!r} in {response.wsgi_request.path}"


def sign_in_as(client, world, who):
    client.logout()
    if who == "anonymous":
        return
    user = {
        "patient": world.patient.user,
        "practitioner": world.practitioner.user,
        "desk": world.desk,
        "admin": world.admin,
        "admin_unverified": world.admin,  # signed in with a password, second factor still to give
    }[who]
    # A copy of the row: a sign-in sets last_login on the object, and the module's tests share the world's.
    client.force_login(User.objects.get(pk=user.pk))
    if who == "admin":
        from django_otp import DEVICE_ID_SESSION_KEY

        session = client.session
        session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
        session.save()


def send(client, view: FormView, url: str, data: dict):
    if view.method == "get":
        return client.get(url, data)
    if view.api:
        return client.post(url, json.dumps(data), content_type="application/json")
    return client.post(url, data)


def try_once(client, world, view: FormView, data: dict):
    """One example in a savepoint rolled back afterwards, and with the client's cookies put back, so every
    example meets the same clinic as the same signed-in user (even after a sign-out or a password change)."""
    cookies = client.cookies
    client.cookies = copy.deepcopy(cookies)
    try:
        _try_in_savepoint(client, world, view, data)
    finally:
        client.cookies = cookies


def _try_in_savepoint(client, world, view, data):
    """A refused submission or a GET writes nothing (the rows compared only if PostgreSQL counts a write,
    `tests.helpers.WriteWatch`)."""
    with transaction.atomic():
        url = view.prepare(client, world) if view.prepare else reverse(view.name, args=view.args(world))
        watch = WriteWatch(watched_tables())
        response = send(client, view, url, data)
        assert response.status_code < 500
        assert_escaped(response)
        if view.method == "get" or refused(response):
            compared = watch.before_and_after(snapshot)
            changed = changed_tables(*compared) if compared else []
            assert not changed, f"{view} wrote rows in {changed} although it answered {response.status_code}"
        location = response.get("Location", "") if response.status_code in (301, 302, 303) else ""
        if location.startswith("/") and not location.startswith("//"):
            assert_escaped(client.get(location))  # the success message echoes the input
        transaction.set_rollback(True)


def hostile_payload(view: FormView, world: World):
    """Mostly a valid submission with one or two fields replaced (so the value reaches the code behind a form
    that checks the other fields first), sometimes every field hostile, plus a few unexpected fields.

    Built once a view for the module's world and drawn from by each example: Hypothesis validates a strategy
    and works out its properties at its first draw, which for a strategy built anew each example was about a
    tenth of the file's time."""
    if view not in world.payloads:
        world.payloads[view] = _payload_strategy(view, world)
    return world.payloads[view]


def _payload_strategy(view: FormView, world: World):
    valid = view.valid(world)
    value = JSON_HOSTILE if view.api else HOSTILE_VALUE
    extra_names = ["id", "patient", "status", "\x00", SCRIPT] if view.api else ["next", "id", "\x00", SCRIPT]
    extra = st.dictionaries(st.sampled_from(extra_names), value, max_size=2)
    if valid:
        replaced = st.dictionaries(st.sampled_from(sorted(valid)), value, min_size=1, max_size=2)
        mutated = replaced.map(lambda changes: {**valid, **changes})
        everything = st.fixed_dictionaries({name: st.one_of(st.just(v), value) for name, v in valid.items()})
        body = st.one_of(mutated, mutated, everything)
    else:
        body = st.just({})
    return st.tuples(body, extra).map(lambda parts: {**parts[1], **parts[0]})


HOSTILE_SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("view", FORM_VIEWS, ids=str)
@HOSTILE_SETTINGS
@given(data=st.data())
def test_hostile_values_never_break_a_form(signed_in, world, view, data):
    try_once(signed_in, world, view, data.draw(hostile_payload(view, world), label="posted"))


def test_the_snapshot_sees_any_change_to_a_domain_row(world):
    """The digests tell a row changed in one column, a row deleted and a many-to-many link removed; the count
    of rows written moves with each, and with a write taken back, and not with a read."""
    before, written = snapshot(), rows_written(watched_tables())
    Appointment.objects.filter(pk=world.upcoming.pk).update(source=Appointment.Source.PHONE)
    assert changed_tables(before, snapshot()) == ["bookings_appointment"]
    assert rows_written(watched_tables()) > written
    before, written = snapshot(), rows_written(watched_tables())
    WaitlistOffer.objects.filter(pk=world.offer.pk).delete()  # (the shared world's object keeps its pk)
    assert changed_tables(before, snapshot()) == ["bookings_waitlistoffer"]
    assert rows_written(watched_tables()) > written
    before, written = snapshot(), rows_written(watched_tables())
    world.practitioner.treatments.remove(world.consultation)
    # (its trigger bumps the clinic's availability scope too)
    assert changed_tables(before, snapshot()) == ["bookings_availabilityscope", "clinic_practitioner_treatments"]
    assert rows_written(watched_tables()) > written
    written = rows_written(watched_tables())
    list(Appointment.objects.all())
    assert rows_written(watched_tables()) == written
    with transaction.atomic():
        Appointment.objects.filter(pk=world.upcoming.pk).update(source=Appointment.Source.ONLINE)
        transaction.set_rollback(True)
    assert rows_written(watched_tables()) > written


@pytest.fixture
def signed_in(client, world, view):
    sign_in_as(client, world, view.who)
    return client


@pytest.mark.parametrize("name", sorted(NO_FORM_VIEWS))
def test_posting_to_a_page_without_a_form_writes_nothing(client, world, name):
    """Every page is posted the whole list of hostile values at once, by a signed-in desk member and by a
    patient: whatever it answers, no server error and no row changes."""
    args = {
        "treatment_detail": [world.treatment.slug],
        "practitioner_detail": [world.practitioner.slug],
        "practice_patient": [world.patient.pk],
        "practice_unpin_alert": [world.patient.pk, 999999],
        "session_photo": [1],
        "desk:appointment": [world.upcoming.pk],
        "desk:panel_appointment": [world.upcoming.pk],
        "desk:patient": [world.patient.pk],
        "desk:closure_remove": [999999],
        "desk:inbox_done": [1],
        "desk:reminder_send_again": [1],
        "appointment_detail": [world.upcoming.pk],
        "appointment_ics": [world.upcoming.pk],
        "practitioner_calendar_feed": ["x" * 40],
        "api_treatment_detail": [world.treatment.slug],
        "api_practitioner_detail": [world.practitioner.slug],
        "api_appointment_detail": [world.upcoming.pk],
        "payments:deposit_return": [world.upcoming.pk],
        "payments:document_pdf": [world.payment.documents.get().pk],
    }.get(name, [])
    payload = {f"field{i}": value for i, value in enumerate(CLASSIC)}
    for who in ("patient", "desk", "practitioner"):
        sign_in_as(client, world, who)
        try_once(client, world, FormView(name, who, args=lambda w, args=args: args), payload)


def _url_names(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            if pattern.namespace in SKIPPED_NAMESPACES:
                continue
            yield from _url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def test_every_url_is_in_one_table():
    """A new URL fails here until it is put in FORM_VIEWS (fuzzed) or NO_FORM_VIEWS (with a reason)."""
    names = set(_url_names(get_resolver().url_patterns))
    covered = {view.name for view in FORM_VIEWS}
    assert not covered & set(NO_FORM_VIEWS), "a view is in both tables"
    assert sorted(names - covered - set(NO_FORM_VIEWS)) == []
    assert sorted((covered | set(NO_FORM_VIEWS)) - names) == []
