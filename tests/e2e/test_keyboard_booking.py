"""Booking by keyboard alone (Tab, Shift+Tab, arrow keys, Enter, Space; no mouse), at desktop and phone size:
anyone who cannot use a pointer can still choose a practitioner, a day and a time, and book."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Appointment
from tests.e2e.helpers import sign_in
from tests.factories import (
    ClearedPatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

MAX_TABS = 60


def tab_to(page, selector, *, backwards=False) -> str:
    """Press Tab (or Shift+Tab) until an element matching the CSS selector has the focus, as a keyboard user
    would; returns its text."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return page.evaluate("() => document.activeElement.innerText.trim()")
    raise AssertionError(f"Tab never reached {selector!r}")


def test_patient_books_with_the_keyboard_only(page):
    treatment = TreatmentFactory(name="Microneedling: thighs", slug="microneedling-thighs")
    RoomFactory(name="Room 1")
    for first, last in [("Amelia", "Hart"), ("Ben", "Osei")]:
        practitioner = PractitionerFactory(user__first_name=first, user__last_name=last, treatments=[treatment])
        for weekday in range(7):
            WorkingHoursFactory(
                practitioner=practitioner, weekday=weekday, start=datetime.time(9), end=datetime.time(12)
            )
    patient = ClearedPatientFactory()

    sign_in(page, patient.user.email)
    page.goto(page.base_url + "/book/")

    tab_to(page, "a[href$='/book/microneedling-thighs/']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Microneedling: thighs")).to_be_visible()

    # Practitioner: arrow keys on the list (First available, Amelia Hart, Ben Osei); the times follow (htmx).
    tab_to(page, "#id_practitioner")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#id_practitioner")).to_have_value(str(practitioner.pk))
    expect(page.locator(f"#times a[href*='practitioner={practitioner.pk}']").first).to_be_attached()

    # Day: the first of the other days with free times (whatever the hour now); its times swap in.
    page.locator("#times").get_by_text("Days with free times").wait_for()
    day_text = tab_to(page, "#times-list ul:not(.times) a")
    page.keyboard.press("Enter")
    expect(page.locator("#times h2")).to_contain_text(day_text.split()[1] + " " + _month(day_text))
    heading = page.locator("#times h2").inner_text()

    # Time: past the first time to the second, back with Shift+Tab; Enter follows the link.
    first_time = tab_to(page, "#times .times a")
    tab_to(page, "#times .times a")
    assert tab_to(page, "#times .times a", backwards=True) == first_time
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()
    expect(page.get_by_text("Ben Osei")).to_be_visible()

    tab_to(page, "button[type=submit].btn-lg")
    page.keyboard.press("Space")
    expect(page.get_by_text("You are booked")).to_be_visible()

    appointment = Appointment.objects.get()
    start = timezone.localtime(appointment.start_at)
    assert appointment.practitioner == practitioner
    assert (f"{start:%A} {start.day} {start:%B %Y}", f"{start:%H:%M}") == (heading, first_time)


def _month(day_text: str) -> str:
    """'Mon 30 Nov' -> 'Nov' as the heading spells it ('November')."""
    return datetime.datetime.strptime(day_text.split()[2], "%b").strftime("%B")
