"""Shared test set-up.

Tests that need PostgreSQL or Redis are marked `postgres` / `redis`. They skip when the service is not
configured, unless REQUIRE_SERVICES=1 (as in CI), where a missing service fails them instead.
"""

import datetime
import gc
import os
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from hypothesis import settings as hypothesis_settings

from tests import fast_reset, template_db

# Property tests: `ci` (the default) runs a few examples per test, derandomized so that a red CI run is red
# again on a developer's machine with the same examples and the suite's time stays bounded;
# HYPOTHESIS_PROFILE=thorough runs many random ones (try it after changing a form or a service).
hypothesis_settings.register_profile("ci", max_examples=20, derandomize=True, deadline=None, print_blob=True)
hypothesis_settings.register_profile("thorough", max_examples=300, deadline=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


# --- The whole run at another hour ------------------------------------------------------------------
# CLINIC_TEST_CLOCK=2026-03-29T00:30:00+00:00 (or --clock=...) starts the run at that instant, the clock
# ticking on from there, in this process and its threads (the database's own now() and a browser are not
# moved: run the `clock` tests, `-m clock`, which read the time only through Python). .ci/run runs them at
# the hours and days where a date computed from "now" is most likely to be wrong.


_TRAVELLER = pytest.StashKey[time_machine.travel]()
_LONDON = ZoneInfo("Europe/London")


def pytest_addoption(parser):
    parser.addoption(
        "--clock",
        default=os.environ.get("CLINIC_TEST_CLOCK", ""),
        help="run the suite from this ISO 8601 instant with an offset, the clock ticking (env CLINIC_TEST_CLOCK)",
    )


def _travel_instant(config) -> datetime.datetime | None:
    value = config.getoption("clock")
    if not value:
        return None
    try:
        instant = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise pytest.UsageError(f"--clock / CLINIC_TEST_CLOCK: {value!r} is not an ISO 8601 instant") from None
    if instant.tzinfo is None:
        raise pytest.UsageError(f"--clock / CLINIC_TEST_CLOCK: {value!r} needs an offset (+00:00, +01:00)")
    return instant


def pytest_configure(config):
    instant = _travel_instant(config)
    if instant is not None:
        config.stash[_TRAVELLER] = traveller = time_machine.travel(instant, tick=True)
        traveller.start()


def pytest_unconfigure(config):
    traveller = config.stash.get(_TRAVELLER, None)
    if traveller is not None:
        traveller.stop()


# --- Garbage collection ----------------------------------------------------------------------------


def pytest_collection_finish(session):
    """The youngest generation is collected after 10,000 new objects instead of 700, and what is alive once
    the tests are collected (Django, the app, the plugins, the collected tests) is frozen out of the
    collector's reach for the run, so a full collection no longer walks it. In a run of the permission
    matrix, query budgets and payments the collector's CPU was 2.21 to 2.38 s as Python sets it, 1.35 to
    1.53 s with the threshold alone and 1.06 to 1.34 s with both (the full collections halved: 0.31 to
    0.33 s against 0.56 to 0.59 s); the freeze alone changed nothing, as with the default threshold the
    young collections are most of it (docs/benchmarks.md, "tenth pass")."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


# --- One migrated database for the run, cloned for each xdist worker (tests/template_db.py) ----------


def pytest_sessionstart(session):
    template_db.start_template(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    template_db.configure_node(node.config, node)


def pytest_sessionfinish(session):
    template_db.drop_template(session.config)


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_use_migrations,
    django_db_keepdb,
    django_db_createdb,
    django_db_modify_db_settings,
):
    """pytest-django's own set-up, except that an xdist worker copies the template the controller migrated
    (tests/template_db.py) instead of migrating a database of its own."""
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _disable_migrations, _get_databases_for_setup

    if not django_db_use_migrations:
        _disable_migrations()
    keepdb = django_db_keepdb and not django_db_createdb
    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        db_cfg = None
        if aliases == {"default"} and not serialized_aliases and not keepdb:
            db_cfg = template_db.clone_for_worker(request.config)
        if db_cfg is None:
            db_cfg = setup_databases(
                verbosity=verbosity,
                interactive=False,
                aliases=aliases,
                serialized_aliases=serialized_aliases,
                keepdb=keepdb,
            )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(db_cfg, verbosity=verbosity)


# After a transactional test: truncate the tables it wrote, keep post_migrate's rows when unchanged
# (tests/fast_reset.py; the same end state as Django's flush, proven in tests/test_fast_reset.py).
fast_reset.install()


def pytest_report_header(config):
    instant = _travel_instant(config)
    if instant is None:
        return None
    london = instant.astimezone(_LONDON)
    return f"clock: the run starts at {instant.isoformat()} ({london:%Y-%m-%d %H:%M %Z} in London), ticking"


# The every-page scenario's fixtures (`scenario`, `browser`): the permission matrix and the query budgets.
pytest_plugins = ("tests.scenario",)


def _own_redis_queues_per_worker() -> None:
    """Under pytest-xdist (`make test` runs a worker a core, each with its own test database), each worker
    also gets queues of its own in Redis (a key prefix): a Celery worker started by one test never takes a
    task that a test on another worker queued, and a purge purges only its own. The Celery worker processes
    the tests start inherit the prefix through the environment."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not settings.REDIS_URL:
        return
    from clinic.celery import app

    prefix = f"test-{worker}:"
    os.environ["REDIS_KEY_PREFIX"] = prefix
    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": prefix}
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    app.conf.broker_transport_options = options


_own_redis_queues_per_worker()


def _missing_service(reason: str):
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def redis_is_answering() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(autouse=True)
def _require_marked_services(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing_service("this test needs PostgreSQL: set DATABASE_URL=postgres://...")
    if request.node.get_closest_marker("redis"):
        if not settings.REDIS_URL:
            _missing_service("this test needs Redis: set REDIS_URL=redis://...")
        elif not redis_is_answering():
            _missing_service(f"Redis at {settings.REDIS_URL} does not answer")


@pytest.fixture(scope="session", autouse=True)
def _no_stray_database_sessions(django_db_setup, django_db_blocker):
    """Threads the tests start (in-process Celery workers, live servers, racing bookings) keep database
    sessions that can outlive them; one left at the end keeps the test database from being dropped. End
    them before it is."""
    yield
    # pytest-django sets up only the databases the collected tests use: a run of database-free tests alone
    # (or an xdist worker that drew only those) has no test database, and the configured one may not exist.
    if connection.vendor != "postgresql" or not connection.settings_dict["NAME"].startswith("test_"):
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _bank_holidays_off(settings):
    """Tests pick days relative to today; on a run near Christmas "in five days" would be a bank holiday, with
    no times. Bank holidays close the clinic only in tests that ask for them (`bank_holidays` fixture)."""
    settings.CLINIC = {**settings.CLINIC, "CLOSED_ON_BANK_HOLIDAYS": False}


@pytest.fixture
def bank_holidays(settings):
    settings.CLINIC = {**settings.CLINIC, "CLOSED_ON_BANK_HOLIDAYS": True}


def clinic_noon() -> datetime.datetime:
    """Noon of the clinic's day today, as a UTC instant: outside the quiet hours for texts."""
    from clinic import clock

    noon = datetime.datetime.combine(clock.today(), datetime.time(12), tzinfo=clock.zone())
    return noon.astimezone(datetime.UTC)


@pytest.fixture
def daytime():
    """Texts wait through the clinic's quiet hours (21:00-08:00, bookings/reminders/timing.py): a test about
    something else that sends one runs at noon of the clinic's day, its clock ticking from there, so it
    passes at any hour the suite runs. Yields that instant (give it to a worker process's clock too)."""
    instant = clinic_noon()
    with time_machine.travel(instant, tick=True):
        yield instant


@pytest.fixture(autouse=True)
def _mail_in_memory(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "clinic.sms.LocmemSmsBackend"


@pytest.fixture(autouse=True)
def _fresh_availability_cache():
    """Cached availability is filed under scope values that a rolled-back test rolls back too (and SQLite
    reuses ids): start every test with an empty cache, as a freshly started process does."""
    from bookings.availability import forget_cached_answers
    from bookings.frontdesk import day_cache

    forget_cached_answers()
    day_cache.forget()


@pytest.fixture(scope="session")
def sign_in():
    """Sign a user in the way a real one ends up: with the verified second factor that clinic admins (and
    staff who turned it on) need. Use it instead of client.force_login for admins. Session-scoped (it holds
    no state) so that module-scoped set-ups can sign users in once."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from clinic.two_factor import two_factor_required

    def _sign_in(client, user):
        client.force_login(user)
        if two_factor_required(user):
            device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=True, defaults={"name": "test"})
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        return user

    return _sign_in


@pytest.fixture
def screening_rules(db):
    """The seeded screening rules, even after a transactional test flushed them."""
    from tests.factories import ensure_screening_rules

    ensure_screening_rules()
