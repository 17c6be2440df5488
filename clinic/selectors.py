"""Reads for the clinic's public pages."""

from django.db.models import Exists, OuterRef, Prefetch

from .models import Practitioner, Site, Treatment, WorkingHours


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


def sites_for_desk(user) -> list:
    """The active sites, each with `mine`: whether `user` works there (`Site.staff`). One query: the desk's
    site switcher and its default (`clinic.access.desk_default_sites`)."""
    works_here = Site.staff.through.objects.filter(site_id=OuterRef("pk"), user_id=getattr(user, "pk", None))
    return list(Site.objects.active().annotate(mine=Exists(works_here)))


def several_sites() -> bool:
    """Whether the clinic has more than one active site: pages name each appointment's site only then."""
    return Site.objects.active().count() > 1
