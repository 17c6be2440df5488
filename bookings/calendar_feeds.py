"""A practitioner's private iCal feed: its secret token (create, reset) and what the feed lists.

The token is the only key to the feed (calendar apps cannot sign in), so it is long and random, and a reset
replaces it: the old URL answers 404 from then on.
"""

import datetime
import secrets

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from clinic import clock
from clinic.links import absolute_url

from .models import Appointment, CalendarFeed


def new_token() -> str:
    return secrets.token_urlsafe(32)


def feed_of(practitioner) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(practitioner=practitioner).first()


def reset_feed(practitioner) -> CalendarFeed:
    """Give the practitioner a new feed URL (the first one, or a replacement that revokes the old)."""
    with transaction.atomic():
        feed, created = CalendarFeed.objects.select_for_update().get_or_create(
            practitioner=practitioner, defaults={"token": new_token(), "created_at": timezone.now()}
        )
        if not created:
            feed.token, feed.created_at = new_token(), timezone.now()
            feed.save(update_fields=["token", "created_at"])
    return feed


def feed_url(feed: CalendarFeed) -> str:
    return absolute_url(reverse("practitioner_calendar_feed", args=[feed.token]))


def feed_by_token(token: str) -> CalendarFeed | None:
    return CalendarFeed.objects.select_related("practitioner__user").filter(token=token).first()


def feed_appointments(practitioner, *, now=None):
    """The practitioner's live appointments from the start of today (clinic time) on: one query."""
    now = now or timezone.now()
    today = now.astimezone(clock.zone()).date()
    start_of_today = datetime.datetime.combine(today, datetime.time.min, tzinfo=clock.zone())
    return (
        Appointment.objects.live()
        .filter(practitioner=practitioner, end_at__gte=start_of_today)
        .select_related("patient__user", "treatment", "room__site")
        .order_by("start_at")
    )
