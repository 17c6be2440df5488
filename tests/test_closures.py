"""Clinic closures (issue #15 part 3): bank holidays in England and Wales and the clinic's own closures offer
no time, online or at the desk; appointments already booked on a closed day are listed for the desk to move;
the desk and admins edit practitioners' hours and time off on /desk/rota/ with the admin's checks."""

import datetime
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.availability import available_slots, check_slot, offered_slots
from bookings.models import Appointment
from clinic import closures, roles
from clinic.models import Closure, TimeOff, WorkingHours
from tests.factories import (
    AppointmentFactory,
    ClearedPatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    staff_user,
)
from tests.helpers import at, book_online, open_every_day

pytestmark = pytest.mark.django_db

CHRISTMAS = datetime.date(2026, 12, 25)
BEFORE_CHRISTMAS = datetime.datetime(2026, 12, 1, 9, tzinfo=datetime.UTC)


@pytest.fixture
def clinic():
    treatment = TreatmentFactory(duration_minutes=60, buffer_after_minutes=0, needs_cleared_intake=False)
    RoomFactory()
    practitioner = open_every_day(PractitionerFactory(treatments=[treatment]))
    return treatment, practitioner


def test_bank_holidays_of_england_and_wales_come_from_the_holidays_package(bank_holidays):
    days = closures.bank_holidays(datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    assert days[CHRISTMAS] == "Christmas Day"
    assert days[datetime.date(2026, 8, 31)] == "Late Summer Bank Holiday"
    assert days[datetime.date(2026, 12, 28)] == "Boxing Day (observed)"
    assert datetime.date(2026, 3, 17) not in days  # St Patrick's Day: Northern Ireland only
    assert datetime.date(2026, 11, 30) not in days  # St Andrew's Day: Scotland only
    assert len(days) == 9


def test_a_bank_holiday_offers_no_time_and_cannot_be_booked(clinic, bank_holidays):
    treatment, practitioner = clinic
    days = available_slots(
        treatment, practitioner, CHRISTMAS - datetime.timedelta(days=1), CHRISTMAS, now=BEFORE_CHRISTMAS
    )
    assert days[CHRISTMAS] == [] and days[CHRISTMAS - datetime.timedelta(days=1)]
    verdict, _ = check_slot(treatment, practitioner, at(CHRISTMAS, 10), now=BEFORE_CHRISTMAS)
    assert verdict.name == "NOT_OFFERED"


def test_a_clinic_that_opens_on_bank_holidays_can_say_so(clinic, settings):
    settings.CLINIC = {**settings.CLINIC, "CLOSED_ON_BANK_HOLIDAYS": False}
    treatment, practitioner = clinic
    assert available_slots(treatment, practitioner, CHRISTMAS, CHRISTMAS, now=BEFORE_CHRISTMAS)[CHRISTMAS]


def test_the_clinics_own_closure_closes_every_day_it_covers_for_everyone(clinic):
    treatment, practitioner = clinic
    day = timezone.localdate() + datetime.timedelta(days=10)
    Closure.objects.create(first_day=day, last_day=day + datetime.timedelta(days=1), reason="Staff training")
    days = offered_slots(treatment, None, day - datetime.timedelta(days=1), day + datetime.timedelta(days=2))
    assert [bool(days[d]) for d in sorted(days)] == [True, False, False, True]
    with pytest.raises(services.SlotNotOffered):
        book_online(ClearedPatientFactory(), treatment, practitioner, at(day, 10))


def test_a_new_closure_reaches_cached_availability_at_once(clinic):
    treatment, practitioner = clinic
    day = timezone.localdate() + datetime.timedelta(days=10)
    assert offered_slots(treatment, practitioner, day, day)[day]
    Closure.objects.create(first_day=day, last_day=day, reason="Flood")
    assert offered_slots(treatment, practitioner, day, day)[day] == []


@pytest.fixture
def desk(client):
    user = staff_user(roles.FRONT_DESK)
    client.force_login(user)
    return user


def test_the_desk_closes_the_clinic_and_sees_the_appointments_to_move(client, desk, clinic):
    treatment, practitioner = clinic
    day = timezone.localdate() + datetime.timedelta(days=12)
    stranded = AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=at(day, 11))
    AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=at(day, 14), status="cancelled")
    response = client.post(reverse("desk:closures"), {"first_day": day.isoformat(), "last_day": "", "reason": "Boiler"})
    assert response.status_code == 302
    closure = Closure.objects.get()
    assert (closure.first_day, closure.last_day, closure.created_by) == (day, day, desk)
    page = client.get(reverse("desk:closures")).content.decode()
    assert "1 appointment booked on closed days" in page
    assert reverse("desk:move", args=[stranded.pk]) in page
    assert page.count('href="/desk/appointments/') == 1
    calendar = client.get(reverse("desk:calendar"), {"date": day.isoformat()}).content.decode()
    assert "Closed: Boiler." in calendar
    client.post(reverse("desk:closure_remove", args=[closure.pk]))
    assert not Closure.objects.exists()


