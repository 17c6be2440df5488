"""A patient of a two-site clinic (London and Manchester, as the demo) books at each site in a real
browser: the site select reloads the times in place, and the confirmation names the chosen site."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Appointment
from clinic.models import default_site
from tests.e2e.helpers import assert_accessible, sign_in
from tests.factories import (
    ClearedPatientFactory,
    PractitionerFactory,
    RoomFactory,
    SiteFactory,
    TreatmentFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_patient_books_at_each_of_two_sites(page):
    london = default_site()
    manchester = SiteFactory(name="Manchester", slug="manchester", address="1 King Street, Manchester M2 4LQ")
    thighs = TreatmentFactory(name="Microneedling: thighs", slug="microneedling-thighs")
    abdomen = TreatmentFactory(name="Microneedling: abdomen", slug="microneedling-abdomen")
    RoomFactory(name="Harley 1", site=london)
    RoomFactory(name="King St 1", site=manchester)
    practitioner = PractitionerFactory(user__first_name="Sofia", user__last_name="Reyes", treatments=[thighs, abdomen])
    for weekday in range(7):  # mornings in London, afternoons in Manchester (the travel time between)
        WorkingHoursFactory(
            practitioner=practitioner, site=london, weekday=weekday, start=datetime.time(9), end=datetime.time(12)
        )
        WorkingHoursFactory(
            practitioner=practitioner, site=manchester, weekday=weekday, start=datetime.time(14), end=datetime.time(17)
        )
    patient = ClearedPatientFactory()
    day = timezone.localdate() + datetime.timedelta(days=10)
    sign_in(page, patient.user.email)

    for treatment, site, room, time in (
        (thighs, manchester, "King St 1", "15:00"),
        (abdomen, london, "Harley 1", "10:00"),
    ):
        page.goto(f"{page.base_url}/book/{treatment.slug}/")
        page.get_by_label("Day", exact=True).fill(day.isoformat())
        page.get_by_label("Day", exact=True).dispatch_event("change")
        expect(page.get_by_role("heading", name=f"{day:%A} {day.day} {day:%B %Y}")).to_be_visible()
        page.get_by_label("Site", exact=True).select_option(label=site.name)  # the times reload for that site
        at_site = page.locator(f'#times a[href*="&site={site.pk}"]')
        expect(page.locator("#times a[href*='&site=']").first).to_be_visible()
        expect(page.locator(f'#times a[href*="&site="]:not([href*="&site={site.pk}"])')).to_have_count(0)
        assert_accessible(page)  # waits until every answer for the day and the site is swapped in
        at_site.filter(has_text=time).first.click()
        expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()
        expect(page.get_by_text(room)).to_be_visible()
        page.get_by_role("button", name="Book this time").click()
        expect(page.get_by_text("You are booked")).to_be_visible()
        assert Appointment.objects.get(treatment=treatment).site == site

    assert Appointment.objects.count() == 2
