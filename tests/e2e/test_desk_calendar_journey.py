"""The desk runs the day from the calendar in a real browser (issue 15): books by clicking a free time on the
grid, moves one appointment by dragging its card and another with the keyboard alone (Move, then one of its
free times), and books a walk-in for now, inside the online notice. At desktop and phone size, axe clean,
under the content security policy (the drag and drop is a script file; htmx swaps the panel and the grid)."""

import datetime
import os
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Appointment, AppointmentEvent
from clinic import roles
from tests.e2e.helpers import assert_accessible, sign_in
from tests.factories import (
    AppointmentFactory,
    ClearedPatientFactory,
    ConsultationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    staff_user,
)
from tests.helpers import LONDON, at, open_around_the_clock, soon

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("DESK_JOURNEY_SHOTS")  # a folder: save what the journey saw, to look at by hand


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}-{'phone' if page.is_phone else 'desktop'}.png"))


def slot(practitioner, start_at):
    return f'.cal-cell[data-slot="{practitioner.pk}@{start_at.astimezone(datetime.UTC):%Y-%m-%dT%H:%MZ}"]'


def drag(page, card, cell):
    """Drag the card onto the cell with the HTML5 drag events a browser sends (dragstart on the card,
    dragover and drop on the cell, dragend), carrying one DataTransfer. Dispatched, not made with the mouse:
    a mouse drag in headless Chromium started, or did not, depending on timing, and a test may not."""
    data = page.evaluate_handle("() => new DataTransfer()")
    card.dispatch_event("dragstart", {"dataTransfer": data})
    expect(page.locator("body")).to_have_class(re.compile("desk-dragging"))
    cell.dispatch_event("dragenter", {"dataTransfer": data})
    cell.dispatch_event("dragover", {"dataTransfer": data})
    expect(cell).to_have_class(re.compile("cal-drop"))  # the cell under the pointer takes the drop
    cell.dispatch_event("drop", {"dataTransfer": data})
    card.dispatch_event("dragend", {"dataTransfer": data})


def close_panel(page):
    page.locator("#desk-panel [data-panel-close]").click()
    expect(page.locator("#desk-panel")).to_be_empty()


