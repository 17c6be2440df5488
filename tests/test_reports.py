"""The owner's reports: small known data sets and the exact figures they must give (rates, sums, counts),
through the pages as a browser asks for them (ISO dates in the query string), a DST day and cancelled rows
included; the CSV holds exactly the rows of the table shown; bad filter input is a message, never a 500.

Every date here is a fixed day of 2026, long past whatever the clock says when the tests run: the reports
count what happened, and no test depends on today.
"""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment, Reminder
from clinic import roles
from clinic.models import Closure, TimeOff
from payments.models import Payment
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db
LONDON = datetime.timezone(datetime.timedelta(0))
S = Appointment.Status


def at(day: str, wall: str) -> datetime.datetime:
    """A clinic wall-clock time (Europe/London) as an aware instant."""
    from clinic import clock

    return clock.local_to_utc(datetime.date.fromisoformat(day), datetime.time.fromisoformat(wall))


def appointment(practitioner, start, *, minutes=60, status=S.COMPLETED, room=None, treatment=None, **extra):
    treatment = treatment or TreatmentFactory(slug="microneedling-thighs", name="Microneedling: thighs")
    return AppointmentFactory(
        practitioner=practitioner,
        treatment=treatment,
        room=room or RoomFactory(name="Room 1"),
        start_at=start,
        end_at=start + datetime.timedelta(minutes=minutes),
        busy_until=start + datetime.timedelta(minutes=minutes),
        status=status,
        **extra,
    )


@pytest.fixture
def admin(client, sign_in):
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    return client


def page(client, name, **query):
    response = client.get(reverse(f"reports:{name}"), query)
    return response


def table(response, key):
    return response.context["report"].table(key)


def rows_by_label(response, key):
    return {row[0]: row[1:] for row in table(response, key).rows}


# --- who may see them ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["index", "utilisation", "attendance", "revenue", "courses", "screening", "messages"])
def test_only_clinic_admins_see_reports(client, sign_in, name):
    url = reverse(f"reports:{name}")
    assert client.get(url).status_code == 302  # to sign in
    for user in (staff_user(roles.FRONT_DESK), PractitionerFactory().user, PatientFactory().user):
        client.force_login(user)
        assert client.get(url).status_code == 403
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    assert client.get(url).status_code == 200


# --- 1. utilisation --------------------------------------------------------------------------------------


def test_utilisation_over_a_week_with_the_spring_clock_change(admin):
    """Week of Monday 23 March 2026; the clocks go forward on Sunday 29 March. P1 works Monday 09-17 and
    Sunday 10-12 (10 hours) less an hour off on Monday 16-17: 9 working hours. Booked: Monday 10:30-11:30 and
    13:00-14:00 (a no-show), Sunday 10:00-11:00 BST: 3 hours, 33.3%. A cancelled hour does not count, nor an
    appointment at 00:30 BST on Monday 30 March (23:30 UTC on the 29th, outside the range in local time)."""
    p1 = PractitionerFactory(user__first_name="Ada", user__last_name="One")
    WorkingHoursFactory(practitioner=p1, weekday=0, start=datetime.time(9), end=datetime.time(17))
    WorkingHoursFactory(practitioner=p1, weekday=6, start=datetime.time(10), end=datetime.time(12))
    TimeOff.objects.create(practitioner=p1, start_at=at("2026-03-23", "16:00"), end_at=at("2026-03-23", "17:00"))
    appointment(p1, at("2026-03-23", "10:30"))
    appointment(p1, at("2026-03-23", "13:00"), status=S.NO_SHOW)
    appointment(p1, at("2026-03-23", "15:00"), status=S.CANCELLED)
    sunday = appointment(p1, at("2026-03-29", "10:00"))
    assert sunday.start_at == datetime.datetime(2026, 3, 29, 9, 0, tzinfo=datetime.UTC)  # BST
    late = appointment(p1, at("2026-03-30", "00:30"), status=S.BOOKED)
    assert late.start_at.date() == datetime.date(2026, 3, 29)  # the UTC day is still inside the range

    response = page(admin, "utilisation", start="2026-03-23", end="2026-03-29")

    assert response.status_code == 200
    assert rows_by_label(response, "practitioners") == {"Ada One": ["3", "3.0", "9.0", "33.3", "1.0"]}
    assert dict(response.context["report"].summary)["Utilisation"] == "33.3%"
    grid = table(response, "heat-map")
    assert grid.columns == ["Weekday", *[f"{hour:02d}:00" for hour in range(9, 16)]]  # 16-17 was time off
    heat = rows_by_label(response, "heat-map")
    assert heat["Monday"] == ["0.0", "50.0", "50.0", "0.0", "100.0", "0.0", "0.0"]
    assert heat["Sunday"] == ["closed", "100.0", "0.0", "closed", "closed", "closed", "closed"]
    # The room is open while anyone works: Monday 9-17, Sunday 10-12 (10 hours); 3 hours booked in it.
    assert rows_by_label(response, "rooms") == {"Room 1": ["3", "3.0", "10.0", "30.0"]}
    svg = str(response.context["report"].chart)
    assert 'role="img"' in svg and "<title id=" in svg and "<desc id=" in svg
    assert "Monday 13:00: 100.0%" in svg


