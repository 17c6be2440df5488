"""The JSON API against its own OpenAPI schema (/api/schema/), with schemathesis.

Every operation of the schema gets generated requests (valid ones from the schema, and invalid ones that break
it), through the WSGI application in-process, on the test database. Each answer must not be a server error,
must be a status code the schema declares, with a declared content type and a body that conforms to the
declared schema. Run as an anonymous visitor and as a signed-in patient (a real session cookie, and the CSRF
token the API asks for on writes).

Examples per operation come from the hypothesis profile (tests/conftest.py): `ci` is bounded and
derandomized; `HYPOTHESIS_PROFILE=thorough` runs many more.
"""

import datetime
import json

import pytest
import schemathesis
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from clinic.wsgi import application
from tests.factories import (
    AppointmentFactory,
    ClearedPatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# The coverage phase enumerates boundary values without bound; examples and fuzzing follow max_examples.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}}})


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """The WSGI handler closes 'old' database connections at each request's start and end, which would close
    the test's transaction; Django's test client turns this off in the same way while it runs a request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def clinic_data(db, settings):
    """A treatment with free times and a practitioner, so that generated slugs sometimes hit real rows."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    treatment = TreatmentFactory(slug="microneedling-thighs", needs_cleared_intake=False)
    practitioner = PractitionerFactory(slug="jane-doe", treatments=[treatment])
    for weekday in range(7):
        WorkingHoursFactory(practitioner=practitioner, weekday=weekday, start=datetime.time(9), end=datetime.time(17))
    RoomFactory()
    return treatment, practitioner


def served_schema() -> dict:
    """What /api/schema/ serves (drf-spectacular's generator), as JSON data."""
    generator = SchemaGenerator()
    return json.loads(json.dumps(generator.get_schema(request=None, public=True), cls=DjangoJSONEncoder))


# Loaded at collection, without a database: schemathesis' lazy `from_fixture` loader does not run under pytest 9
# (it reads a private attribute pytest removed). The test below checks this is what /api/schema/ serves.
schema = schemathesis.openapi.from_dict(served_schema(), config=CONFIG)
schema.app = application  # requests go to the WSGI application in-process, as with openapi.from_wsgi


def test_the_schema_tested_is_the_one_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert json.loads(response.content) == served_schema()


@pytest.fixture
def patient_cookies(clinic_data):
    """A signed-in patient's session cookie, and a CSRF cookie with the same token in the header."""
    treatment, practitioner = clinic_data
    patient = ClearedPatientFactory()
    AppointmentFactory(
        patient=patient,
        practitioner=practitioner,
        treatment=treatment,
        start_at=timezone.now().replace(microsecond=0, second=0, minute=0) + datetime.timedelta(days=5),
    )
    client = Client()
    client.force_login(patient.user)
    token = get_token(RequestFactory().get("/"))
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    cookies[settings.CSRF_COOKIE_NAME] = token
    return cookies, {"X-CSRFToken": token}


BOUNDED = hypothesis_settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@schema.parametrize()
@BOUNDED
def test_api_as_an_anonymous_visitor(case, clinic_data):
    case.call_and_validate(checks=CHECKS)


@schema.parametrize()
@BOUNDED
def test_api_as_a_signed_in_patient(case, patient_cookies):
    cookies, headers = patient_cookies
    case.call_and_validate(checks=CHECKS, cookies=cookies, headers=headers)
