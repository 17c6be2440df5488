"""Clinic time, in one place: a site's zone, the local day of an instant, wall times to instants, and the
words a person reads for a time.

Times are stored in UTC; people see the wall clock of the site concerned (`Site.time_zone`: a Madrid site
reads Madrid time), across both clock changes. Every function here takes an optional `site`; without one it
reads the clinic's own zone (`CLINIC_TIME_ZONE`, Europe/London by default, the zone the first site was made
with), which is right for a one-site clinic and for what is not about one place (a patient's date of birth,
the clinic's "today" in reports). Every module that turns an instant into a day or a text, or a day and a
wall time into an instant, asks this module, so a new zone or format is one change.

"Upcoming" is one rule too: an appointment is upcoming while its start is still ahead, `start_at > now`
(`is_upcoming`; in queries `bookings.models.AppointmentQuerySet.upcoming`). An appointment starting this
very second has begun: it may be marked a no-show or recorded, and it is no longer the patient's to
confirm, nor a future session to warn a practitioner about. `>=` had one appointment both begun and ahead.
"""

import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format

UTC = datetime.UTC


def zone(site=None) -> ZoneInfo:
    """The site's zone (`Site.time_zone`), or the clinic's without a site."""
    if site is not None:
        return ZoneInfo(site.time_zone)
    return ZoneInfo(settings.CLINIC_TIME_ZONE)


def local(moment: datetime.datetime | None, site=None) -> datetime.datetime | None:
    """The instant on the site's (the clinic's) wall clock (None stays None, for optional times)."""
    return moment.astimezone(zone(site)) if moment is not None else None


def local_day(moment: datetime.datetime, site=None) -> datetime.date:
    """The site's (the clinic's) calendar day of an instant (an appointment at 00:30 London in summer is
    that day, not the UTC day before)."""
    return moment.astimezone(zone(site)).date()


def today(now: datetime.datetime | None = None, *, site=None) -> datetime.date:
    return local_day(now or timezone.now(), site)


def is_upcoming(start_at: datetime.datetime, now: datetime.datetime | None = None) -> bool:
    """Still ahead: the start has not come yet (see the module's docstring for why `>`)."""
    return start_at > (now or timezone.now())


def local_to_utc(
    day: datetime.date, wall: datetime.time, tz: ZoneInfo | None = None, *, site=None
) -> datetime.datetime | None:
    """The instant a wall-clock time of the site (the clinic) happens, its first occurrence if it happens
    twice; None if the clocks jump over it."""
    tz = tz or zone(site)
    naive = datetime.datetime.combine(day, wall)
    utc = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return utc


def day_bounds_utc(first: datetime.date, last: datetime.date, tz: ZoneInfo | None = None, *, site=None):
    """[start of `first`, start of the day after `last`) in UTC: local days are 23, 24 or 25 hours long."""
    tz = tz or zone(site)
    start = datetime.datetime.combine(first, datetime.time.min).replace(tzinfo=tz).astimezone(UTC)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min).replace(tzinfo=tz)
    return start, end.astimezone(UTC)


# The widest a UTC offset goes either way (Kiribati is UTC+14, Baker Island UTC-12).
EARLIEST_OFFSET = datetime.timedelta(hours=14)
LATEST_OFFSET = datetime.timedelta(hours=12)


def sites_day_bounds(first: datetime.date, last: datetime.date, sites=None):
    """[start, end) in UTC covering the local days `first` to `last` at every site given: from the earliest
    of their midnights to the latest. A page of several sites reads this range, then keeps each row on its
    own site's day (`on_days`). `sites=None` when the sites are not known yet (a practitioner's own day):
    every zone on Earth, so that no site's day is cut short."""
    if sites is None:
        start = datetime.datetime.combine(first, datetime.time.min, UTC) - EARLIEST_OFFSET
        end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, UTC) + LATEST_OFFSET
        return start, end
    zones = {zone(site) for site in sites} or {zone()}
    bounds = [day_bounds_utc(first, last, tz) for tz in zones]
    return min(start for start, _ in bounds), max(end for _, end in bounds)


def on_days(moment: datetime.datetime, first: datetime.date, last: datetime.date | None = None, site=None) -> bool:
    """Whether the instant falls on one of the local days `first` to `last` (or on `first`) at the site."""
    return first <= local_day(moment, site) <= (last or first)


def shared_zone(sites) -> ZoneInfo | None:
    """The zone every one of the sites keeps, or None when they keep different clocks (a page showing them
    together then labels each time with its zone). No sites: the clinic's zone."""
    zones = {site.time_zone for site in sites}
    if len(zones) > 1:
        return None
    return ZoneInfo(zones.pop()) if zones else zone()


# --- what a person reads ---------------------------------------------------------------------------------


def when_text(moment: datetime.datetime, site=None) -> str:
    """For patients (pages, emails): 'Sunday 28 March 2027 at 10:00', on the site's clock."""
    wall = local(moment, site)
    return f"{date_format(wall, 'l j F Y')} at {wall:%H:%M}"


def when_short(moment: datetime.datetime, site=None) -> str:
    """For the front desk's busy pages: 'Sun 28 Mar 2027, 10:00', on the site's clock."""
    return f"{local(moment, site):%a %-d %b %Y, %H:%M}"


def time_text(moment: datetime.datetime, site=None) -> str:
    """The wall-clock time alone: '10:00', on the site's clock."""
    return f"{local(moment, site):%H:%M}"