def test_utilisation_leaves_out_closed_days_and_other_practitioners(admin):
    """A closure on Monday 6 April takes that Monday's hours away; the practitioner filter keeps one."""
    p1 = PractitionerFactory(user__first_name="Ada", user__last_name="One")
    p2 = PractitionerFactory(user__first_name="Bo", user__last_name="Two")
    for practitioner in (p1, p2):
        WorkingHoursFactory(practitioner=practitioner, weekday=0, start=datetime.time(9), end=datetime.time(13))
    Closure.objects.create(first_day=datetime.date(2026, 4, 6), last_day=datetime.date(2026, 4, 6), reason="Training")
    appointment(p1, at("2026-03-30", "09:00"), minutes=120)
    appointment(p2, at("2026-03-30", "09:00"), minutes=60, room=RoomFactory(name="Room 2"))

    both = page(admin, "utilisation", start="2026-03-30", end="2026-04-12")
    assert rows_by_label(both, "practitioners") == {
        "Ada One": ["1", "2.0", "4.0", "50.0", "0.0"],
        "Bo Two": ["1", "1.0", "4.0", "25.0", "0.0"],
    }
    one = page(admin, "utilisation", start="2026-03-30", end="2026-04-12", practitioner=p2.pk)
    assert rows_by_label(one, "practitioners") == {"Bo Two": ["1", "1.0", "4.0", "25.0", "0.0"]}
    assert dict(one.context["report"].summary)["Booked hours"] == "1.0"


# --- 2. attendance ---------------------------------------------------------------------------------------


