"""Booking by site through the patient's pages (issue 17): the booking page offers "Any site" or one site
when the treatment is had at several; the times are shown on the chosen site's clock; the time chosen is
booked at that site, in one of its rooms; a move stays at its site; a site that does not offer the treatment
is refused with a message."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from bookings.models import Appointment
from clinic.models import default_site
from tests.factories import (
    ClearedPatientFactory,
    PractitionerFactory,
    RoomFactory,
    SiteFactory,
    TreatmentFactory,
    WorkingHoursFactory,
)
from tests.helpers import set_clock

pytestmark = pytest.mark.django_db

MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime.datetime(2027, 2, 1, 8, tzinfo=datetime.UTC)  # a Monday, winter: Madrid is UTC+1, London UTC
WEDNESDAY, FRIDAY = datetime.date(2027, 2, 10), datetime.date(2027, 2, 12)


@pytest.fixture
def clinic(monkeypatch, settings, client):
    """London (the default site) on Wednesdays and Madrid on Fridays: one practitioner, a room at each."""
    set_clock(monkeypatch, NOW)
    settings.CLINIC = {**settings.CLINIC, "HORIZON_DAYS": 60}
    london = default_site()
    madrid = SiteFactory(name="Madrid Salamanca", slug="madrid", time_zone="Europe/Madrid")
    treatment = TreatmentFactory(name="Microneedling: thighs", duration_minutes=60, buffer_after_minutes=0)
    london_room, madrid_room = RoomFactory(name="Harley 1", site=london), RoomFactory(name="Serrano 1", site=madrid)
    practitioner = PractitionerFactory(treatments=[treatment], user__first_name="Amelia", user__last_name="Hart")
    for site, weekday in ((london, WEDNESDAY.weekday()), (madrid, FRIDAY.weekday())):
        WorkingHoursFactory(
            practitioner=practitioner, site=site, weekday=weekday, start=datetime.time(9), end=datetime.time(11)
        )
    patient = ClearedPatientFactory()
    client.force_login(patient.user)
    return {
        "london": london,
        "madrid": madrid,
        "treatment": treatment,
        "practitioner": practitioner,
        "rooms": (london_room, madrid_room),
        "patient": patient,
    }


def times(client, treatment, **query):
    return client.get(reverse("book_times", args=[treatment.slug]), query).content.decode()


def test_the_booking_page_offers_any_site_or_each_site(client, clinic):
    page = client.get(reverse("book_treatment", args=[clinic["treatment"].slug])).content.decode()
    assert '<select name="site"' in page
    assert ">Any site</option>" in page and ">Madrid Salamanca</option>" in page
    assert f">{clinic['london'].name}</option>" in page


def test_times_at_madrid_are_shown_on_madrids_clock_and_booked_there(client, clinic):
    treatment, madrid = clinic["treatment"], clinic["madrid"]
    body = times(client, treatment, site=madrid.pk, practitioner="", day=FRIDAY.isoformat())
    # 09:00 in Madrid is 08:00 UTC in winter: shown as 09:00, sent as 08:00Z, with Madrid's site.
    assert ">09:00" in body and "start=2027-02-12T08:00Z&amp;site=" + str(madrid.pk) in body
    assert ">08:00" not in body
    confirm = client.get(
        reverse("book_confirm", args=[treatment.slug]),
        {"practitioner": clinic["practitioner"].pk, "start": "2027-02-12T08:00Z", "site": madrid.pk},
    ).content.decode()
    assert "Madrid Salamanca" in confirm and f'name="site" value="{madrid.pk}"' in confirm
    response = client.post(
        reverse("book_confirm", args=[treatment.slug]),
        {"practitioner": clinic["practitioner"].pk, "start": "2027-02-12T08:00Z", "site": madrid.pk},
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get(patient=clinic["patient"])
    assert appointment.site == madrid and appointment.room == clinic["rooms"][1]
    assert appointment.start_at == datetime.datetime(2027, 2, 12, 9, tzinfo=MADRID)


def test_london_shows_nothing_on_madrids_day_and_any_site_names_the_site(client, clinic):
    treatment, london = clinic["treatment"], clinic["london"]
    assert "No free times this day." in times(client, treatment, site=london.pk, day=FRIDAY.isoformat())
    any_site = times(client, treatment, site="", day=FRIDAY.isoformat())
    assert ">09:00" in any_site and "Madrid Salamanca</small>" in any_site
    wednesday = times(client, treatment, site="", day=WEDNESDAY.isoformat())
    assert ">09:00" in wednesday and f"{london.name}</small>" in wednesday and "2027-02-10T09:00Z" in wednesday


def test_a_site_that_does_not_offer_the_treatment_is_refused_with_a_message(client, clinic):
    treatment = clinic["treatment"]
    treatment.sites.set([clinic["london"]])  # now only at London
    body = times(client, treatment, site=clinic["madrid"].pk, day=FRIDAY.isoformat())
    assert "This treatment is not offered at that site: choose another." in body
    response = client.post(
        reverse("book_confirm", args=[treatment.slug]),
        {"practitioner": clinic["practitioner"].pk, "start": "2027-02-12T08:00Z", "site": clinic["madrid"].pk},
    )
    assert response.status_code == 400 and not Appointment.objects.exists()


def test_a_move_stays_at_its_site_on_its_clock(client, clinic):
    treatment, madrid = clinic["treatment"], clinic["madrid"]
    client.post(
        reverse("book_confirm", args=[treatment.slug]),
        {"practitioner": clinic["practitioner"].pk, "start": "2027-02-12T08:00Z", "site": madrid.pk},
    )
    appointment = Appointment.objects.get(patient=clinic["patient"])
    page = client.get(reverse("appointment_reschedule", args=[appointment.pk])).content.decode()
    assert f'<option value="{madrid.pk}" selected>' in page
    confirm = client.get(
        reverse("appointment_reschedule", args=[appointment.pk]),
        {"practitioner": clinic["practitioner"].pk, "start": "2027-02-19T09:00Z", "site": madrid.pk},
    ).content.decode()
    assert "10:00" in confirm and "at Madrid Salamanca" in confirm  # 09:00 UTC is 10:00 in Madrid
    client.post(
        reverse("appointment_reschedule", args=[appointment.pk]),
        {"practitioner": clinic["practitioner"].pk, "start": "2027-02-19T09:00Z", "site": madrid.pk},
    )
    appointment.refresh_from_db()
    assert appointment.site == madrid and appointment.start_at == datetime.datetime(2027, 2, 19, 10, tzinfo=MADRID)


# --- a practitioner's working hours name their site -------------------------------------------------------


def test_a_practitioner_saves_a_span_at_the_second_site_and_the_page_saves_unchanged(client, clinic):
    from clinic.models import WorkingHours
    from tests.browser_forms import submitted_data

    practitioner, madrid = clinic["practitioner"], clinic["madrid"]
    client.force_login(practitioner.user)
    url = reverse("practitioner_edit", args=[practitioner.slug])
    page = client.get(url).content.decode()
    assert '<th scope="col">Site</th>' in page
    data = submitted_data(page, action="")
    data["hours-2-site"], data["hours-2-weekday"] = [str(madrid.pk)], ["0"]  # a Monday morning in Madrid
    data["hours-2-start"], data["hours-2-end"] = ["09:00"], ["12:00"]
    assert client.post(url, data).status_code == 302
    assert WorkingHours.objects.get(practitioner=practitioner, weekday=0).site == madrid
    before = sorted(WorkingHours.objects.values_list("site", "weekday", "start", "end"))
    page = client.get(url).content.decode()
    assert client.post(url, submitted_data(page, action="")).status_code == 302  # saved unchanged
    assert sorted(WorkingHours.objects.values_list("site", "weekday", "start", "end")) == before


def test_with_one_site_the_hours_table_has_no_site_column_and_spans_join_it(client, clinic):
    from clinic.models import WorkingHours
    from tests.browser_forms import submitted_data

    clinic["madrid"].working_hours.all().delete()
    clinic["madrid"].rooms.all().delete()
    clinic["madrid"].delete()
    practitioner = clinic["practitioner"]
    client.force_login(practitioner.user)
    url = reverse("practitioner_edit", args=[practitioner.slug])
    page = client.get(url).content.decode()
    assert '<th scope="col">Site</th>' not in page
    data = submitted_data(page, action="")
    data["hours-1-weekday"], data["hours-1-start"], data["hours-1-end"] = ["0"], ["09:00"], ["12:00"]
    assert client.post(url, data).status_code == 302
    assert WorkingHours.objects.get(practitioner=practitioner, weekday=0).site == clinic["london"]
