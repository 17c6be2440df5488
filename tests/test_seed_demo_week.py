"""`seed_demo` gives the demo clinic a today and a this-week (issue 15 part 10): appointments in every state,
relative to the moment it runs, with forms still to do for some patients; a second run adds nothing."""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from bookings.models import Appointment
from clinic import roles
from tests.factories import staff_user
from tests.helpers import LONDON

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_day_in_every_state_and_a_second_run_adds_nothing(client):
    call_command("seed_demo")
    week = Appointment.objects.filter(patient__user__email__endswith="@patients.example")
    first_run = set(week.values_list("pk", flat=True))
    call_command("seed_demo")
    assert set(week.values_list("pk", flat=True)) == first_run and len(first_run) == 10
    # Every state a desk sees on a day, but a deposit hold: the demo runs without Stripe keys, so online
    # bookings need no deposit, and a hold would lapse by itself within 15 minutes anyway.
    held = {Appointment.Status.AWAITING_DEPOSIT}
    assert set(week.values_list("status", flat=True)) == set(Appointment.Status.values) - held
    now = timezone.now()
    for appointment in week:  # relative to now: the past few hours and the next few days
        assert now - datetime.timedelta(hours=5) <= appointment.start_at <= now + datetime.timedelta(days=5)
    assert week.filter(status="completed").get().start_at < now < week.filter(status="booked").first().start_at
    assert week.filter(status="booked", start_at__gt=now).count() == 6  # today's, and the rest of the week

    client.force_login(staff_user(roles.FRONT_DESK))
    arrived = week.get(status="checked_in")
    day = arrived.start_at.astimezone(LONDON).date()
    page = client.get(f"/desk/?date={day:%Y-%m-%d}").content.decode()
    assert "Ivy Chen" in page and "Checked in" in page
    for name, todo in [("Omar Reed", "To do: consent"), ("Sam Ward", "To do: health form")]:
        appointment = week.get(
            patient__user__first_name=name.split()[0], start_at__lt=now + datetime.timedelta(hours=3)
        )
        card = client.get(f"/desk/panel/appointments/{appointment.pk}/").content.decode()
        assert name in card and todo in card


def test_the_demo_has_two_sites_a_practitioner_at_both_and_a_desk_at_each(client):
    """Issue 17: Harley Street (the first site) and Manchester, rooms at each, Sofia in London on Mondays and
    Wednesdays and in Manchester on Fridays and Saturdays, and a desk user of each site whose calendar opens
    on it; every appointment of the week is in a room of the site its practitioner works at that day."""
    from clinic.models import Site, WorkingHours, default_site

    call_command("seed_demo")
    london, manchester = default_site(), Site.objects.get(slug="manchester")
    assert london.rooms.count() == 3 and manchester.rooms.count() == 2
    sofia = WorkingHours.objects.filter(practitioner__user__email="sofia.marin@clinic.example")
    assert {h.weekday for h in sofia.filter(site=manchester)} == {4, 5}
    assert {h.weekday for h in sofia.filter(site=london)} == {0, 2}
    assert [u.email for u in london.staff.all()] == ["frontdesk@clinic.example"]
    assert [u.email for u in manchester.staff.all()] == ["manchester.desk@clinic.example"]
    for appointment in Appointment.objects.filter(patient__user__email__endswith="@patients.example"):
        local = appointment.start_at.astimezone(LONDON)
        worked_at = WorkingHours.objects.filter(
            practitioner=appointment.practitioner,
            weekday=local.weekday(),
            start__lte=local.time(),
            end__gt=local.time(),
        ).values_list("site", flat=True)
        assert appointment.room.site_id in (set(worked_at) or {london.pk})
    client.force_login(manchester.staff.get())
    page = client.get("/desk/").content.decode()
    assert 'aria-label="Sites"' in page and "Manchester" in page
