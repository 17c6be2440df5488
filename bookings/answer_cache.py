"""The process's store of cached availability answers (`CACHES["availability"]`, bookings/availability.py,
"cached reads"): a dict shared by the process's threads, holding each answer as it is served.

Django's local-memory cache cost a cached API request more than the rest of its Python work outside the
scope read (docs/benchmarks.md, issue #16's sixth pass): every get checked the key character by character,
took a lock, unpickled the value and moved it to the end of an LRU list. None of that is needed here: the keys
are the availability module's own (no user text: a digest of the query and the state read), a key is never
read again once what it depends on changed (its values only grow), so nothing expires by time, and an answer
kept as the JSON bytes it is sent as is immutable, so it is handed out as it is, never copied.

Bounded: at `MAX_ENTRIES` the oldest third is dropped (a dict keeps the order keys were put in). A reader
never takes the lock (a dict's get is atomic); writers do, so that dropping and putting never interleave.
`clear()` empties it, as the benches and tests that measure a cold answer expect of the availability cache.
"""

import contextlib
import itertools
import re
import threading

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from redis.exceptions import RedisError

_stores: dict[str, dict] = {}
_locks: dict[str, threading.Lock] = {}


class AnswerCache(BaseCache):
    def __init__(self, name, params):
        super().__init__(params)
        self._store = _stores.setdefault(name, {})
        self._lock = _locks.setdefault(name, threading.Lock())

    def get(self, key, default=None, version=None):
        return self._store.get(key, default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        with self._lock:
            self._put(key, value)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        with self._lock:  # checked and put under one hold: two adders never both succeed
            if key in self._store:
                return False
            self._put(key, value)
            return True

    def _put(self, key, value):
        store = self._store
        if key not in store and len(store) >= self._max_entries:
            for old in list(itertools.islice(store, max(1, len(store) // 3))):
                del store[old]
        store[key] = value

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return key in self._store

    def delete(self, key, version=None):
        with self._lock:
            return self._store.pop(key, None) is not None

    def has_key(self, key, version=None):
        return key in self._store

    def clear(self):
        with self._lock:
            self._store.clear()
        forget_pooled()


# --- answers pooled between the processes (Redis) ----------------------------------------------------------
# Each process keeps its own answers, so an answer a write made stale was computed again once by every process
# asked for it: in the busy clinic of bench/throughput.py (one booking a second, 204 answers asked in turn,
# 54 made stale by each booking), every worker computed each of them (about 4 ms of CPU each, against a
# fraction of a millisecond for a hit). With Redis (`CACHES["answers"]`, settings), the first process to
# compute an answer of JSON bytes (the API's) leaves it there under the same key (what is asked, its time
# bucket, the state read), and the others take it from there on their own miss: one more round trip on a
# miss, no computation. The key names the state exactly as the process's key does, so an answer found there
# is exactly the one the process would have computed; it lives two time buckets. Redis unreachable: computed,
# as without it.


def pooled_key(key) -> str:
    return ":".join(str(part) for part in key)


def pooled_get(key) -> bytes | None:
    pool = _pool()
    if pool is None:
        return None
    try:
        found = pool.get(pooled_key(key))
    except RedisError:
        return None
    return found if type(found) is bytes else None


def pooled_set(key, value: bytes, timeout: int) -> None:
    pool = _pool()
    if pool is not None:
        with contextlib.suppress(RedisError):
            pool.set(pooled_key(key), value, timeout=timeout)


def forget_pooled() -> None:
    """Remove the pooled answers (only this clinic's keys, `KEY_PREFIX`: the Redis database is shared with the
    sessions and the task queue): for the tests and benches that measure a cold answer."""
    pool = _pool()
    if pool is None:
        return
    try:
        client = pool._cache.get_client(write=True)
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", pool.make_key("")) + "*"
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    except RedisError:
        pass


def _pool():
    if "answers" not in settings.CACHES:
        return None
    return caches["answers"]
