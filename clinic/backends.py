"""The signed-in user of a request in one query: the user with their patient or practitioner row and the names
of their roles (PostgreSQL), instead of one query each before the view runs.

Read afresh for every request, as Django's ModelBackend reads the user: a role given or taken away, a
deactivated account, or a password change (the session's hash, checked by Django against this row) counts
from the next request. Nothing is kept between requests (tests/test_sessions.py).

The query is compiled once per process and database (`PreparedUserQuery`): building and compiling it
through the ORM cost some 2,200 Python calls on every signed-in request, more than a bare page's whole
request. Its rows become model instances as the ORM makes them (the compiler's converters, its related
populators for the patient and the practitioner, the roles' annotation). On PostgreSQL it is also prepared
once a connection (`clinic.prepared`): PostgreSQL planned its three tables and the roles' subquery again on
every request, 0.3 ms of its CPU against 0.1 ms to run it (docs/benchmarks.md, issue #16's sixth pass).

The same query joined to the session's row (`PreparedUserQuery.with_session`) reads a session and its user
in one round trip (clinic.sessions); the user it reads is handed to `UserBackend` for that request alone,
through `AuthenticationMiddleware` (Django's, which then checks the session's hash against it as always).
"""

from contextvars import ContextVar

from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import connections, router
from django.db.models import Exists, OuterRef
from django.db.models.query import get_related_populators
from django.utils.functional import SimpleLazyObject

from . import roles
from .prepared import execute_prepared

MARK = -7_654_321  # the primary key the prepared query is compiled with, replaced by the user's id


def users_with_roles():
    """The signed-in user's query: with their patient and practitioner rows, and (PostgreSQL) their roles'
    names and whether they have a confirmed authenticator (`has_confirmed_totp`, which the two-factor
    middleware asks on every staff request: one round trip and some 600 Python calls of the ORM less,
    clinic.two_factor.has_confirmed_device). SQLite (`make run`) asks for both when first needed."""
    users = get_user_model()._default_manager.select_related("patient", "practitioner")
    if connections[router.db_for_read(users.model)].vendor == "postgresql":
        from django.contrib.postgres.expressions import ArraySubquery
        from django_otp.plugins.otp_totp.models import TOTPDevice

        users = users.annotate(
            role_names=ArraySubquery(Group.objects.filter(user=OuterRef("pk")).values("name")),
            has_confirmed_totp=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
        )
    return users


