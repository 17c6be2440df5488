"""Sessions read from Redis and kept in the database (clinic/sessions.py), and the signed-in user read with their
roles in one query (clinic/backends.py): cheaper, and never stale. A sign-out, a password change, a role given
or taken away and a deactivated account count from the very next request; a signed-out session never comes
back, not even through a request that was reading it while the user signed out; a Redis that does not answer
leaves signed-in pages working and refuses a sign-out rather than leaving a copy behind.
"""

import datetime

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic import roles, sessions
from clinic.backends import UserBackend, users_with_roles
from clinic.models import User
from clinic.sessions import SIGNED_OUT, SessionStore
from tests.factories import (
    PASSWORD,
    ClearedPatientFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    role_group,
    staff_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.redis, pytest.mark.postgres]

DEAD_REDIS = {
    **settings.CACHES,
    "sessions": {**settings.CACHES.get("sessions", {}), "LOCATION": "redis://127.0.0.1:9/0"},
}


@pytest.fixture(autouse=True)
def _sessions_in_redis():
    assert settings.SESSION_ENGINE == "clinic.sessions", "REDIS_URL is set: sessions are read from Redis"


def sign_in(client, user):
    response = client.post(reverse("login"), {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_the_session_cache_keeps_its_redis_client_and_still_reads_and_writes(client):
    """One `redis.Redis` per connection pool, not one per operation (clinic.sessions.KeptClientRedisCache)."""
    sessions = caches[settings.SESSION_CACHE_ALIAS]
    assert sessions._cache.get_client("a") is sessions._cache.get_client("b", write=True)
    sessions.set("kept-client", "value", 30)
    assert sessions.get("kept-client") == "value"
    sessions.delete("kept-client")
    assert sessions.get("kept-client") is None
    sign_in(client, PatientFactory().user)
    assert client.get(reverse("my_appointments")).status_code == 200


def test_the_prepared_user_query_makes_the_users_the_orm_makes(django_assert_num_queries):
    """clinic.backends compiles the signed-in user's query once a process: the same user, patient and
    practitioner rows and roles as the queryset it was compiled from, for each kind of user and a string id."""
    practitioner = PractitionerFactory()
    staff_user(roles.FRONT_DESK).groups.add(role_group(roles.CLINIC_ADMIN))
    users = [PatientFactory().user, practitioner.user, *User.objects.filter(groups__name=roles.FRONT_DESK)]
    for user in users:
        expected = users_with_roles().get(pk=user.pk)
        with django_assert_num_queries(1):
            found = UserBackend().get_user(str(user.pk))
            fields = {name: getattr(found, name) for name in ("patient", "practitioner") if hasattr(found, name)}
        assert {k: v for k, v in vars(found).items() if k not in ("_state", "_role_names")} == {
            k: v for k, v in vars(expected).items() if k != "_state"
        }
        assert sorted(found.role_names) == sorted(expected.role_names) and not found._state.adding
        for name, row in fields.items():
            assert vars(row).keys() == vars(getattr(expected, name)).keys() and row.user is found
    assert UserBackend().get_user(10**9) is None


def test_a_signed_in_page_reads_its_session_row_with_the_user_their_roles_and_patient_in_one_query(client):
    key = sign_in(client, PatientFactory().user)
    client.get(reverse("profile"))
    caches["sessions"].delete(SessionStore.cache_key_prefix + key)  # not read from Redis: not put back there
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("profile")).status_code == 200
    assert len(captured) == 1  # the profile shows the user and their patient row: nothing else to read
    (query,) = captured.captured_queries
    # The session's and user's statement, prepared once this connection (clinic.backends): only executed then.
    assert query["sql"].startswith("EXECUTE clinic_session_user_")
    assert caches["sessions"].get(SessionStore.cache_key_prefix + key) is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'clinic_session_user_%%'")
        statements = [row[0] for row in cursor.fetchall()]
    assert len(statements) == 1
    assert "django_session" in statements[0] and "auth_group" in statements[0] and "clinic_patient" in statements[0]
    assert "ORDER BY" not in statements[0]


def test_a_session_this_process_has_not_seen_is_read_from_redis_and_its_user_in_a_query_of_their_own(client):
    """The user read with the session needs their id first: a process that has not read nor written the
    session reads it from Redis (no query) and the user by id, then reads both in one query."""
    sign_in(client, PatientFactory().user)
    client.get(reverse("profile"))
    sessions._users_of_sessions.clear()  # as another worker process
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("profile")).status_code == 200  # Redis's copy gone since a save: the row
    assert [query["sql"][:28] for query in captured.captured_queries][-1] == "EXECUTE clinic_signed_in_use"
    sessions._users_of_sessions.clear()
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("profile")).status_code == 200  # from Redis, put back by the request before
    assert [query["sql"][:28] for query in captured.captured_queries] == ["EXECUTE clinic_signed_in_use"]
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("profile")).status_code == 200
    assert [query["sql"][:28] for query in captured.captured_queries] == ["EXECUTE clinic_session_user_"]