def test_attendance_rates_by_practitioner_weekday_lead_time_reminder_and_deposit(admin):
    p1 = PractitionerFactory(user__first_name="Ada", user__last_name="One")
    p2 = PractitionerFactory(user__first_name="Bo", user__last_name="Two")
    monday = "2026-03-02"
    done = appointment(p1, at(monday, "09:00"))
    appointment(p1, at(monday, "10:00"), status=S.CHECKED_IN)
    short_notice = appointment(p1, at(monday, "11:00"), status=S.NO_SHOW)
    late = appointment(
        p1, at(monday, "12:00"), status=S.CANCELLED, cancellation_reason="Unwell", cancelled_at=at(monday, "10:00")
    )
    appointment(
        p1,
        at(monday, "13:00"),
        status=S.CANCELLED,
        cancellation_reason=" unwell ",
        cancelled_at=at("2026-02-27", "10:00"),
    )
    appointment(p1, at(monday, "14:00"), status=S.BOOKED)  # nobody marked it
    appointment(p2, at("2026-03-03", "09:00"))
    paid = appointment(p2, at("2026-03-03", "10:00"), status=S.NO_SHOW)
    appointment(p2, at("2026-03-10", "10:00"), status=S.NO_SHOW)  # outside the range
    for row in Appointment.objects.all():
        Appointment.objects.filter(pk=row.pk).update(created_at=row.start_at - datetime.timedelta(days=3))
    Appointment.objects.filter(pk=short_notice.pk).update(
        created_at=short_notice.start_at - datetime.timedelta(hours=12)
    )
    Reminder.objects.create(
        appointment=done,
        kind="reminder_24h",
        due_at=done.start_at - datetime.timedelta(days=1),
        next_attempt_at=done.start_at - datetime.timedelta(days=1),
        status=Reminder.Status.SENT,
        sent_at=done.start_at - datetime.timedelta(days=1),
    )
    Payment.objects.create(
        patient=paid.patient,
        appointment=paid,
        purpose="deposit",
        method="card_online",
        status="paid",
        deposit_outcome="kept",
        amount=Decimal("50"),
        paid_at=paid.start_at - datetime.timedelta(days=2),
    )
    del late

    response = page(admin, "attendance", start="2026-03-02", end="2026-03-08")

    assert response.status_code == 200
    # Due, attended, no-shows, rate, late cancellations, rate, not marked
    assert rows_by_label(response, "practitioners") == {
        "Ada One": ["5", "2", "1", "20.0", "1", "20.0", "1"],
        "Bo Two": ["2", "1", "1", "50.0", "0", "0.0", "0"],
    }
    assert rows_by_label(response, "weekdays") == {
        "Monday": ["5", "2", "1", "20.0", "1", "20.0", "1"],
        "Tuesday": ["2", "1", "1", "50.0", "0", "0.0", "0"],
    }
    assert rows_by_label(response, "lead-times") == {
        "Booked under 24 hours ahead": ["1", "0", "1", "100.0", "0", "0.0", "0"],
        "1 to 7 days ahead": ["6", "3", "1", "16.7", "1", "16.7", "1"],
    }
    assert rows_by_label(response, "reminders") == {
        "No reminder sent": ["6", "2", "2", "33.3", "1", "16.7", "1"],
        "Reminder sent": ["1", "1", "0", "0.0", "0", "0.0", "0"],
    }
    assert rows_by_label(response, "deposits") == {
        "No deposit": ["6", "3", "1", "16.7", "1", "16.7", "1"],
        "Deposit paid": ["1", "0", "1", "100.0", "0", "0.0", "0"],
    }
    assert rows_by_label(response, "reasons") == {"unwell": ["2", "1"]}
    summary = dict(response.context["report"].summary)
    assert summary["Appointments due"] == "7"
    assert summary["No-show rate"] == "28.6%"
    assert summary["Late-cancellation rate"] == "14.3%"
    assert summary["Not marked (ask the desk)"] == "1"


def test_attendance_counts_only_appointments_that_have_started(admin):
    p1 = PractitionerFactory()
    appointment(p1, timezone.now() + datetime.timedelta(days=2), status=S.BOOKED)
    today = timezone.localdate()
    response = page(admin, "attendance", start=today.isoformat(), end=(today + datetime.timedelta(days=7)).isoformat())
    assert dict(response.context["report"].summary)["Appointments due"] == "0"


# --- filters and downloads ---------------------------------------------------------------------------------


