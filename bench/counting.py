"""What bench/throughput.py counts inside the server: the availability cache's hits and misses per process.

Served only under bench.settings (bench/urls.py): the app itself never counts.
"""

import os

from django.http import JsonResponse

from bookings.answer_cache import AnswerCache

_MISSING = object()


class CountingAnswerCache(AnswerCache):
    """The availability cache, counting what it finds: availability's cached reads ask it once a request."""

    hits = 0
    misses = 0

    def get(self, key, default=None, version=None):
        value = super().get(key, _MISSING, version)
        if value is _MISSING:
            CountingAnswerCache.misses += 1
            return default
        CountingAnswerCache.hits += 1
        return value


def cache_stats(request):
    """This worker process's counts (bench/throughput.py asks until it has heard from every worker)."""
    return JsonResponse(
        {"pid": os.getpid(), "hits": CountingAnswerCache.hits, "misses": CountingAnswerCache.misses},
        headers={"Connection": "close"},
    )
