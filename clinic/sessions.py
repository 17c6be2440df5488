"""Sessions read from Redis, kept in the database (the session engine when REDIS_URL is set; docs/security.md).

Why: every signed-in request read its session row from PostgreSQL before its view ran. Read from Redis it costs
no query. The database stays the record: a Redis restart, or a flush, signs nobody out (each session is read
from its row once more and put back in Redis), and a Redis that does not answer leaves signed-in pages working
from the database.

A process that has seen a session (read or written it) reads it from its row with the user it names, in one
query (`SessionStore._load_with_user`, clinic.backends), instead of Redis's copy and then the user: one round
trip a signed-in request where there were two (docs/benchmarks.md, issue #16's seventh pass). The row is the
record, so this is never older than Redis's copy; the user is as fresh as a user read on its own (a password
change, a deactivation, a role taken away count from the next request). Which user to read with it is only
what the process last saw in the session: the row read confirms it, else the user is read by the id it names.
A session the process has not seen (another worker's) is read from Redis as before.

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

import json
import logging

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.core.signing import JSONSerializer
from django.db import router
from django.utils import timezone

logger = logging.getLogger(__name__)

SIGNED_OUT = "signed-out"
# Longer than any request runs (gunicorn's worker timeout is 30 s): a request that read a session's row before
# it was deleted has finished well before its tombstone goes.
TOMBSTONE_SECONDS = 600


class SessionStore(cached_db.SessionStore):
    def load(self):
        user_id = _users_of_sessions.get(self.session_key) if self.session_key else None
        if user_id is not None:
            read = self._load_with_user(user_id)
            if read is not None:
                return read
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
        _remember_user(self.session_key, data)
        return data

    def _load_with_user(self, user_id):
        """The session read from its row with its user (`user_id`, as this process last saw it in the session)
        in one query, instead of Redis's copy and then the user: the user is handed to `UserBackend` for
        this request (clinic.backends.AuthenticationMiddleware) if the session still names them. None where
        the user's query is not prepared (SQLite): read as before."""
        from .backends import prepared_user_query

        query = prepared_user_query(router.db_for_read(get_user_model()))
        if query.prepared is None:
            return None
        try:
            pk = get_user_model()._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        read = query.with_session(self.session_key, timezone.now(), pk)
        if read is None:  # no row, or expired: as Django's database store
            _users_of_sessions.pop(self.session_key, None)
            self._session_key = None
            return {}
        data = self._decode_row(read[0])
        if data.get(SESSION_KEY) == user_id:
            self.signed_in_user = (pk, read[1])
        _remember_user(self.session_key, data)
        return data

    def _decode_row(self, session_data: str) -> dict:
        """`decode`, its signature checked once a process for each text (`_decoded`): Django checks it (an
        HMAC with a key derived again each time) and decodes it on every read, a fifth of a session read
        with its user. The same text always decodes to the same data, so the data is kept as JSON text and
        parsed afresh for each request (its store may change it)."""
        if self.serializer is not JSONSerializer:
            return self.decode(session_data)
        found = _decoded.get(session_data)
        if found is not None:
            return json.loads(found)
        data = self.decode(session_data)
        if data:  # a corrupt or forged text is checked (and logged) each time
            if len(_decoded) >= DECODED_KEPT:
                _decoded.clear()
            _decoded[session_data] = json.dumps(data)
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
            _remember_user(self.session_key, self._session)
            try:
                self._cache.add(self.cache_key, self._session, self.get_expiry_age())
            except Exception:
                logger.warning("sessions: Redis did not answer; the new session stays uncached", exc_info=True)
            return
        self._cache.delete(self.cache_key)  # Redis down: refuse before anything is written
        DatabaseStore.save(self, must_create=False)
        _remember_user(self.session_key, self._session)
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
        _users_of_sessions.pop(session_key, None)
        DatabaseStore.delete(self, session_key)

    def exists(self, session_key):
        return DatabaseStore.exists(self, session_key)  # only for a new key: the row decides, not a tombstone


# The user each session named when this process last read or wrote it (session key: the user's id as the
# session holds it): only which user to read with the session row (`SessionStore._load_with_user`), which
# the row then confirms. Bounded: forgotten all at once when full.
USERS_OF_SESSIONS_KEPT = 10_000
_users_of_sessions: dict = {}


# Session texts whose signature this process has checked, with their data as JSON (`_decode_row`); forgotten
# when the secret keys change (tests) and all at once when full.
DECODED_KEPT = 10_000
_decoded: dict = {}


def _forget_decoded(*, setting, **kwargs) -> None:
    if setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS", "SESSION_SERIALIZER"):
        _decoded.clear()


setting_changed.connect(_forget_decoded, dispatch_uid="clinic.sessions.forget_decoded")


def _remember_user(session_key, data) -> None:
    user_id = data.get(SESSION_KEY) if session_key else None
    if user_id is None:
        _users_of_sessions.pop(session_key, None)
        return
    if len(_users_of_sessions) >= USERS_OF_SESSIONS_KEPT:
        _users_of_sessions.clear()
    _users_of_sessions[session_key] = user_id


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