def test_the_desk_books_on_the_grid_drags_moves_with_the_keyboard_and_books_a_walk_in(page):
    consultation = ConsultationFactory(name="Free consultation")
    session = TreatmentFactory(name="Thighs session", duration_minutes=60, buffer_after_minutes=15)
    RoomFactory(name="Room A")
    amelia = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart", treatments=[consultation, session])
    open_around_the_clock(amelia)
    day = timezone.localdate() + datetime.timedelta(days=3)
    caller = PatientFactory(user__first_name="Jo", user__last_name="Bloggs", phone="07700 900123")
    dragged = AppointmentFactory(
        practitioner=amelia,
        treatment=session,
        patient=ClearedPatientFactory(user__first_name="Mo", user__last_name="Mover"),
        start_at=at(day, 10),
    )
    by_keys = AppointmentFactory(
        practitioner=amelia,
        treatment=session,
        patient=ClearedPatientFactory(user__first_name="Kay", user__last_name="Board"),
        start_at=at(day, 12),
    )
    desk = staff_user(roles.FRONT_DESK, email="desk@clinic.example")
    sign_in(page, desk.email)
    page.goto(f"{page.base_url}/desk/?date={day:%Y-%m-%d}")
    expect(page.get_by_role("heading", name="Amelia Hart")).to_be_visible()
    assert_accessible(page)

    # A caller wants 09:00: click the free time, find them, pick the treatment, book.
    page.locator(slot(amelia, at(day, 9))).click()
    panel = page.locator("#desk-panel")
    expect(panel.get_by_role("heading", name="New appointment")).to_be_focused()
    expect(panel).to_contain_text("with Amelia Hart")
    panel.get_by_label("Find the patient").press_sequentially("Bloggs")  # typed, as a person types
    panel.get_by_label("Jo Bloggs").check()
    panel.get_by_label("Treatment").select_option(label="Free consultation (30 min)")
    shot(page, "panel-book")
    assert_accessible(page)
    panel.get_by_role("button", name="Book").click()
    expect(panel).to_contain_text("Booked Free consultation for Jo Bloggs")
    booked = Appointment.objects.get(patient=caller)
    assert booked.start_at == at(day, 9) and booked.source == Appointment.Source.PHONE
    expect(page.locator(f'#desk-grid [data-appointment="{booked.pk}"]')).to_be_visible()  # the grid reloaded
    close_panel(page)

    # Mo Mover calls to come at 14:00: drag the card there.
    drag(page, page.locator(f'[data-appointment="{dragged.pk}"]'), page.locator(slot(amelia, at(day, 14))))
    expect(panel).to_contain_text("Moved Mo Mover")
    dragged.refresh_from_db()
    assert dragged.start_at == at(day, 14)
    assert dragged.events.filter(action=AppointmentEvent.Action.RESCHEDULED).exists()
    shot(page, "dragged")
    assert_accessible(page)
    close_panel(page)

    # Dropped onto a time that is taken (by Kay's session): refused in place, nothing moved.
    drag(page, page.locator(f'[data-appointment="{dragged.pk}"]'), page.locator(slot(amelia, at(day, 11, 30))))
    expect(panel).to_contain_text("Not moved")
    dragged.refresh_from_db()
    assert dragged.start_at == at(day, 14)
    close_panel(page)

    # Kay Board moves to 17:00 with the keyboard alone: the card, Enter, Move, a free time, Enter.
    page.locator(f'[data-appointment="{by_keys.pk}"]').focus()
    page.keyboard.press("Enter")
    expect(panel.get_by_role("heading", name="Kay Board")).to_be_focused()
    page.keyboard.press("Tab")  # the close button
    page.keyboard.press("Tab")
    expect(panel.get_by_role("link", name="Move")).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel.get_by_role("heading", name="Move Kay Board")).to_be_focused()
    assert_accessible(page)
    shot(page, "move-list")
    panel.get_by_role("button", name="Move to 17:00 with Amelia Hart").focus()
    page.keyboard.press("Enter")
    expect(panel).to_contain_text("Moved Kay Board")
    by_keys.refresh_from_db()
    assert by_keys.start_at == at(day, 17)
    expect(panel.locator("#panel-title")).to_be_focused()  # Escape closes the panel from inside it
    page.keyboard.press("Escape")
    expect(panel).to_be_empty()

    # Someone walks in: the next free time from now, which online booking (12 hours' notice) never offers.
    walk_in = PatientFactory(user__first_name="Wally", user__last_name="Walker")
    start = soon(5, last_start=datetime.time(23, 15))
    page.goto(f"{page.base_url}/desk/?date={start.astimezone(LONDON):%Y-%m-%d}")
    page.locator(slot(amelia, start)).click()
    # The panel moves focus to its heading once it is in: typing before that lost keys to the heading.
    expect(panel.get_by_role("heading", name="New appointment")).to_be_focused()
    search = panel.get_by_label("Find the patient")
    search.press_sequentially("Walker")
    expect(search).to_have_value("Walker")
    panel.get_by_label("Wally Walker").check()
    panel.get_by_label("Treatment").select_option(label="Free consultation (30 min)")
    panel.get_by_label("At the desk (walk-in)").check()
    panel.get_by_role("button", name="Book").click()
    expect(panel).to_contain_text("Booked Free consultation for Wally Walker")
    appointment = Appointment.objects.get(patient=walk_in)
    assert appointment.start_at == start and appointment.source == Appointment.Source.FRONT_DESK
    shot(page, "walk-in")
    assert_accessible(page)

    # The week and the month.
    page.goto(f"{page.base_url}/desk/week/?date={day:%Y-%m-%d}")
    expect(page.get_by_role("rowheader", name="Amelia Hart")).to_be_visible()
    shot(page, "week")
    assert_accessible(page)
    page.goto(f"{page.base_url}/desk/month/?date={day:%Y-%m-%d}")
    expect(page.get_by_role("heading", name=f"{day:%B %Y}")).to_be_visible()
    shot(page, "month")
    assert_accessible(page)