def test_bank_holidays_are_listed_with_their_appointments(client, desk, clinic, bank_holidays):
    treatment, practitioner = clinic
    today = timezone.localdate()
    holiday = min(closures.bank_holidays(today, today + datetime.timedelta(days=366)))
    AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=at(holiday, 10))
    page = client.get(reverse("desk:closures")).content.decode()
    assert f"{holiday:%a} {holiday.day} {holiday:%b %Y}" in page and "Bank holiday" in page
    assert "1 appointment booked on closed days" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"first_day": "2030-05-02", "last_day": "2030-05-01", "reason": "Oops"}, "cannot be before the first"),
        ({"first_day": "2030-13-01", "last_day": "", "reason": "Oops"}, "Enter a valid date"),
        ({"first_day": "2030-05-02", "last_day": "", "reason": ""}, "This field is required"),
    ],
)
def test_a_bad_closure_is_refused_and_nothing_is_saved(client, desk, data, message):
    response = client.post(reverse("desk:closures"), data)
    assert response.status_code == 200 and message in response.content.decode()
    assert not Closure.objects.exists()


def test_the_desk_edits_hours_and_adds_time_off_and_sees_what_to_move(client, desk, clinic):
    treatment, practitioner = clinic
    day = timezone.localdate() + datetime.timedelta(days=8)
    booked = AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=at(day, 10))
    page = client.get(reverse("desk:rota_edit", args=[practitioner.pk]))
    assert page.status_code == 200
    from tests.browser_forms import submitted_data

    data = submitted_data(page.content.decode(), action="")
    data["hours-0-end"] = ["13:00"]
    data["off-0-start_at_0"], data["off-0-start_at_1"] = [day.isoformat()], ["09:00"]
    data["off-0-end_at_0"], data["off-0-end_at_1"] = [day.isoformat()], ["17:00"]
    data["off-0-reason"] = ["Course"]
    response = client.post(reverse("desk:rota_edit", args=[practitioner.pk]), data, follow=True)
    assert "hours and time off are saved" in response.content.decode()
    assert WorkingHours.objects.filter(practitioner=practitioner, end=datetime.time(13)).count() == 1
    off = TimeOff.objects.get(practitioner=practitioner)
    assert (off.start_at, off.end_at) == (at(day, 9), at(day, 17))
    assert reverse("desk:move", args=[booked.pk]) in response.content.decode()


def test_hours_that_overlap_or_end_before_they_start_are_refused_as_in_the_admin(client, desk, clinic):
    treatment, practitioner = clinic
    WorkingHours.objects.filter(practitioner=practitioner).delete()
    WorkingHoursFactory(practitioner=practitioner, weekday=0, start=datetime.time(9), end=datetime.time(12))
    base = {
        "hours-TOTAL_FORMS": "2",
        "hours-INITIAL_FORMS": "0",
        "off-TOTAL_FORMS": "0",
        "off-INITIAL_FORMS": "0",
    }
    WorkingHours.objects.filter(practitioner=practitioner).delete()
    overlapping = {
        **base,
        "hours-0-weekday": "1",
        "hours-0-start": "09:00",
        "hours-0-end": "12:00",
        "hours-1-weekday": "1",
        "hours-1-start": "11:00",
        "hours-1-end": "15:00",
    }
    response = client.post(reverse("desk:rota_edit", args=[practitioner.pk]), overlapping)
    assert "These hours overlap another span" in response.content.decode()
    backwards = {
        **base,
        "hours-TOTAL_FORMS": "1",
        "hours-0-weekday": "1",
        "hours-0-start": "12:00",
        "hours-0-end": "09:00",
    }
    response = client.post(reverse("desk:rota_edit", args=[practitioner.pk]), backwards)
    assert "The end must be after the start." in response.content.decode()
    bad_off = {
        **base,
        "hours-TOTAL_FORMS": "0",
        "off-TOTAL_FORMS": "1",
        "off-0-start_at_0": "2030-01-02",
        "off-0-start_at_1": "12:00",
        "off-0-end_at_0": "2030-01-02",
        "off-0-end_at_1": "09:00",
        "off-0-reason": "",
    }
    response = client.post(reverse("desk:rota_edit", args=[practitioner.pk]), bad_off)
    assert "The end must be after the start." in response.content.decode()
    assert not WorkingHours.objects.filter(practitioner=practitioner).exists()
    assert not TimeOff.objects.exists()
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["error"]


