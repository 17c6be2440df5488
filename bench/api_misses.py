"""What a miss of the availability API costs: computed, or taken from Redis where another process left it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_perf REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/api_misses.py [--requests 100]

The busy clinic's answer (a week of one practitioner, the week after next) on the database of DATABASE_URL
(the bench clinic), through Django's WSGI handler with the production settings of bench/throughput.py, in one
process, in three ways in turn: a miss computed (the answer neither in the process nor in Redis), a miss taken
from Redis (the process's own answers emptied, as in another worker that never saw it;
bookings/answer_cache.py) and a hit. Prints the process's CPU a request (medians of 5 rounds) and its
PostgreSQL backend's (from /proc, when the server runs here). Reads only: its Redis keys have a prefix of their
own and are removed again.
"""

import argparse
import datetime
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.profile_page import backend_cpu  # noqa: E402
from bench.throughput import production_environment  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="requests a round, of each kind")
    options = parser.parse_args()
    os.environ.update(production_environment(tempfile.mkdtemp(prefix="clinic-api-misses-")))
    os.environ["REDIS_KEY_PREFIX"] = "bench-api-misses-"
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import caches
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.utils import timezone

    from bookings import answer_cache

    if "answers" not in settings.CACHES:
        sys.exit("REDIS_URL is not set: no answers are pooled")
    app = WSGIHandler()
    first = timezone.localdate() + datetime.timedelta(days=8)
    query = f"treatment=microneedling&from={first}&to={first + datetime.timedelta(days=6)}&practitioner=practitioner-3"

    def get() -> bytes:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/api/v1/availability/",
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8765",
            "HTTP_HOST": "127.0.0.1:8765",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        statuses = []
        body = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
        assert statuses[0].startswith("200"), statuses
        return body

    answers = caches["availability"]
    own = answer_cache._stores["availability"]
    body = get()
    kinds = {
        "a miss computed": answers.clear,  # the process's answers and the pooled ones
        "a miss taken from Redis": own.clear,  # the process's own only
        "a hit": lambda: None,
    }
    cpu, database = {kind: [] for kind in kinds}, {kind: 0.0 for kind in kinds}
    for _ in range(5):
        for kind, forget in kinds.items():
            spent, before = 0.0, backend_cpu(connection)
            for _ in range(options.requests):
                forget()
                started = time.process_time()
                assert get() == body
                spent += time.process_time() - started
            cpu[kind].append(spent / options.requests * 1000)
            if before is not None:
                database[kind] += backend_cpu(connection) - before
    answers.clear()
    print(f"{query} ({len(body):,} bytes)")
    for kind in kinds:
        rounds = ", ".join(f"{ms:.2f}" for ms in cpu[kind])
        print(
            f"  {kind:<25} process CPU {statistics.median(cpu[kind]):.2f} ms ({rounds}); "
            f"PostgreSQL {database[kind] / (5 * options.requests) * 1000:.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
