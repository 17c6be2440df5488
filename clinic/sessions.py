"""Sessions read from Redis, kept in the database (the session engine when REDIS_URL is set; docs/security.md).

Why: every signed-in request read its session row from PostgreSQL before its view ran. Read from Redis it costs
no query. The database stays the record: a Redis restart, or a flush, signs nobody out (each session is read
from its row once more and put back in Redis), and a Redis that does not answer leaves signed-in pages working
from the database.

Django's `cached_db` engine, which this extends, leaves two ways for a signed-out session to come back, and
this closes both (tests/test_sessions.py):
- A sign-out racing another request of the same session that missed the cache: that request read the row
  before the sign-out deleted it, then put it in the cache after, where it would sign the user in again until
  it expired. Here a sign-out leaves a tombstone in Redis for longer than any request lasts, and a read puts a
  session in Redis only where nothing is (`add`): the tombstone wins, and the row is gone.
- A save while Redis does not answer: `cached_db` logs it and carries on, and the copy in Redis from before
  comes back with Redis (docker-compose.yml runs Redis with an append-only file, so it survives a restart).
  Here a change drops the copy in Redis before the row is written, and refuses (writing nothing) when Redis
  does not answer; it drops it again after, for a read that cached the old row in between. Redis only ever
  holds what the row holds or nothing. So while Redis is down, signing out (and any other change to an
  existing session, like the staff idle timeout's) fails loudly instead of leaving a copy to come back.
"""

import logging

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)

SIGNED_OUT = "signed-out"
# Longer than any request runs (gunicorn's worker timeout is 30 s): a request that read a session's row before
# it was deleted has finished well before its tombstone goes.
TOMBSTONE_SECONDS = 600


class SessionStore(cached_db.SessionStore):
    def load(self):
        try:
            data = self._cache.get(self.cache_key)
        except Exception:
            logger.warning("sessions: Redis did not answer a read; reading the database", exc_info=True)
            return self._load_row(keep=False)
        if data == SIGNED_OUT:
            self._session_key = None  # as for a row that is gone: a save makes a new session, never this one
            return {}
        if data is None:
            return self._load_row(keep=True)
        return data

    def _load_row(self, *, keep: bool) -> dict:
        row = self._get_session_from_db()
        if row is None:
            return {}
        data = self.decode(row.session_data)
        if keep:
            try:  # only where nothing is: a sign-out's tombstone written since the read wins
                self._cache.add(self.cache_key, data, self.get_expiry_age(expiry=row.expire_date))
            except Exception:
                logger.warning("sessions: Redis did not answer; the session stays uncached", exc_info=True)
        return data

    def save(self, must_create=False):
        if self.session_key is None:
            return self.create()  # a new key, saved with must_create (below)
        if must_create:  # a new random key: nothing of it is in Redis, nor can a tombstone be
            DatabaseStore.save(self, must_create=True)
            try:
                self._cache.add(self.cache_key, self._session, self.get_expiry_age())
            except Exception:
                logger.warning("sessions: Redis did not answer; the new session stays uncached", exc_info=True)
            return
        self._cache.delete(self.cache_key)  # Redis down: refuse before anything is written
        DatabaseStore.save(self, must_create=False)
        try:
            self._cache.delete(self.cache_key)
        except Exception:
            logger.exception("sessions: Redis stopped answering during a save")

    def delete(self, session_key=None):
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        # The tombstone first: if Redis does not answer, the sign-out fails and nothing has changed.
        self._cache.set(self.cache_key_prefix + session_key, SIGNED_OUT, TOMBSTONE_SECONDS)
        DatabaseStore.delete(self, session_key)

    def exists(self, session_key):
        return DatabaseStore.exists(self, session_key)  # only for a new key: the row decides, not a tombstone


class KeptClientRedisCache(RedisCache):
    """Django's Redis cache (the sessions' cache, settings.CACHES["sessions"]) with its Redis client made once
    per connection pool and kept. Django's builds a `redis.Redis`, with its ~170 response callbacks, for every
    operation: 540 Python calls on every signed-in request for its one session read, about a quarter of a
    bare page's. A client is safe to share: it takes a connection from its pool for each command (and a
    pool opens new ones in a forked process)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _KeptClient


class _KeptClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(self._servers[index], **self._pool_options)
            client = self._clients[index] = self._client(connection_pool=self._pools[index])
        return client
