"""How many of the busy clinic's cached answers one booking makes stale: the driver of its cache hit rate.

bench/throughput.py's busy clinic asks the availability API for 204 answers (each practitioner and first
available, each of the 4 coming weeks) while its load generator books one appointment a second. Each
answer a booking makes stale is computed again once by each server process that is asked for it, so the
misses of a run follow this count. This script reads the scope state (`bookings.availability.ScopeRead`)
of the 204 answers as the API reads them, makes bookings as the load generator makes them, and counts the
answers whose state changed after each one, by kind. Load-independent: no server, no timing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic .venv/bin/python bench/stale_answers.py \\
        --database bench_perf --bookings 30

Everything it books is rolled back (one transaction).
"""

import argparse
import datetime
import os
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.throughput import WEEKS_ASKED, booking_choices  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="bench_perf", help="the bench database (only read: rolled back)")
    parser.add_argument("--bookings", type=int, default=30, help="bookings to try (some find no free time)")
    options = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic")
    os.environ["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + options.database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from bookings import availability
    from bookings.services import BookingError, book_appointment
    from clinic.models import Practitioner

    known = availability.catalogue()
    treatment = known.treatments["microneedling"]  # what the busy clinic asks for
    rooms = known.room_ids(treatment, None)
    zones = sorted({known.zones[room.site_id] for room in known.rooms if room.pk in set(rooms)}, key=str)
    first = timezone.localdate() + datetime.timedelta(days=1)
    answers = []  # (week, practitioner id or None for first available, read)
    for week in range(WEEKS_ASKED):
        start = first + datetime.timedelta(days=7 * week)
        for practitioner in [*Practitioner.objects.filter(active=True).order_by("pk"), None]:
            ids = [practitioner.pk] if practitioner else known.practitioner_ids(treatment, None)
            last = start + datetime.timedelta(days=6)
            span, travel = known.day_span(), known.travel.longest()  # as the API's answers read them
            read = availability.answer_read(ids, rooms, start, last, zones, span=span, travel=travel)
            answers.append((week, practitioner.pk if practitioner else None, read))

    stale, made = Counter(), 0
    with transaction.atomic():
        for choice in booking_choices(options.bookings):  # the load generator's bookings (bench/throughput.py)
            if choice is None:
                continue
            day, booking = choice
            practitioner = booking["practitioner"]
            before = [read.state() for _, _, read in answers]
            try:
                with transaction.atomic():
                    book_appointment(**booking)
            except BookingError:
                continue
            made += 1
            booked_week = (day - first).days // 7
            for (week, p_id, read), state in zip(answers, before, strict=True):
                if read.state() != state:
                    if p_id is None:
                        kind = "first available"
                    elif p_id == practitioner.pk:
                        kind = "its practitioner"
                    elif week == booked_week:
                        kind = "other practitioners, the booking's week"
                    else:
                        kind = "other practitioners, other weeks"
                    stale[kind] += 1
        transaction.set_rollback(True)
    per_booking = sum(stale.values()) / max(1, made)
    print(f"{made} bookings; of {len(answers)} answers, made stale per booking: {per_booking:.1f}")
    for kind, count in stale.most_common():
        print(f"  {kind:<45} {count / max(1, made):5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
