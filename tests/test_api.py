"""The JSON API: public reads, availability with its date checks, a patient's own appointments (book, cancel),
bad input answered with 400 and nothing written, CSRF on session writes, the schema, and a race on PostgreSQL."""

import datetime
import json
import threading
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from bookings import services
from bookings.availability import catalogue
from bookings.models import Appointment, AppointmentEvent
from clinic import roles
from consultations.eligibility import Eligibility
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SiteFactory,
    TreatmentFactory,
    staff_user,
)
from tests.helpers import open_every_day

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
BOOK = "/api/v1/appointments/"


def in_days(days) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def at(day, hour, minute=0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=LONDON)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def treatment():
    # Needs no cleared intake: these tests are about the API, not about screening.
    return TreatmentFactory(
        name="Microneedling: thighs", slug="thighs", duration_minutes=60, buffer_after_minutes=15,
        min_days_between_sessions=28, needs_cleared_intake=False,
    )  # fmt: skip


@pytest.fixture
def practitioner(treatment):
    RoomFactory(name="Room A")
    return open_every_day(
        PractitionerFactory(
            slug="amelia-hart", user__first_name="Amelia", user__last_name="Hart", treatments=[treatment]
        )
    )


@pytest.fixture
def patient():
    return PatientFactory()


@pytest.fixture
def patient_api(api, patient):
    api.force_login(patient.user)
    return api


def booking(treatment, practitioner, start):
    return {"treatment": treatment.slug, "practitioner": practitioner.slug if practitioner else "", "start": start}


# --- treatments and practitioners -----------------------------------------------------------------------


def test_anyone_lists_active_treatments_and_reads_one_by_slug(api, treatment):
    TreatmentFactory(slug="retired", active=False)
    response = api.get("/api/v1/treatments/")
    assert response.status_code == 200
    assert [t["slug"] for t in response.json()] == ["thighs"]
    detail = api.get("/api/v1/treatments/thighs/").json()
    assert detail["name"] == "Microneedling: thighs" and detail["duration_minutes"] == 60
    assert detail["price"] == "250.00" and detail["pre_care"] == "Avoid alcohol for 48 hours."
    assert api.get("/api/v1/treatments/retired/").status_code == 404
    assert api.get("/api/v1/treatments/nope/").status_code == 404


def test_anyone_lists_active_practitioners_with_their_treatments(api, practitioner):
    PractitionerFactory(slug="gone", active=False)
    response = api.get("/api/v1/practitioners/")
    assert response.status_code == 200
    (listed,) = response.json()
    assert listed["slug"] == "amelia-hart" and listed["name"] == "Amelia Hart"
    assert listed["treatments"] == [{"slug": "thighs", "name": "Microneedling: thighs"}]
    assert api.get("/api/v1/practitioners/amelia-hart/").json()["treatments"][0]["slug"] == "thighs"
    assert api.get("/api/v1/practitioners/gone/").status_code == 404


def test_list_endpoints_cost_the_same_few_queries_as_data_grows(api, django_assert_max_num_queries):
    def grow(count):
        for _ in range(count):
            treatment = TreatmentFactory()
            PractitionerFactory(treatments=[treatment, TreatmentFactory()])

    grow(2)
    for size in (2, 20):
        if size == 20:
            grow(18)
        with django_assert_max_num_queries(1):
            assert len(api.get("/api/v1/treatments/").json()) == 2 * size
        with django_assert_max_num_queries(2):
            assert len(api.get("/api/v1/practitioners/").json()) == size


def test_a_patients_appointment_list_costs_the_same_few_queries_as_it_grows(
    patient_api, patient, treatment, practitioner, django_assert_max_num_queries
):
    for week in range(1, 4):
        AppointmentFactory(
            patient=patient, treatment=treatment, practitioner=practitioner, start_at=at(in_days(7 * week), 10)
        )
    with django_assert_max_num_queries(5):
        assert len(patient_api.get(BOOK).json()) == 3
    for week in range(4, 24):
        AppointmentFactory(
            patient=patient, treatment=treatment, practitioner=practitioner, start_at=at(in_days(7 * week), 10)
        )
    with django_assert_max_num_queries(5):
        assert len(patient_api.get(BOOK).json()) == 23


# --- availability --------------------------------------------------------------------------------------------


def availability(api, **params):
    return api.get("/api/v1/availability/", params)


