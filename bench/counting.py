"""What bench/throughput.py counts inside the server: the availability cache's hits and misses per process,
and of those misses, the answers found among those the processes pool in Redis (`CACHES["answers"]`, set only
with REDIS_URL): served from the cache, not computed.

Served only under bench.settings (bench/urls.py): the app itself never counts.
"""

import os

from django.http import JsonResponse

from bookings.answer_cache import AnswerCache
from clinic.sessions import KeptClientRedisCache

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


class CountingAnswerPool(KeptClientRedisCache):
    """The answers pooled between the processes, counting those found (asked only on a process's miss)."""

    found = 0

    def get(self, key, default=None, version=None):
        value = super().get(key, _MISSING, version)
        if value is _MISSING:
            return default
        CountingAnswerPool.found += 1
        return value


def cache_stats(request):
    """This worker process's counts (bench/throughput.py asks until it has heard from every worker)."""
    return JsonResponse(
        {
            "pid": os.getpid(),
            "hits": CountingAnswerCache.hits,
            "misses": CountingAnswerCache.misses,
            "pooled": CountingAnswerPool.found,
        },
        headers={"Connection": "close"},
    )
