"""The reset after a transactional test (a browser journey, a race, a real worker): Django's flush's end
state, for less work.

Django empties the database after each such test (`TransactionTestCase._fixture_teardown`: the `flush`
command) with one TRUNCATE of every model's table, 63 here, and then sends post_migrate again, which writes
back the content types, the permissions, the role groups and what the triggers on those write: about 1 s of
waiting a test on this machine, 77 times a run. A test writes a handful of tables, so here:

- the tables that have rows and that the flush leaves empty are emptied (the others are empty already);
- the tables the flush leaves rows in (post_migrate's) are kept when they hold exactly the rows the last
  full flush of this database left (a digest of their rows, ids included): post_migrate would change
  nothing there;
- the availability scopes get what the flush's TRUNCATE triggers write: one "clinic" row at the clock's
  microseconds (bookings migration 0015), a value no earlier row reached.

The tables are emptied with DELETE, not TRUNCATE (which makes new files for every table and index: 0.2 to
0.9 s for 20 tables here), in the replica role so that, as under the TRUNCATE, no row trigger fires and no
foreign key is checked table by table. Anything else (a database's first reset, a test that changed a
post-migrate table, not PostgreSQL, not a superuser) gets Django's own flush, after which the rows it left
are remembered. Sequences are not restarted, as Django's flush does not restart them.
tests/test_fast_reset.py compares the end state with the flush's, table by table.
"""

from django.core.management import call_command
from django.db import connections, transaction
from django.test import TransactionTestCase

from bookings.models import AvailabilityScope

# database alias -> {table: digest of its rows} for the tables Django's last flush of it left rows in
_LEFT_BY_FLUSH: dict[str, dict[str, str]] = {}
# Written by the TRUNCATE triggers (a value of the clock): emptied every time, then written as they write it.
_WRITTEN_BY_TRIGGERS = {AvailabilityScope._meta.db_table}
_django_fixture_teardown = TransactionTestCase._fixture_teardown


def install() -> None:
    """Transactional tests end with `reset` instead of Django's flush (unless they flush only some apps or
    roll back to serialized contents: those keep Django's own teardown)."""
    TransactionTestCase._fixture_teardown = _fixture_teardown


def _fixture_teardown(self) -> None:
    if self.available_apps is not None or self.serialized_rollback:
        _django_fixture_teardown(self)
        return
    for alias in self._databases_names(include_mirrors=False):
        reset(alias)


def reset(alias: str = "default") -> str:
    """Empty the database as Django's flush would; say which way: "kept" (post-migrate tables kept) or
    "flushed" (Django's flush)."""
    connection = connections[alias]
    left = _LEFT_BY_FLUSH.get(alias)
    if connection.vendor == "postgresql" and left is not None and _empty_and_compare(connection, left):
        return "kept"
    flush(alias)
    return "flushed"


def flush(alias: str = "default") -> None:
    """Django's flush, as TransactionTestCase runs it; then remember the rows it left."""
    call_command(
        "flush",
        verbosity=0,
        interactive=False,
        database=alias,
        reset_sequences=False,
        allow_cascade=False,
        inhibit_post_migrate=False,
    )
    connection = connections[alias]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('is_superuser')")
            if cursor.fetchone()[0] != "on":
                return  # the replica role below needs a superuser (as the test databases' owner is in CI)
            left = [table for table in _tables_with_rows(cursor, connection) if table not in _WRITTEN_BY_TRIGGERS]
            _LEFT_BY_FLUSH[alias] = _digests(cursor, connection, left)


def _empty_and_compare(connection, left: dict[str, str]) -> bool:
    quote = connection.ops.quote_name
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        # What the flush's TRUNCATE takes: writers still finishing are waited for, none starts meanwhile.
        cursor.execute(f"LOCK TABLE {', '.join(map(quote, _tables(connection)))} IN ACCESS EXCLUSIVE MODE")
        # DELETE, in the replica role for this transaction only (see above): every table but the kept ones
        # ends empty, whatever order their foreign keys would ask for.
        cursor.execute("SET LOCAL session_replication_role = replica")
        for table in _tables_with_rows(cursor, connection):
            if table not in left:
                cursor.execute(f"DELETE FROM {quote(table)}")
        cursor.execute("SET LOCAL session_replication_role = origin")
        # What the flush's TRUNCATE triggers write (bookings migrations 0015, 0018, 0021): the "clinic" row.
        cursor.execute("SELECT bookings_bump_availability(ARRAY['clinic'])")
        return _digests(cursor, connection, list(left)) == left


def _tables(connection) -> list[str]:
    """The tables Django's flush empties."""
    return sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))


def _tables_with_rows(cursor, connection) -> list[str]:
    quote = connection.ops.quote_name
    cursor.execute(
        " UNION ALL ".join(
            f"SELECT {_literal(table)} WHERE EXISTS (SELECT 1 FROM {quote(table)})" for table in _tables(connection)
        )
    )
    return [table for (table,) in cursor.fetchall()]


def _digests(cursor, connection, tables: list[str]) -> dict[str, str]:
    if not tables:
        return {}
    quote = connection.ops.quote_name
    cursor.execute(
        " UNION ALL ".join(
            f"SELECT {_literal(table)}, (SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) "
            f"FROM {quote(table)} r)"
            for table in tables
        )
    )
    return dict(cursor.fetchall())


def _literal(table: str) -> str:
    # Table names come from the models (letters, digits, underscores); quoted as a string literal anyway.
    return "'" + table.replace("'", "''") + "'"