@pytest.mark.clock
def test_availability_lists_free_times_per_day_in_the_clinics_zone(api, treatment, practitioner):
    day = in_days(7)
    AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=at(day, 12))
    response = availability(api, treatment="thighs", practitioner="amelia-hart", **{"from": day, "to": day})
    assert response.status_code == 200
    body = response.json()
    assert (body["treatment"], body["practitioner"], body["time_zone"]) == ("thighs", "amelia-hart", "Europe/London")
    (listed_day,) = body["days"]
    starts = [datetime.datetime.fromisoformat(slot["start"]) for slot in listed_day["slots"]]
    assert listed_day["date"] == day.isoformat()
    assert starts[0] == at(day, 9) and at(day, 10, 45) in starts
    assert at(day, 11) not in starts and at(day, 12) not in starts and at(day, 13, 15) in starts
    assert all(slot["practitioner"] == "amelia-hart" for slot in listed_day["slots"])


def test_first_available_and_a_daylight_saving_day(api, treatment, practitioner, settings):
    settings.CLINIC = {**settings.CLINIC, "HORIZON_DAYS": 500}
    spring_forward = datetime.date(2027, 3, 28)
    response = availability(api, treatment="thighs", practitioner="", **{"from": spring_forward, "to": spring_forward})
    assert response.status_code == 200 and response.json()["practitioner"] is None
    first = response.json()["days"][0]["slots"][0]
    assert first["start"] == "2027-03-28T09:00:00+01:00" and first["practitioner"] == "amelia-hart"


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("accept", ["", "*/*", "application/json", "application/json, text/plain", BROWSER_ACCEPT])
def test_an_anonymous_get_answered_without_rest_framework_is_the_same_bytes_and_headers(
    api, treatment, practitioner, accept, monkeypatch
):
    """api.views.availability_view answers the common anonymous GET from the cached bytes itself; anything to
    negotiate goes to REST framework's view. Both give the same answer, byte for byte, and the same headers."""
    from api import views

    params = {"treatment": "thighs", "practitioner": "", "from": in_days(3), "to": in_days(9)}
    negotiated = api.get("/api/v1/availability/", params, HTTP_ACCEPT="application/json; q=1.0")
    drf_view = views.availability_api_view
    plain_only = accept != BROWSER_ACCEPT  # a list with weights is REST framework's to negotiate
    if plain_only:
        monkeypatch.setattr(views, "availability_api_view", lambda request: pytest.fail("went to REST framework"))
    plain = api.get("/api/v1/availability/", params, **({"HTTP_ACCEPT": accept} if accept else {}))
    monkeypatch.setattr(views, "availability_api_view", drf_view)
    assert plain.status_code == negotiated.status_code == 200
    assert plain.content == negotiated.content
    assert dict(plain.headers) == dict(negotiated.headers)


@pytest.mark.parametrize(
    "params, accept, status",
    [
        ({"treatment": "nope"}, "", 400),  # the refusal is written by REST framework, as before
        ({"format": "xml"}, "", 404),
        ({}, "text/html", 406),
        ({}, "application/json; indent=4", 200),  # the cached bytes, as before (never indented)
    ],
)
def test_what_the_plain_answer_leaves_to_rest_framework_is_answered_as_before(
    api, treatment, practitioner, params, accept, status
):
    query = {"treatment": "thighs", "practitioner": "", "from": in_days(3), "to": in_days(4), **params}
    response = api.get("/api/v1/availability/", query, **({"HTTP_ACCEPT": accept} if accept else {}))
    assert response.status_code == status and response["Content-Type"] == "application/json"
    assert api.post("/api/v1/availability/", query, format="json").status_code == 405


def test_the_written_out_answer_is_what_the_availability_serializer_gives(treatment, practitioner, settings):
    """The endpoint writes its answer without REST framework's serializers (api.serializers.availability_data,
    for speed): the same JSON, on a winter day (UTC: Z), a summer day and both clock changes."""
    from api import serializers as s
    from bookings.availability import available_slots

    settings.CLINIC = {**settings.CLINIC, "HORIZON_DAYS": 800}
    for first in (datetime.date(2027, 1, 12), datetime.date(2027, 3, 27), datetime.date(2027, 7, 6)):
        last = first + datetime.timedelta(days=2)
        days = available_slots(treatment, None, first, last, now=at(first, 0) - datetime.timedelta(days=3))
        payload = {
            "treatment": "thighs",
            "practitioner": None,
            "site": None,
            "time_zone": "Europe/London",
            "days": [{"date": day, "unavailable_reason": "", "slots": slots} for day, slots in days.items()],
        }
        assert sum(len(slots) for slots in days.values()) > 10
        assert s.availability_data(payload) == s.AvailabilitySerializer(payload).data
    october = datetime.date(2026, 10, 24)  # the night of 25 October: a repeated hour
    days = available_slots(treatment, practitioner, october, october + datetime.timedelta(days=1), now=at(october, 0))
    payload = {**payload, "practitioner": "amelia-hart"}
    payload["days"] = [{"date": day, "unavailable_reason": "why", "slots": slots} for day, slots in days.items()]
    assert s.availability_data(payload) == s.AvailabilitySerializer(payload).data


