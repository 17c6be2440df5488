"""When the whole clinic is closed, one home: bank holidays for England and Wales (from the `holidays`
package, whose data ships with it and needs no network), and the clinic's own closures (`Closure`, edited by
the desk and admins). Availability treats a closed day as a clinic-wide time off: it offers no time then, so
neither patients nor the desk can book it (`bookings.availability.Calendar`).

England and Wales share their bank holidays; a substitute day ("Boxing Day (observed)") is closed as well as
the day itself. `CLINIC["CLOSED_ON_BANK_HOLIDAYS"]` (default on) turns the bank holidays off for a clinic
that opens on them.
"""

import datetime
from functools import lru_cache

import holidays
from django.conf import settings

from .models import Closure


@lru_cache(maxsize=64)
def _bank_holidays_of(year: int) -> tuple[tuple[datetime.date, str], ...]:
    days = holidays.country_holidays("GB", subdiv="ENG", years=year)
    return tuple(sorted(days.items()))


def bank_holidays(first: datetime.date, last: datetime.date) -> dict[datetime.date, str]:
    """{day: name} of the bank holidays in England and Wales between the two days, both included."""
    if not settings.CLINIC.get("CLOSED_ON_BANK_HOLIDAYS", True):
        return {}
    return {
        day: name
        for year in range(first.year, last.year + 1)
        for day, name in _bank_holidays_of(year)
        if first <= day <= last
    }


def closed_days(first: datetime.date, last: datetime.date, *, closures=None) -> dict[datetime.date, str]:
    """{day: why} of every day the clinic is closed between the two days, both included. One query, or none
    when given the closures to look at (availability keeps them with the clinic's set-up)."""
    closed = bank_holidays(first, last)
    if closures is None:
        closures = Closure.objects.filter(first_day__lte=last, last_day__gte=first)
    for closure in closures:
        if closure.first_day > last or closure.last_day < first:
            continue
        day = max(closure.first_day, first)
        while day <= min(closure.last_day, last):
            closed[day] = closure.reason if day not in closed else f"{closed[day]}; {closure.reason}"
            day += datetime.timedelta(days=1)
    return closed


def closed_on(day: datetime.date) -> str:
    """Why the clinic is closed that day, or "" when it is open."""
    return closed_days(day, day).get(day, "")
