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

import itertools
import threading

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

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
            store = self._store
            if key not in store and len(store) >= self._max_entries:
                for old in list(itertools.islice(store, max(1, len(store) // 3))):
                    del store[old]
            store[key] = value

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        with self._lock:
            if key in self._store:
                return False
        self.set(key, value, timeout, version)
        return True

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
