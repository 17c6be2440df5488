"""When a site is closed, one home: its bank holidays (from the `holidays` package, whose data ships with it
and needs no network; England and Wales unless the site names another calendar, `Site.bank_holidays`), and
the clinic's own closures (`Closure`, edited by the desk and admins), of that site or of every site (a
closure without a site). Availability treats a closed day as a time off of the whole site: it offers no time
there then, so neither patients nor the desk can book it (`bookings.availability.Calendar`); other sites
stay bookable.

Asked without a site (a one-site clinic, or a question about the clinic as a whole), England and Wales's
bank holidays and every closure count. A substitute day ("Boxing Day (observed)") is closed as well as the
day itself. `CLINIC["CLOSED_ON_BANK_HOLIDAYS"]` (default on) turns the bank holidays off for a clinic that
opens on them.
"""

import datetime
from functools import lru_cache

from django.conf import settings
from django.db.models import Q

from .models import Closure

ENGLAND_AND_WALES = ("GB", "ENG")


@lru_cache(maxsize=64)
def _bank_holidays_of(year: int, calendar=ENGLAND_AND_WALES) -> tuple[tuple[datetime.date, str], ...]:
    import holidays  # 80 ms of import, paid by the processes that ask about a day (not every manage.py command)

    country, region = calendar
    days = holidays.country_holidays(country, subdiv=region, years=year)
    return tuple(sorted(days.items()))


def bank_holidays(first: datetime.date, last: datetime.date, *, site=None) -> dict[datetime.date, str]:
    """{day: name} of the site's bank holidays (England and Wales's without a site) between the two days,
    both included."""
    if not settings.CLINIC.get("CLOSED_ON_BANK_HOLIDAYS", True):
        return {}
    calendar = site.holiday_calendar() if site is not None else ENGLAND_AND_WALES
    if calendar is None:
        return {}
    return {
        day: name
        for year in range(first.year, last.year + 1)
        for day, name in _bank_holidays_of(year, calendar)
        if first <= day <= last
    }


def closed_days(first: datetime.date, last: datetime.date, *, closures=None, site=None) -> dict[datetime.date, str]:
    """{day: why} of every day the site (the clinic, without one) is closed between the two days, both
    included. One query, or none when given the closures to look at (availability keeps them with the
    clinic's set-up); closures of other sites are skipped."""
    closed = bank_holidays(first, last, site=site)
    if closures is None:
        closures = Closure.objects.filter(first_day__lte=last, last_day__gte=first)
        if site is not None:
            closures = closures.filter(Q(site__isnull=True) | Q(site=site))
    for closure in closures:
        if closure.first_day > last or closure.last_day < first or not closure.closes(site):
            continue
        day = max(closure.first_day, first)
        while day <= min(closure.last_day, last):
            closed[day] = closure.reason if day not in closed else f"{closed[day]}; {closure.reason}"
            day += datetime.timedelta(days=1)
    return closed


def closed_on(day: datetime.date, *, site=None) -> str:
    """Why the site (the clinic, without one) is closed that day, or "" when it is open."""
    return closed_days(day, day, site=site).get(day, "")