@pytest.mark.clock
def test_the_query_string_read_directly_is_what_the_serializer_accepts_or_refuses(treatment, practitioner):
    """The endpoint reads a plain query string itself (api.serializers.availability_query, for speed) and
    leaves the rest to AvailabilityQuerySerializer: the same treatment, practitioner, site and days for every
    query string the serializer accepts, and its refusals, word for word, for the others."""
    from django.http import QueryDict
    from rest_framework.exceptions import ValidationError

    from api import serializers as s

    PractitionerFactory(slug="other")
    site = SiteFactory(slug="soho")
    first, last = in_days(1).isoformat(), in_days(7).isoformat()
    asked = [
        f"treatment=thighs&from={first}&to={last}",
        f"treatment=thighs&practitioner=amelia-hart&site=&from={first}&to={last}",
        f"treatment=thighs&practitioner=&site={site.slug}&from={first}&to={first}",
        f"treatment=nope&treatment=thighs&from={first}&to={last}&to={first}",  # the last of each counts
        f"treatment=thighs&practitioner=other&from={first}&to={last}",
        f"treatment=thighs&site=nowhere&from={first}&to={last}",
        f"treatment=thighs&from={in_days(-1)}&to={last}",
        f"treatment=thighs&from={last}&to={first}",
        f"treatment=thighs&from={first}&to={in_days(40)}",
        f"treatment=thighs&from={first}&to={in_days(120)}",
        f"treatment=thighs&from={first.replace('-', '')}&to={last}",  # 20261202: read by the serializer alone
        f"treatment=thighs&from=2026-13-45&to={last}",
        f"treatment=thighs&from= {first}&to={last}",
        f"treatment=&from={first}&to={last}",
        f"from={first}&to={last}",
    ]
    known = catalogue()
    for query in asked:
        params = QueryDict(query)
        serializer = s.AvailabilityQuerySerializer(data=params, context={"catalogue": known})
        if serializer.is_valid():
            data = serializer.validated_data
            expected = (data["treatment"], data["practitioner"], data["site"], data["from"], data["to"])
            assert s.availability_query(params, known) == expected, query
        else:
            with pytest.raises(ValidationError) as refusal:
                s.availability_query(params, known)
            assert refusal.value.detail == serializer.errors, query
    assert s._plain_query(QueryDict(asked[1]), known) is not None  # the plain case is read directly


def test_a_signed_in_patient_sees_why_a_day_is_not_available_to_them(patient_api, patient, treatment, practitioner):
    AppointmentFactory(patient=patient, practitioner=practitioner, treatment=treatment, start_at=at(in_days(10), 10))
    body = availability(patient_api, treatment="thighs", **{"from": in_days(20), "to": in_days(20)}).json()
    (day,) = body["days"]
    assert "your next session can be from" in day["unavailable_reason"] and day["slots"] == []


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"practitioner": "amelia-hart", "from": 1, "to": 1}, "treatment", "required"),
        ({"treatment": "nope", "from": 1, "to": 1}, "treatment", "There is no treatment “nope”."),
        ({"treatment": "thighs", "practitioner": "nobody", "from": 1, "to": 1}, "practitioner", "no practitioner"),
        ({"treatment": "thighs", "practitioner": "other", "from": 1, "to": 1}, "practitioner", "does not offer"),
        ({"treatment": "thighs", "from": -1, "to": 1}, "from", "in the past"),
        ({"treatment": "thighs", "from": 5, "to": 2}, "to", "before"),
        ({"treatment": "thighs", "from": 80, "to": 95}, "to", "days ahead"),
        ({"treatment": "thighs", "from": 1, "to": 40}, "to", "at most 31 days"),
        ({"treatment": "thighs", "from": "2026-13-45", "to": 1}, "from", "Date has wrong format"),
        ({"treatment": "thighs", "to": 1}, "from", "required"),
    ],
)
def test_bad_availability_questions_get_a_clear_400(api, treatment, practitioner, params, field, message):
    PractitionerFactory(slug="other")
    params = {
        key: in_days(value) if key in ("from", "to") and isinstance(value, int) else value
        for key, value in params.items()
    }
    response = availability(api, **params)
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])