def test_a_session_naming_another_user_than_this_process_saw_is_read_for_the_user_it_names(client):
    """Which user to read with the session is only what this process last saw in it: the row decides."""
    first, second = PatientFactory().user, PatientFactory().user
    key = sign_in(client, first)
    sessions._users_of_sessions[key] = str(second.pk)
    response = client.get(reverse("profile"))
    assert response.status_code == 200 and response.wsgi_request.user == first
    assert sessions._users_of_sessions[key] == str(first.pk)


def test_the_session_survives_redis_losing_it_and_is_read_back_from_its_row(client):
    key = sign_in(client, PatientFactory().user)
    caches["sessions"].delete(SessionStore.cache_key_prefix + key)  # a Redis restart without its file, a flush
    assert client.get(reverse("profile")).status_code == 200  # read from its row with the user
    sessions._users_of_sessions.clear()  # a process that has not seen it: reads Redis, then the row
    assert client.get(reverse("profile")).status_code == 200
    assert caches["sessions"].get(SessionStore.cache_key_prefix + key) is not None  # cached again


def test_signing_out_ends_the_session_for_anyone_holding_its_cookie(client):
    key = sign_in(client, PatientFactory().user)
    client.post(reverse("logout"))
    assert not Session.objects.filter(session_key=key).exists()
    client.cookies[settings.SESSION_COOKIE_NAME] = key  # the old cookie, replayed
    assert client.get(reverse("profile")).status_code == 302


def test_a_request_reading_the_session_while_the_user_signs_out_cannot_bring_it_back(client):
    key = sign_in(client, PatientFactory().user)
    caches["sessions"].delete(SessionStore.cache_key_prefix + key)
    in_flight = SessionStore(key)
    assert in_flight._cache.get(in_flight.cache_key) is None  # another request misses the cache...
    row = Session.objects.get(session_key=key)  # ...and reads the row...
    client.post(reverse("logout"))  # ...the user signs out...
    in_flight._get_session_from_db = lambda: row
    in_flight._load_row(keep=True)  # ...and the other request goes on to cache what it read
    assert caches["sessions"].get(SessionStore.cache_key_prefix + key) == SIGNED_OUT
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    assert client.get(reverse("profile")).status_code == 302


def test_a_password_change_signs_out_the_other_sessions_of_that_user(client, django_user_model):
    from django.test import Client

    patient = PatientFactory()
    other = Client()
    sign_in(other, patient.user)
    sign_in(client, patient.user)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "another-pass-2026x", "new_password2": "another-pass-2026x"},
    )
    assert response.status_code == 302
    assert client.get(reverse("profile")).status_code == 200  # this one carries on
    assert other.get(reverse("profile")).status_code == 302  # the other is signed out


