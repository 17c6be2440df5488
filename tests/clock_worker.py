"""A Celery worker process with a clock of its own, for the worker tests that must run at a given hour
(quiet hours across a clock change). Started by the tests as `python -m tests.clock_worker -A clinic worker
...` (the arguments are celery's) with $CLINIC_WORKER_CLOCK_FILE naming a file that holds an ISO 8601
instant with an offset: the worker's clock is at that instant, ticking on from there, and moves whenever the
file changes; once moved it writes the instant to `<file>.ack`, so the test knows before it queues a task.
Only Python's clock moves (time-machine): the database and Redis keep theirs, and the app reads the time only
through Python (clinic/clock.py)."""

import datetime
import os
import sys
import threading
import time
from pathlib import Path

import time_machine


def follow(clock_file: Path, traveller) -> None:
    seen = ""
    while True:
        instant = clock_file.read_text().strip() if clock_file.exists() else ""
        if instant and instant != seen:
            traveller.move_to(datetime.datetime.fromisoformat(instant))
            seen = instant
            Path(f"{clock_file}.ack").write_text(instant)
        time.sleep(0.05)


def main() -> None:
    clock_file = Path(os.environ["CLINIC_WORKER_CLOCK_FILE"])
    traveller = time_machine.travel(datetime.datetime.fromisoformat(clock_file.read_text().strip()), tick=True)
    coordinates = traveller.start()
    threading.Thread(target=follow, args=(clock_file, coordinates), daemon=True).start()
    from celery.__main__ import main as celery_main

    sys.argv[0] = "celery"
    sys.exit(celery_main())


if __name__ == "__main__":
    main()