def test_availability_costs_the_same_queries_for_one_day_or_a_month(
    api, treatment, practitioner, django_assert_max_num_queries
):
    PractitionerFactory(treatments=[treatment])
    catalogue()  # the clinic's set-up: loaded once a process, and again only when it changes
    for days in (0, 30):
        with django_assert_max_num_queries(2):  # which answers are current, and the answer's one data query
            response = availability(api, treatment="thighs", **{"from": in_days(1), "to": in_days(1 + days)})
        assert response.status_code == 200 and len(response.json()["days"]) == days + 1


# --- who may see and book -----------------------------------------------------------------------------------


def test_only_signed_in_patients_see_or_book_appointments(api, treatment, practitioner, sign_in):
    body = booking(treatment, practitioner, at(in_days(7), 10).isoformat())
    assert api.get(BOOK).status_code == 403
    assert api.post(BOOK, body, format="json").status_code == 403
    for user in (practitioner.user, staff_user(roles.FRONT_DESK)):
        api.force_login(user)
        assert api.get(BOOK).status_code == 403
        assert api.post(BOOK, body, format="json").status_code == 403
    sign_in(api, staff_user(roles.CLINIC_ADMIN))
    assert api.post(BOOK, body, format="json").status_code == 403
    assert not Appointment.objects.exists()


def test_a_patient_never_sees_or_cancels_anothers_appointment(patient_api, patient, treatment, practitioner):
    mine = AppointmentFactory(
        patient=patient, treatment=treatment, practitioner=practitioner, start_at=at(in_days(7), 10)
    )
    theirs = AppointmentFactory(treatment=treatment, practitioner=practitioner, start_at=at(in_days(7), 14))
    assert [a["id"] for a in patient_api.get(BOOK).json()] == [mine.pk]
    assert patient_api.get(f"{BOOK}{mine.pk}/").json()["id"] == mine.pk
    assert patient_api.get(f"{BOOK}{theirs.pk}/").status_code == 404
    assert patient_api.post(f"{BOOK}{theirs.pk}/cancel/", {}, format="json").status_code == 404
    assert patient_api.post(f"{BOOK}999999/cancel/", {}, format="json").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Appointment.Status.BOOKED


# --- booking and cancelling --------------------------------------------------------------------------------


@pytest.mark.clock
def test_a_patient_books_an_offered_time_through_the_service(patient_api, patient, treatment, practitioner):
    offered = availability(patient_api, treatment="thighs", **{"from": in_days(7), "to": in_days(7)}).json()
    start = offered["days"][0]["slots"][4]["start"]  # 10:00
    response = patient_api.post(BOOK, booking(treatment, None, start), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["start"] == start and body["status"] == "booked" and body["source"] == "api"
    assert body["practitioner"] == {"slug": "amelia-hart", "name": "Amelia Hart"}
    assert body["can_cancel_online"] is True and body["ics_url"] == f"/appointments/{body['id']}/calendar.ics"
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.source, appointment.created_by) == (patient, "api", patient.user)
    assert appointment.events.get().action == AppointmentEvent.Action.BOOKED


def test_a_taken_time_is_a_409_with_the_nearest_free_times(patient_api, treatment, practitioner):
    start = at(in_days(7), 12)
    AppointmentFactory(treatment=treatment, practitioner=practitioner, start_at=start)
    response = patient_api.post(BOOK, booking(treatment, practitioner, start.isoformat()), format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "slot_taken" and "just taken" in body["detail"]
    assert [slot["start"][11:16] for slot in body["alternatives"]] == ["10:30", "10:45", "13:15"]
    assert Appointment.objects.count() == 1


def test_the_course_interval_and_eligibility_refusals_carry_the_services_message(
    patient_api, patient, treatment, practitioner, monkeypatch
):
    AppointmentFactory(patient=patient, treatment=treatment, practitioner=practitioner, start_at=at(in_days(10), 10))
    response = patient_api.post(BOOK, booking(treatment, practitioner, at(in_days(20), 10).isoformat()), format="json")
    assert response.status_code == 409 and response.json()["code"] == "course_interval"
    assert "your next session can be from" in response.json()["detail"]
    monkeypatch.setattr(
        services,
        "check_eligibility",
        lambda patient, treatment: Eligibility(False, "Please fill in your intake.", "/intake/"),
    )
    response = patient_api.post(BOOK, booking(treatment, practitioner, at(in_days(50), 10).isoformat()), format="json")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Please fill in your intake.",
        "code": "not_eligible",
        "next_step_url": "/intake/",
    }
    assert Appointment.objects.count() == 1