class PreparedUserQuery:
    """`users_with_roles().filter(pk=...)` compiled once for a database: its SQL with the primary key as a
    parameter, and how its columns make a user (what Django's `ModelIterable` works out per query)."""

    def __init__(self, alias):
        # No ORDER BY (the model's ordering): one row at most, found through the primary key.
        queryset = users_with_roles().filter(pk=MARK).order_by().using(alias)
        compiler = queryset.query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()  # fills the compiler's select, klass_info and annotations
        self.params = list(params)
        if self.params.count(MARK) != 1:
            raise ValueError("the user query's only parameter is expected to be the primary key")
        self.mark = self.params.index(MARK)
        connection = connections[alias]
        # On PostgreSQL the primary key is the only parameter: the statement prepared with it as $1, and the
        # integers the ORM sends as parameters (the `1` of `Exists`) written in as they are.
        self.prepared = None
        constants = [param for index, param in enumerate(self.params) if index != self.mark]
        if (
            connection.vendor == "postgresql"
            and self.sql.count("%s") == len(self.params)
            and all(type(param) is int for param in constants)
        ):
            pieces = self.sql.split("%s")
            values = ["$1" if index == self.mark else str(param) for index, param in enumerate(self.params)]
            sql = pieces[0] + "".join(value + piece for value, piece in zip(values, pieces[1:], strict=True))
            self.prepared = (sql, (queryset.model._meta.pk.cast_db_type(connection),))
        self.alias, self.compiler, self.model = alias, compiler, queryset.model
        klass_info, select = compiler.klass_info, compiler.select
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
        self.populators = get_related_populators(klass_info, select, alias)
        self.annotations = dict(compiler.annotation_col_map or {})
        # What results_iter works out again for every query (some 250 calls): the columns' converters.
        columns = [column[0] for column in select[0 : compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise ValueError("the user query is not expected to select composite fields")
        self.converters = compiler.get_converters(columns)

    def get(self, user_id):
        """The user with this primary key, or None."""
        connection = connections[self.alias]
        params = list(self.params)
        params[self.mark] = self.model._meta.pk.get_db_prep_value(user_id, connection)
        with connection.cursor() as cursor:
            if self.prepared is not None:
                execute_prepared(cursor, "clinic_signed_in_user", *self.prepared, [params[self.mark]])
            else:
                cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        return self._user(rows)

    def with_session(self, session_key, now, user_id):
        """(the session row's data, the user with this primary key or None), in one query, or None when the
        session has no row unexpired at `now` (PostgreSQL only: `self.prepared`; clinic.sessions)."""
        connection = connections[self.alias]
        pk = self.model._meta.pk.get_db_prep_value(user_id, connection)
        user_sql, (pk_type,) = self.prepared  # the user's primary key its only parameter, $1: here $3
        statement = (
            f"SELECT s.session_data, u.* FROM {Session._meta.db_table} s LEFT JOIN ({user_sql.replace('$1', '$3')}) u "
            "ON true WHERE s.session_key = $1 AND s.expire_date > $2"
        )
        with connection.cursor() as cursor:
            execute_prepared(
                cursor, "clinic_session_user", statement, ("varchar", "timestamptz", pk_type), [session_key, now, pk]
            )
            row = cursor.fetchone()
        if row is None:
            return None
        return row[0], (self._user([row[1:]]) if row[1] is not None else None)

    def _user(self, rows):
        if self.converters:  # the ORM's converters, as results_iter applies them
            rows = self.compiler.apply_converters(rows, self.converters)
        for row in rows:
            user = self.model.from_db(self.alias, self.init_list, row[self.start : self.end])
            for populator in self.populators:
                populator.populate(row, user)
            for name, position in self.annotations.items():
                setattr(user, name, row[position])
            return user
        return None


_prepared: dict[str, PreparedUserQuery] = {}


def prepared_user_query(alias) -> PreparedUserQuery:
    found = _prepared.get(alias)
    if found is None:
        found = _prepared[alias] = PreparedUserQuery(alias)
    return found


# The session store of the request whose user Django's `auth.get_user` is reading (`AuthenticationMiddleware`):
# its session may have been read with the user in one query (clinic.sessions), handed over here once.
_reading_session: ContextVar = ContextVar("clinic_reading_session", default=None)


class UserBackend(ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        alias = router.db_for_read(model)
        session = _reading_session.get()
        read = session.__dict__.pop("signed_in_user", None) if session is not None else None
        # Read with the session row in this request, or else now.
        user = read[1] if read is not None and read[0] == user_id else prepared_user_query(alias).get(user_id)
        if user is None or not self.user_can_authenticate(user):
            return None
        if connections[alias].vendor == "postgresql":
            roles.remember(user, user.role_names)
        return user


class AuthenticationMiddleware(DjangoAuthenticationMiddleware):
    """Django's, its lazy `request.user` read by Django's `auth.get_user` (the session's hash checked, an
    inactive user refused, exactly as there) with the request's session store at hand for `UserBackend`: a
    session read from its row with the user in one query (clinic.sessions) gives the user it read."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: signed_in_user(request))


def signed_in_user(request):
    if not hasattr(request, "_cached_user"):
        token = _reading_session.set(request.session)
        try:
            request._cached_user = auth.get_user(request)
        finally:
            _reading_session.reset(token)
    return request._cached_user