def test_a_rota_submission_claiming_millions_of_rows_is_refused_having_shown_a_hundred(client, desk, clinic):
    """A tampered TOTAL_FORMS (a number, so the management form is valid) is refused after building at most
    100 rows of each formset, not Django's default of 2,000 (about 1 s of work a request)."""
    _, practitioner = clinic
    huge = {"TOTAL_FORMS": "2147483648", "INITIAL_FORMS": "0"}
    data = {f"{prefix}-{key}": value for prefix in ("hours", "off") for key, value in huge.items()}
    response = client.post(reverse("desk:rota_edit", args=[practitioner.pk]), data)
    page = response.content.decode()
    assert response.status_code == 200 and "Please submit at most 100 forms." in page
    assert len(re.findall(r'name="hours-\d+-weekday"', page)) == 100
    assert len(re.findall(r'name="off-\d+-reason"', page)) == 100
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["error"]


def test_patients_and_practitioners_cannot_change_the_rota_or_closures(client, clinic):
    _, practitioner = clinic
    client.force_login(practitioner.user)
    assert client.get(reverse("desk:rota_edit", args=[practitioner.pk])).status_code == 403
    assert client.post(reverse("desk:closures"), {"first_day": "2030-01-01", "reason": "x"}).status_code == 403
    assert not Closure.objects.exists()


def test_the_patients_times_list_says_the_clinic_is_closed(client, clinic):
    treatment, practitioner = clinic
    patient = ClearedPatientFactory()
    day = timezone.localdate() + datetime.timedelta(days=10)
    Closure.objects.create(first_day=day, last_day=day, reason="Staff training")
    client.force_login(patient.user)
    html = client.get(
        reverse("book_times", args=[treatment.slug]), {"day": day.isoformat(), "practitioner": practitioner.pk}
    ).content.decode()
    assert "The clinic is closed on this day (Staff training)." in html
    assert Appointment.objects.count() == 0


@pytest.fixture
def manchester(clinic):
    """A second site with a room; the clinic's practitioner works there too."""
    from clinic.models import default_site
    from tests.factories import SiteFactory

    treatment, practitioner = clinic
    site = SiteFactory(name="Manchester", slug="manchester", bank_holidays="")
    room = RoomFactory(name="King St 1", site=site)
    return default_site(), site, room


def test_the_desk_closes_one_site_and_moves_only_that_site_s_appointments(client, desk, clinic, manchester):
    treatment, practitioner = clinic
    london, site, king_street = manchester
    day = timezone.localdate() + datetime.timedelta(days=12)
    at_london = AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=at(day, 9))
    other = PractitionerFactory(treatments=[treatment])
    at_manchester = AppointmentFactory(practitioner=other, treatment=treatment, room=king_street, start_at=at(day, 15))
    form = client.get(reverse("desk:closures")).content.decode()
    assert "Every site" in form and ">Manchester</option>" in form
    response = client.post(
        reverse("desk:closures"),
        {"first_day": day.isoformat(), "last_day": "", "reason": "Flood", "where": str(site.pk)},
    )
    assert response.status_code == 302
    closure = Closure.objects.get()
    assert closure.site == site
    assert [str(m) for m in get_messages(response.wsgi_request)][0].startswith("Manchester is closed: Flood")
    page = client.get(reverse("desk:closures")).content.decode()
    assert "1 appointment booked on closed days" in page
    assert f"{day:%a} {day.day} {day:%b %Y}</span> · Manchester · Flood" in page
    assert reverse("desk:move", args=[at_manchester.pk]) in page
    assert reverse("desk:move", args=[at_london.pk]) not in page
    # London stays bookable that day; Manchester offers nothing.
    assert offered_slots(treatment, other, day, day, site=site)[day] == []


def test_a_site_that_is_not_there_is_refused_and_nothing_saved(client, desk, clinic, manchester):
    day = timezone.localdate() + datetime.timedelta(days=12)
    response = client.post(
        reverse("desk:closures"), {"first_day": day.isoformat(), "reason": "Flood", "where": "999999"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Closure.objects.exists()


def test_one_site_s_bank_holiday_lists_only_that_site_s_appointments(client, desk, clinic, manchester, bank_holidays):
    """London closes on England's bank holidays; this Manchester has none: only London's appointment is listed,
    under a row that names London."""
    treatment, practitioner = clinic
    london, site, king_street = manchester
    today = timezone.localdate()
    holiday = min(closures.bank_holidays(today, today + datetime.timedelta(days=366)))
    at_london = AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=at(holiday, 10))
    other = PractitionerFactory(treatments=[treatment])
    at_manchester = AppointmentFactory(
        practitioner=other, treatment=treatment, room=king_street, start_at=at(holiday, 10)
    )
    page = client.get(reverse("desk:closures")).content.decode()
    assert f"{holiday:%a} {holiday.day} {holiday:%b %Y}</span> · {london.name} · " in page
    assert reverse("desk:move", args=[at_london.pk]) in page
    assert reverse("desk:move", args=[at_manchester.pk]) not in page