def test_an_uncleared_patient_is_told_to_fill_in_the_health_form(patient_api, practitioner):
    gated = TreatmentFactory(slug="gated", needs_cleared_intake=True)
    practitioner.treatments.add(gated)
    response = patient_api.post(BOOK, booking(gated, practitioner, at(in_days(7), 10).isoformat()), format="json")
    assert response.status_code == 403 and response.json()["code"] == "not_eligible"
    assert "health form" in response.json()["detail"] and response.json()["next_step_url"]
    assert not Appointment.objects.exists()


def far_future():
    return "9999-12-31T23:59:00-05:00"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"practitioner": "amelia-hart", "start": "DAY7@10"}, "treatment", "required"),
        ({"treatment": "nope", "start": "DAY7@10"}, "treatment", "There is no treatment"),
        ({"treatment": 12, "start": "DAY7@10"}, "treatment", "There is no treatment"),
        ({"treatment": ["thighs"], "start": "DAY7@10"}, "treatment", "There is no treatment"),
        (
            {"treatment": "thighs", "practitioner": "amelia-hart-x", "start": "DAY7@10"},
            "practitioner",
            "no practitioner",
        ),
        ({"treatment": "thighs", "practitioner": "other", "start": "DAY7@10"}, "practitioner", "does not offer"),
        ({"treatment": "thighs", "start": "2027-01-05T10:00:00"}, "start", "UTC offset"),
        ({"treatment": "thighs", "start": "tomorrow at ten"}, "start", "wrong format"),
        ({"treatment": "thighs", "start": 1767225600}, "start", "wrong format"),
        ({"treatment": "thighs", "start": "DAY-2@10"}, "start", "not offered"),
        ({"treatment": "thighs", "start": "DAY200@10"}, "start", "not offered"),
        ({"treatment": "thighs", "start": far_future()}, "start", ""),
        ({"treatment": "thighs", "start": "DAY7@10:05"}, "detail", "not offered"),
        ({"treatment": "thighs", "start": "DAY7@20"}, "detail", "not offered"),
    ],
)
def test_bad_booking_requests_get_a_400_and_nothing_is_written(
    patient_api, treatment, practitioner, body, field, message
):
    PractitionerFactory(slug="other")
    start = body.get("start")
    if isinstance(start, str) and start.startswith("DAY"):
        days, clock = start[3:].split("@")
        hour, _, minute = clock.partition(":")
        body = {**body, "start": at(in_days(int(days)), int(hour), int(minute or 0)).isoformat()}
    response = patient_api.post(BOOK, body, format="json")
    assert response.status_code == 400, response.json()
    errors = response.json()[field]
    assert message in (errors if isinstance(errors, str) else " ".join(errors))
    assert not Appointment.objects.exists() and not AppointmentEvent.objects.exists()


@pytest.mark.parametrize("raw", ["{not json", "[]", '"thighs"', "null", ""])
def test_a_body_that_is_not_a_json_object_is_a_400(patient_api, treatment, practitioner, raw):
    response = patient_api.post(BOOK, raw, content_type="application/json")
    assert response.status_code == 400
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"treatment": ', "}")])
def test_a_body_nested_thousands_deep_is_a_400_with_a_message(patient_api, treatment, practitioner, opening, closing):
    """json.loads recurses: 2,000 levels raised RecursionError, which DRF did not take for a parse error (500)."""
    raw = opening * 2000 + "1" + closing * 2000
    response = patient_api.post(BOOK, raw, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert not Appointment.objects.exists()


def test_a_form_encoded_body_is_refused(patient_api, treatment, practitioner):
    response = patient_api.post(BOOK, booking(treatment, practitioner, at(in_days(7), 10).isoformat()))
    assert response.status_code == 415 and not Appointment.objects.exists()


def test_a_tampered_patient_id_in_the_body_books_for_the_signed_in_patient_only(
    patient_api, patient, treatment, practitioner
):
    other = PatientFactory()
    body = {
        **booking(treatment, practitioner, at(in_days(7), 10).isoformat()),
        "patient": other.pk,
        "source": "front_desk",
    }
    assert patient_api.post(BOOK, body, format="json").status_code == 201
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.source) == (patient, "api")