def test_a_role_given_or_taken_away_counts_from_the_next_request(client):
    user = staff_user(roles.FRONT_DESK)
    client.force_login(user)
    desk = reverse("desk:calendar")
    assert client.get(desk).status_code == 200
    user.groups.clear()
    assert client.get(desk).status_code in (302, 403, 404)
    user.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    assert client.get(desk).status_code == 200


def test_a_deactivated_account_is_signed_out_at_its_next_request(client):
    patient = PatientFactory()
    sign_in(client, patient.user)
    patient.user.is_active = False
    patient.user.save(update_fields=["is_active"])
    assert client.get(reverse("profile")).status_code == 302


def test_a_clinic_admin_is_still_held_at_the_second_factor_with_the_roles_read_in_one_query(client, settings):
    admin = staff_user(roles.CLINIC_ADMIN)
    client.force_login(admin)
    response = client.get(reverse("desk:calendar"))
    assert response.status_code == 302 and reverse("two_factor_setup") in response["Location"]


def test_with_redis_down_signed_in_pages_work_from_the_database_and_a_sign_out_changes_nothing(client, settings):
    key = sign_in(client, PatientFactory().user)
    settings.CACHES = DEAD_REDIS
    assert client.get(reverse("profile")).status_code == 200
    with pytest.raises(Exception):  # noqa: B017 (redis' ConnectionError): refused loudly, before any write
        client.post(reverse("logout"))
    assert Session.objects.filter(session_key=key).exists()


def test_a_staff_sessions_idle_expiry_is_pushed_back_at_most_once_a_minute(client):
    """Pushing the expiry saves the session; staff requests did it every time (a row written, Redis's copy
    dropped and read back from the row). Once a minute keeps the session ending at most the idle timeout after
    its last request, and never later (clinic.middleware.StaffIdleTimeoutMiddleware)."""
    import datetime

    import time_machine
    from django.utils import timezone

    client.force_login(staff_user(roles.FRONT_DESK))
    page = reverse("desk:patients")
    assert client.get(page).status_code == 200
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    pushed = Session.objects.get(session_key=key).expire_date
    assert pushed <= timezone.now() + datetime.timedelta(seconds=settings.STAFF_IDLE_TIMEOUT_SECONDS)
    assert client.get(page).status_code == 200  # reads the row the push wrote, and keeps it in Redis
    with CaptureQueriesContext(connection) as captured:
        assert client.get(page).status_code == 200
    assert not [query for query in captured.captured_queries if "django_session" in query["sql"]]
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=61)):
        assert client.get(page).status_code == 200
    assert Session.objects.get(session_key=key).expire_date >= pushed + datetime.timedelta(seconds=60)


@pytest.mark.parametrize("change", ["deactivated", "password changed"])
def test_the_booking_page_and_its_times_list_sign_out_at_once_an_account_deactivated_or_whose_password_changed(
    client, change
):
    """The user read with the session row (clinic.sessions) is as fresh as the row: the very next request of
    a deactivated account, or of a session signed with the old password, is signed out, on the kept pages too."""
    treatment = TreatmentFactory()
    RoomFactory()
    practitioner = PractitionerFactory(treatments=[treatment])
    for weekday in range(7):
        WorkingHoursFactory(practitioner=practitioner, weekday=weekday, start=datetime.time(9), end=datetime.time(17))
    patient = ClearedPatientFactory()
    sign_in(client, patient.user)
    pages = [reverse("book_treatment", args=[treatment.slug]), reverse("book_times", args=[treatment.slug])]
    for page in pages * 2:  # the second time kept
        with CaptureQueriesContext(connection) as captured:
            assert client.get(page).status_code == 200
        assert captured.captured_queries[0]["sql"].startswith("EXECUTE clinic_session_user_")
    user = User.objects.get(pk=patient.user.pk)
    if change == "deactivated":
        user.is_active = False
    else:
        user.set_password("another-pass-2026x")
    user.save()
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
