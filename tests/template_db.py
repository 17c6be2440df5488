"""One migrated test database per run, cloned for each pytest-xdist worker.

Migrating the test database costs every migration and the post-migrate signals (about 8 s of CPU in Python
and more in PostgreSQL); under `make test` each worker used to do it for its own database. Now the xdist
controller migrates one template database (`test_<name>_template`) in a thread while the workers start and
collect, and each worker makes its database from it with `CREATE DATABASE ... TEMPLATE`, a file copy inside
PostgreSQL. The worker's database is then what it was before: the same migrations, the same signals' rows,
its own name (`test_<name>_gw0`, ...), dropped at the end.

A PostgreSQL advisory lock, taken by the controller before the workers start, makes a worker wait until the
template is ready. If the template could not be made (a migration fails, say), the worker migrates its own
database as before, so the error shows where it always did. Without xdist, on SQLite, or with --reuse-db /
--no-migrations, nothing here applies and pytest-django sets up the databases itself.
"""

import threading

import pytest
from django.conf import settings
from django.db import connection

# The controller hands the template's name to the workers (pytest_configure_node).
WORKERINPUT_KEY = "clinic_template_database"
# pg_advisory_lock's key: arbitrary, the same in the controller and the workers.
LOCK_KEY = 16_052_026
_STATE = pytest.StashKey[dict]()


def _maintenance_connection():
    """A connection of our own to the maintenance database (as Django's test set-up uses), autocommit."""
    import psycopg2

    db = connection.settings_dict
    conn = psycopg2.connect(
        dbname="postgres",
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
    )
    conn.autocommit = True
    return conn


def _applies_to_controller(config) -> bool:
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return False  # a worker, or no xdist: pytest-django as usual
    if config.getoption("reuse_db", False) or config.getoption("nomigrations", False):
        return False
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def start_template(config) -> None:
    """Controller: take the lock, then migrate the template in a thread while the workers start."""
    if not _applies_to_controller(config):
        return
    name = connection.creation._get_test_db_name() + "_template"
    lock = _maintenance_connection()
    with lock.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    state = {"name": name, "lock": lock, "ready": False}
    config.stash[_STATE] = state

    def build():
        from pytest_django.plugin import blocking_manager_key

        try:
            test_settings = connection.settings_dict.setdefault("TEST", {})
            test_settings["NAME"] = name
            with config.stash[blocking_manager_key].unblock():
                connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
                connection.close()  # a template must have no sessions when it is copied
            state["ready"] = True
        except BaseException as error:  # no template: the workers migrate for themselves and show it
            state["error"] = error
            connection.close()
            with lock.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            with lock.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])

    state["thread"] = thread = threading.Thread(target=build, name="test-database-template", daemon=True)
    thread.start()


def configure_node(config, node) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        node.workerinput[WORKERINPUT_KEY] = state["name"]


def drop_template(config) -> None:
    """Controller, at the end: the template goes, as the workers' databases do."""
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    state["thread"].join()
    with state["lock"].cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{state["name"]}"')
    state["lock"].close()


def clone_for_worker(config) -> list | None:
    """Worker: make this worker's test database from the template. Returns the configuration Django's
    teardown_databases takes, or None when there is no template (the caller migrates as usual)."""
    template = getattr(config, "workerinput", {}).get(WORKERINPUT_KEY)
    if not template:
        return None
    target = connection.creation._get_test_db_name()
    lock = _maintenance_connection()
    try:
        with lock.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])  # waits for the controller's migration
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
            if cursor.fetchone() is None:
                return None
            cursor.execute(f'DROP DATABASE IF EXISTS "{target}"')
            cursor.execute(f'CREATE DATABASE "{target}" TEMPLATE "{template}"')
            # A commit returns without waiting for its WAL to reach the disk (2 to 3 ms a commit on this
            # machine's disk: pg_test_fsync), for every session of this database: the worker's, its live
            # server's threads, the Celery and manage.py processes the tests start. Only a crash of PostgreSQL
            # itself could lose such a commit, and no test crashes it: what a session sees, and when, is
            # unchanged (a throwaway database, as the MD5 password hasher is a test-only setting).
            cursor.execute(f'ALTER DATABASE "{target}" SET synchronous_commit = off')
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    finally:
        lock.close()
    old_name = connection.settings_dict["NAME"]
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = target
    connection.settings_dict["NAME"] = target
    connection.ensure_connection()
    return [(connection, old_name, True)]
