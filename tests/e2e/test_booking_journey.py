"""A patient books, sees and cancels an appointment in a real browser; the times load in place (htmx)."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Appointment
from tests.e2e.helpers import assert_accessible, open_menu_if_collapsed, sign_in, wait_for_htmx
from tests.factories import (
    ClearedPatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_patient_books_then_cancels(page):
    treatment = TreatmentFactory(name="Microneedling: thighs", slug="microneedling-thighs")
    RoomFactory(name="Room 1")
    practitioner = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart", treatments=[treatment])
    for weekday in range(7):
        WorkingHoursFactory(practitioner=practitioner, weekday=weekday, start=datetime.time(9), end=datetime.time(12))
    patient = ClearedPatientFactory()
    day = timezone.localdate() + datetime.timedelta(days=10)

    sign_in(page, patient.user.email)
    page.goto(page.base_url + "/treatments/microneedling-thighs/")
    page.get_by_role("link", name="Book online").click()
    assert_accessible(page)
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Day", exact=True).fill(day.isoformat())
    page.get_by_label("Day", exact=True).dispatch_event("change")
    expect(page.get_by_role("heading", name=f"{day:%A} {day.day} {day:%B %Y}")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True  # swapped in place, no full reload
    # fill() and the change event each ask for the times: wait until both answers are swapped in, or the
    # click can land on a list that is being replaced and go nowhere.
    wait_for_htmx(page)
    page.locator("#times").get_by_role("link", name="10:00").click()

    expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_text("You are booked")).to_be_visible()
    expect(page.get_by_text("Room 1")).to_be_visible()
    assert_accessible(page)
    appointment = Appointment.objects.get()

    open_menu_if_collapsed(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My appointments").click()
    assert_accessible(page)
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("button", name="Cancel this appointment").click()
    expect(page.get_by_text("is cancelled")).to_be_visible()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
