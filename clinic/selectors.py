"""Reads for the clinic's public pages."""

from django.db.models import Prefetch

from .models import Practitioner, Treatment, WorkingHours


def bookable_treatments():
    return Treatment.objects.filter(active=True)


def active_practitioners():
    return (
        Practitioner.objects.filter(active=True)
        .select_related("user")
        .prefetch_related(Prefetch("treatments", queryset=bookable_treatments()))
    )


def practitioner_profile(slug: str):
    return (
        active_practitioners()
        .prefetch_related(Prefetch("working_hours", queryset=WorkingHours.objects.order_by("weekday", "start")))
        .get(slug=slug)
    )