def test_a_patient_cancels_their_appointment_and_the_time_is_free_again(patient_api, patient, treatment, practitioner):
    start = at(in_days(7), 10)
    created = patient_api.post(BOOK, booking(treatment, practitioner, start.isoformat()), format="json").json()
    response = patient_api.post(f"{BOOK}{created['id']}/cancel/", {"reason": "Away that week"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled" and response.json()["can_cancel_online"] is False
    appointment = Appointment.objects.get()
    assert appointment.cancellation_reason == "Away that week"
    again = patient_api.post(f"{BOOK}{created['id']}/cancel/", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_status"
    slots = availability(patient_api, treatment="thighs", **{"from": start.date(), "to": start.date()}).json()
    assert start in [datetime.datetime.fromisoformat(slot["start"]) for slot in slots["days"][0]["slots"]]


@pytest.mark.clock
def test_inside_the_cancellation_window_the_answer_says_to_call(
    patient_api, patient, treatment, practitioner, settings
):
    soon = (timezone.now() + datetime.timedelta(hours=5)).replace(microsecond=0)
    appointment = AppointmentFactory(patient=patient, treatment=treatment, practitioner=practitioner, start_at=soon)
    assert patient_api.get(f"{BOOK}{appointment.pk}/").json()["can_cancel_online"] is False
    response = patient_api.post(f"{BOOK}{appointment.pk}/cancel/", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "cancellation_window"
    assert settings.CLINIC["PHONE"] in response.json()["detail"]
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED
    long_reason = patient_api.post(f"{BOOK}{appointment.pk}/cancel/", {"reason": "x" * 301}, format="json")
    assert long_reason.status_code == 400


# --- CSRF ------------------------------------------------------------------------------------------------


def test_a_session_write_needs_the_csrf_token(patient, treatment, practitioner):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(patient.user)
    body = booking(treatment, practitioner, at(in_days(7), 10).isoformat())
    refused = api.post(BOOK, body, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not Appointment.objects.exists()
    token = api.get(BOOK).cookies["csrftoken"].value  # the list sets the cookie
    assert api.post(BOOK, body, format="json", HTTP_X_CSRFTOKEN=token).status_code == 201


# --- schema and docs ---------------------------------------------------------------------------------------


def test_the_schema_generates_without_warnings_and_is_served(api, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    schema = (tmp_path / "schema.yaml").read_text()
    for endpoint in ("/api/v1/availability/", "/api/v1/appointments/{id}/cancel/", "/api/v1/practitioners/{slug}/"):
        assert endpoint in schema
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200 and json.loads(response.content)["info"]["title"] == "Clinic API"


def test_the_docs_page_uses_only_the_apps_own_scripts(api):
    response = api.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html and "/static/api/docs.js" in html
    assert "<script>" not in html and "cdn" not in html.lower()
    assert "script-src 'self'" in response["Content-Security-Policy"]


# --- the race ------------------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_api_bookings_of_one_time_give_one_201_and_409s_with_alternatives(treatment):
    RoomFactory(name="Room A"), RoomFactory(name="Room B")
    practitioner = open_every_day(PractitionerFactory(treatments=[treatment]))
    clients = []
    for _ in range(20):
        client = APIClient()
        client.force_login(PatientFactory().user)
        clients.append(client)
    body = booking(treatment, practitioner, at(in_days(7), 10).isoformat())
    barrier = threading.Barrier(len(clients))
    responses = [None] * len(clients)

    def post(index, client):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET deadlock_timeout = '50ms'")
            barrier.wait(timeout=30)
            responses[index] = client.post(BOOK, body, format="json")
        except Exception as error:  # noqa: BLE001 - a 500 re-raised by the test client lands here
            responses[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(i, client)) for i, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    statuses = sorted(getattr(response, "status_code", repr(response)) for response in responses)
    assert statuses == [201] + [409] * 19, statuses
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "slot_taken" and response.json()["alternatives"]
    assert Appointment.objects.count() == 1


def test_a_path_no_url_matches_answers_json_under_the_api_and_the_page_elsewhere(api):
    """Found by schemathesis (tests/test_api_schemathesis.py): /api/v1/appointments/-1/ matched no URL and
    answered the site's HTML page, which no API client can read."""
    response = api.get("/api/v1/appointments/-1/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
    page = api.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