def test_a_csv_download_holds_exactly_the_rows_shown(admin):
    p1 = PractitionerFactory(user__first_name="Ada", user__last_name="One")
    appointment(p1, at("2026-03-02", "09:00"), status=S.NO_SHOW)
    appointment(
        p1,
        at("2026-03-02", "10:00"),
        status=S.CANCELLED,
        cancellation_reason="=HYPERLINK(1)",
        cancelled_at=at("2026-03-02", "09:00"),
    )
    query = {"start": "2026-03-02", "end": "2026-03-08"}
    shown = page(admin, "attendance", **query)
    for key in ("practitioners", "reasons"):
        download = page(admin, "attendance", **query, csv=key)
        assert download.status_code == 200
        assert download["Content-Type"].startswith("text/csv")
        assert "attachment" in download["Content-Disposition"]
        lines = list(csv.reader(io.StringIO(download.content.decode())))
        expected = table(shown, key)
        assert lines[0] == expected.columns
        assert len(lines) - 1 == len(expected.rows)
        for got, want in zip(lines[1:], expected.rows, strict=True):
            assert got == [("'" + cell if cell.startswith("=") else cell) for cell in want]
    assert page(admin, "attendance", **query, csv="nonsense").status_code == 400


@pytest.mark.parametrize(
    "query, message",
    [
        ({"start": "2026-13-01"}, "Enter a date as YYYY-MM-DD"),
        ({"start": "yesterday"}, "Enter a date as YYYY-MM-DD"),
        ({"start": "2026-03-10", "end": "2026-03-01"}, "The last day is before the first"),
        ({"start": "2020-01-01", "end": "2026-03-01"}, "Choose at most"),
        ({"practitioner": "abc"}, "Choose a practitioner from the list"),
        ({"practitioner": "999999"}, "Choose a practitioner from the list"),
    ],
)
@pytest.mark.parametrize("name", ["utilisation", "attendance", "revenue", "courses", "screening", "messages"])
def test_bad_filters_get_a_clear_message(admin, name, query, message):
    response = page(admin, name, **query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_no_filters_show_the_last_four_weeks(admin):
    response = page(admin, "utilisation")
    assert response.status_code == 200
    report = response.context["report"]
    assert report.filters.end == timezone.localdate()
    assert report.filters.days == 28


# --- 3. revenue ------------------------------------------------------------------------------------------


def test_revenue_taken_refunded_kept_packages_and_outstanding(admin):
    """March and April 2026. A deposit paid at 23:30 UTC on 31 March is 00:30 BST on 1 April: April's."""
    from payments.models import Package, PatientPackage, Redemption, Refund

    p1 = PractitionerFactory(user__first_name="Ada", user__last_name="One")
    p2 = PractitionerFactory(user__first_name="Bo", user__last_name="Two")
    thighs = TreatmentFactory(slug="microneedling-thighs", name="Microneedling: thighs", price=Decimal("250"))
    course = TreatmentFactory(slug="microneedling-course", name="Microneedling: course", price=Decimal("250"))
    patient = PatientFactory()
    visit = appointment(p1, at("2026-03-10", "10:00"), treatment=thighs, patient=patient)
    missed = appointment(p2, at("2026-04-02", "10:00"), treatment=thighs, status=S.NO_SHOW, patient=patient)
    from_package = appointment(p1, at("2026-04-06", "10:00"), treatment=course, patient=patient)
    appointment(p2, at("2026-04-15", "10:00"), treatment=thighs, patient=patient)  # completed, nothing paid

    def pay(amount, when, **fields):
        fields.setdefault("status", "paid")
        return Payment.objects.create(
            patient=patient, amount=Decimal(amount), paid_at=when if fields["status"] == "paid" else None, **fields
        )

    session = pay("250", at("2026-03-10", "11:00"), appointment=visit, purpose="session", method="card_terminal")
    deposit_paid = datetime.datetime(2026, 3, 31, 23, 30, tzinfo=datetime.UTC)
    pay("50", deposit_paid, appointment=missed, purpose="deposit", method="card_online", deposit_outcome="kept")
    package = Package.objects.create(name="Course of 6", treatment=course, sessions=6, price=Decimal("1200"))
    bought = PatientPackage.objects.create(
        patient=patient,
        package=package,
        treatment=course,
        sessions_total=6,
        sessions_used=1,
        price_paid=Decimal("1200"),
        purchased_at=at("2026-04-05", "12:00"),
        expires_at=timezone.now() + datetime.timedelta(days=365),
    )
    pay("1200", at("2026-04-05", "12:00"), patient_package=bought, purpose="package", method="card_terminal")
    Redemption.objects.create(patient_package=bought, appointment=from_package)
    Redemption.objects.update(created_at=at("2026-04-06", "11:00"))
    refund = Refund.objects.create(
        payment=session, amount=Decimal("20"), reason="Goodwill", status="succeeded", idempotency_key="r-1"
    )
    Refund.objects.filter(pk=refund.pk).update(created_at=at("2026-04-10", "09:00"))
    pay("99", at("2026-04-11", "09:00"), purpose="session", method="card_online", status="failed")
    pay("40", None, purpose="session", method="card_online", status="pending")

    response = page(admin, "revenue", start="2026-03-01", end="2026-04-30")

    assert response.status_code == 200
    summary = dict(response.context["report"].summary)
    assert summary["Taken"] == "1500.00"
    assert summary["Refunded"] == "20.00"
    assert summary["Net"] == "1480.00"
    assert summary["Kept as fees"] == "50.00"
    assert summary["Packages sold"] == "1 (1200.00)"
    assert summary["Package sessions used"] == "1 (200.00)"
    assert rows_by_label(response, "months") == {
        "2026-03": ["250.00", "0.00", "250.00"],
        "2026-04": ["1250.00", "20.00", "1230.00"],
    }
    assert rows_by_label(response, "practitioners") == {
        "Ada One": ["250.00", "20.00", "230.00"],
        "Bo Two": ["50.00", "0.00", "50.00"],
        "No visit (course packages, other)": ["1200.00", "0.00", "1200.00"],
    }
    assert rows_by_label(response, "treatments") == {
        "Microneedling: course": ["1200.00", "0.00", "1200.00"],
        "Microneedling: thighs": ["300.00", "20.00", "280.00"],
    }
    assert rows_by_label(response, "outstanding") == {
        "Asked and not yet paid (now)": ["1", "40.00"],
        "Package sessions sold and not yet given (now)": ["5", "1000.00"],
        "Completed visits in the range with nothing paid": ["1", "250.00"],
    }
    one = page(admin, "revenue", start="2026-03-01", end="2026-04-30", practitioner=p2.pk)
    assert dict(one.context["report"].summary)["Taken"] == "50.00"
    assert rows_by_label(one, "practitioners") == {"Bo Two": ["50.00", "0.00", "50.00"]}


# --- 4. courses and patients -----------------------------------------------------------------------------


def test_courses_new_and_returning_patients_and_grade_change(admin):
    from practice.models import CoursePlan, SessionArea, SessionRecord

    p1 = PractitionerFactory(user__first_name="Ada", user__last_name="One")
    thighs = TreatmentFactory(slug="microneedling-thighs", name="Microneedling: thighs")
    finished, dropped, late, returning = (PatientFactory() for _ in range(4))

    def plan(patient, starts_on):
        return CoursePlan.objects.create(
            patient=patient, treatment=thighs, practitioner=p1, sessions=3, interval_days=28, starts_on=starts_on
        )

    def graded(visit, grade, nm):
        record = SessionRecord.objects.create(
            appointment=visit,
            patient=visit.patient,
            recorded_by=p1.user,
            device="Dermapen",
            needle_depth_mm=Decimal("1.0"),
            passes=2,
        )
        SessionArea.objects.create(record=record, area="thighs", scale="hexsel", grade=grade)
        SessionArea.objects.create(record=record, area="buttocks", scale="nurnberger_muller", grade=nm)

    plan(finished, datetime.date(2026, 1, 5))
    visits = [
        appointment(p1, at(day, "10:00"), treatment=thighs, patient=finished)
        for day in ("2026-01-05", "2026-02-02", "2026-03-02")
    ]
    graded(visits[0], 10, 3)
    graded(visits[1], 9, 2)
    graded(visits[2], 7, 2)
    plan(dropped, datetime.date(2026, 1, 5))  # one session, then nothing for months: abandoned
    appointment(p1, at("2026-01-05", "11:00"), treatment=thighs, patient=dropped)
    plan(late, timezone.localdate() - datetime.timedelta(days=40))  # its first session is 40 days overdue
    appointment(p1, at("2025-12-01", "10:00"), patient=returning)
    appointment(p1, at("2026-02-10", "10:00"), patient=returning)
    appointment(p1, at("2026-02-11", "10:00"), status=S.CANCELLED)  # not a visit

    response = page(admin, "courses", start="2026-01-01", end="2026-03-31")

    assert response.status_code == 200
    summary = dict(response.context["report"].summary)
    assert (summary["New patients"], summary["Returning patients"], summary["Visits"]) == ("2", "1", "5")
    assert rows_by_label(response, "courses") == {"Microneedling: thighs": ["2", "1", "1", "1"]}
    assert rows_by_label(response, "grades") == {
        "Buttocks": ["Nurnberger-Muller", "1", "3.0", "2.0", "-1.0"],
        "Thighs": ["Hexsel", "1", "10.0", "7.0", "-3.0"],
    }
    assert "lower is better" in str(response.context["report"].chart)


# --- 5. screening and safety -----------------------------------------------------------------------------


def test_screening_forms_flags_decisions_suspensions_and_check_ins(admin):
    from bookings.models import AftercareCheckIn
    from consultations.models import IntakeForm, Review, ScreeningFlag

    p1 = PractitionerFactory(user__first_name="Ada", user__last_name="One")
    sent = at("2026-03-02", "09:00")
    forms = [
        IntakeForm.objects.create(patient=PatientFactory(), status="awaiting_review", version=1, submitted_at=sent)
        for _ in range(3)
    ]
    IntakeForm.objects.create(
        patient=PatientFactory(), status="awaiting_review", version=1, submitted_at=at("2026-04-01", "09:00")
    )
    for form, topic in zip(forms, ["Anticoagulant", "Anticoagulant", "Pregnancy"], strict=True):
        flag = ScreeningFlag.objects.create(
            intake=form,
            intake_version=1,
            severity="review",
            topic=topic,
            answer="yes",
            patient_text="",
            practitioner_text="",
        )
        ScreeningFlag.objects.filter(pk=flag.pk).update(created_at=sent)

    def review(form, decision, decided, **extra):
        return Review.objects.create(
            intake=form, intake_version=1, reviewer=p1.user, decision=decision, decided_at=decided, **extra
        )

    review(forms[0], "cleared", at("2026-03-02", "15:00"))  # 6 hours
    review(forms[1], "cleared", at("2026-03-03", "09:00"), suspended_at=at("2026-03-05", "09:00"))  # 24 hours
    review(forms[2], "declined", at("2026-03-02", "12:00"))  # 3 hours
    visit = appointment(p1, at("2026-03-02", "10:00"))
    for answer, attention, followed in (("infection", True, "12:30"), ("other", True, None), ("fine", False, None)):
        check_in = AftercareCheckIn.objects.create(appointment=visit, answer=answer, needs_attention=attention)
        AftercareCheckIn.objects.filter(pk=check_in.pk).update(
            created_at=at("2026-03-05", "10:00"), followed_up_at=at("2026-03-05", followed) if followed else None
        )

    from bookings.models import SignedLink

    link = SignedLink.objects.create(
        token_hash="0" * 64, patient=forms[0].patient, action="health_form", expires_at=sent, sent_by=p1.user
    )
    SignedLink.objects.filter(pk=link.pk).update(created_at=at("2026-03-01", "12:00"))
    SignedLink.objects.create(token_hash="1" * 64, patient=forms[1].patient, action="health_form", expires_at=sent)

    response = page(admin, "screening", start="2026-03-01", end="2026-03-31")

    assert response.status_code == 200
    summary = dict(response.context["report"].summary)
    assert summary["Form links sent by the desk"] == "1"  # the other was in a reminder, and sent today
    assert summary["Health forms sent"] == "3"
    assert summary["Decisions"] == "3"
    assert summary["Average wait for a decision"] == "11.0 h"
    assert summary["Clearances suspended"] == "1"
    assert summary["Concerning check-ins"] == "2"
    assert summary["Not yet followed up"] == "1"
    assert rows_by_label(response, "flags") == {"Anticoagulant": ["review", "2"], "Pregnancy": ["review", "1"]}
    assert rows_by_label(response, "decisions") == {"Cleared": ["2", "15.0", "24.0"], "Declined": ["1", "3.0", "3.0"]}
    assert rows_by_label(response, "aftercare")["Followed up: average time"] == ["1", "2.5"]


# --- 6. messages -----------------------------------------------------------------------------------------


def test_messages_sent_failed_and_retried_by_kind_and_channel(admin):
    visit = appointment(PractitionerFactory(), at("2026-03-10", "10:00"), status=S.BOOKED)
    other = appointment(PractitionerFactory(), at("2026-03-11", "10:00"), status=S.BOOKED)
    due = at("2026-03-09", "10:00")
    for target, kind, channel, status, attempts in (
        (visit, "reminder_24h", "email", "sent", 1),
        (other, "reminder_24h", "email", "sent", 3),
        (visit, "reminder_24h", "sms", "failed", 5),
        (other, "reminder_24h", "sms", "sent", 1),
        (visit, "pre_care", "email", "uncertain", 1),
        (other, "pre_care", "email", "cancelled", 0),
    ):
        Reminder.objects.create(
            appointment=target,
            kind=kind,
            channel=channel,
            due_at=due,
            next_attempt_at=due,
            status=status,
            attempts=attempts,
            sent_at=due if status == "sent" else None,
        )
    Reminder.objects.create(
        appointment=visit, kind="confirmation", due_at=at("2026-02-01", "10:00"), next_attempt_at=due, status="failed"
    )  # outside the range

    response = page(admin, "messages", start="2026-03-01", end="2026-03-31")

    assert response.status_code == 200
    rows = [row for row in table(response, "messages").rows]
    assert rows == [
        ["Pre-care (7 days before)", "Email", "2", "0", "0", "-", "0", "1", "1", "0"],
        ["Appointment reminder (24 hours before)", "Email", "2", "2", "0", "0.0", "1", "0", "0", "0"],
        ["Appointment reminder (24 hours before)", "Text message", "2", "1", "1", "50.0", "1", "0", "0", "0"],
    ]
    summary = dict(response.context["report"].summary)
    assert (summary["Messages due"], summary["Sent"], summary["Failed"], summary["Retried"]) == ("6", "3", "1", "2")


def test_the_autumn_clock_change_day_is_25_hours_of_the_clinic_s_sunday(admin):
    """Sunday 25 October 2026, clocks back at 02:00 BST: the day runs from 23:00 UTC on the 24th to 00:00 UTC
    on the 26th. A visit at 00:30 BST (23:30 UTC on Saturday) is Sunday's; one at 00:30 GMT on Monday is not."""
    p1 = PractitionerFactory(user__first_name="Ada", user__last_name="One")
    early = appointment(p1, at("2026-10-25", "00:30"), status=S.NO_SHOW)
    assert early.start_at == datetime.datetime(2026, 10, 24, 23, 30, tzinfo=datetime.UTC)
    appointment(p1, at("2026-10-25", "10:00"))
    appointment(p1, at("2026-10-26", "00:30"), status=S.NO_SHOW)

    response = page(admin, "attendance", start="2026-10-25", end="2026-10-25")

    assert rows_by_label(response, "weekdays") == {"Sunday": ["2", "1", "1", "50.0", "0", "0.0", "0"]}
    heat = page(admin, "utilisation", start="2026-10-25", end="2026-10-25")
    assert rows_by_label(heat, "practitioners") == {"Ada One": ["2", "2.0", "0.0", "-", "1.0"]}


def test_a_site_keeps_its_rooms_hours_and_closures(admin):
    """Two sites: P1 works Mondays 09-13 at the main site and Tuesdays 09-13 at Manchester. The Manchester
    report counts the Tuesday visit in its room against the Tuesday hours; a closure of the main site on
    Monday 6 April takes nothing from Manchester."""
    from clinic.models import default_site
    from tests.factories import SiteFactory

    main, manchester = default_site(), SiteFactory(name="Manchester", slug="manchester")
    p1 = PractitionerFactory(user__first_name="Ada", user__last_name="One")
    WorkingHoursFactory(practitioner=p1, weekday=0, start=datetime.time(9), end=datetime.time(13), site=main)
    WorkingHoursFactory(practitioner=p1, weekday=1, start=datetime.time(9), end=datetime.time(13), site=manchester)
    Closure.objects.create(
        first_day=datetime.date(2026, 4, 6), last_day=datetime.date(2026, 4, 6), reason="Training", site=main
    )
    appointment(p1, at("2026-03-30", "09:00"), room=RoomFactory(name="Room 1", site=main))
    appointment(p1, at("2026-03-31", "09:00"), minutes=120, room=RoomFactory(name="North", site=manchester))

    both = page(admin, "utilisation", start="2026-03-30", end="2026-04-12")
    assert rows_by_label(both, "practitioners") == {"Ada One": ["2", "3.0", "12.0", "25.0", "0.0"]}
    north = page(admin, "utilisation", start="2026-03-30", end="2026-04-12", site=manchester.pk)
    assert rows_by_label(north, "practitioners") == {"Ada One": ["1", "2.0", "8.0", "25.0", "0.0"]}
    assert rows_by_label(north, "rooms") == {"North": ["1", "2.0", "8.0", "25.0"]}
    attendance = page(admin, "attendance", start="2026-03-30", end="2026-04-12", site=manchester.pk)
    assert dict(attendance.context["report"].summary)["Appointments due"] == "1"
    assert "Manchester" in str(attendance.context["report"].chart)
    assert page(admin, "utilisation", site="nowhere").status_code == 400


def test_all_sites_take_a_closure_only_from_its_own_site(admin):
    """Monday 30 March: P1 works at the main site, P2 at Manchester, which is closed that day. Across all
    sites, the main site's hours and room stay open; Manchester's are gone (a closure of one site used to
    close every site in the all-sites report)."""
    from clinic.models import default_site
    from tests.factories import SiteFactory

    main, manchester = default_site(), SiteFactory(name="Manchester", slug="manchester")
    p1 = PractitionerFactory(user__first_name="Ada", user__last_name="One")
    p2 = PractitionerFactory(user__first_name="Bo", user__last_name="Two")
    WorkingHoursFactory(practitioner=p1, weekday=0, start=datetime.time(9), end=datetime.time(13), site=main)
    WorkingHoursFactory(practitioner=p2, weekday=0, start=datetime.time(9), end=datetime.time(13), site=manchester)
    Closure.objects.create(
        first_day=datetime.date(2026, 3, 30), last_day=datetime.date(2026, 3, 30), reason="Flood", site=manchester
    )
    RoomFactory(name="North", site=manchester)
    appointment(p1, at("2026-03-30", "09:00"), room=RoomFactory(name="Room 1", site=main))

    every_site = page(admin, "utilisation", start="2026-03-30", end="2026-04-05")
    assert rows_by_label(every_site, "practitioners") == {"Ada One": ["1", "1.0", "4.0", "25.0", "0.0"]}
    assert rows_by_label(every_site, "rooms") == {
        "Room 1": ["1", "1.0", "4.0", "25.0"],
        "North": ["0", "0.0", "0.0", "-"],
    }
    assert dict(every_site.context["report"].summary)["Working hours"] == "4.0"
