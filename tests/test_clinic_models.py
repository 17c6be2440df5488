import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic.models import Treatment, WorkingHours, validate_adult
from tests.factories import PractitionerFactory, TimeOffFactory, TreatmentFactory

pytestmark = pytest.mark.django_db


def test_treatment_with_unknown_body_area_is_refused_with_the_choices():
    treatment = TreatmentFactory.build(body_areas=["elbows"])
    with pytest.raises(ValidationError) as error:
        treatment.full_clean()
    assert "Unknown body area(s): elbows" in str(error.value)
    assert "thighs" in str(error.value)


def test_treatment_duration_must_be_positive():
    with pytest.raises(ValidationError) as error:
        TreatmentFactory.build(duration_minutes=0).full_clean()
    assert "duration_minutes" in error.value.message_dict


def test_negative_price_is_refused_by_the_form_rules_and_the_database():
    with pytest.raises(ValidationError):
        TreatmentFactory.build(price=Decimal("-1")).full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        TreatmentFactory(price=Decimal("-1"))


def test_a_consultation_cannot_require_a_cleared_intake():
    with pytest.raises(ValidationError) as error:
        TreatmentFactory.build(kind=Treatment.Kind.CONSULTATION, needs_cleared_intake=True, body_areas=[]).full_clean()
    assert "needs_cleared_intake" in error.value.message_dict


def test_working_hours_end_must_follow_start_in_clean_and_in_the_database():
    practitioner = PractitionerFactory()
    span = WorkingHours(practitioner=practitioner, weekday=0, start=datetime.time(17), end=datetime.time(9))
    with pytest.raises(ValidationError) as error:
        span.full_clean()
    assert error.value.message_dict["end"] == ["The end must be after the start."]
    with pytest.raises(IntegrityError), transaction.atomic():
        span.save()


def test_time_off_end_must_follow_start():
    start = datetime.datetime(2026, 12, 1, 9, tzinfo=datetime.UTC)
    time_off = TimeOffFactory.build(practitioner=PractitionerFactory(), start_at=start, end_at=start)
    with pytest.raises(ValidationError) as error:
        time_off.full_clean()
    assert "end_at" in error.value.message_dict


@pytest.mark.clock
def test_date_of_birth_must_be_an_adults():
    today = datetime.date.today()
    with pytest.raises(ValidationError, match="18 or over"):
        validate_adult(today.replace(year=today.year - 17))
    with pytest.raises(ValidationError, match="future"):
        validate_adult(today + datetime.timedelta(days=1))
    validate_adult(today.replace(year=today.year - 30))


def test_practitioner_gets_a_slug_from_their_name_and_a_default_photo():
    practitioner = PractitionerFactory(slug="", user__first_name="Amelia", user__last_name="Hart")
    assert practitioner.slug == "amelia-hart"
    assert practitioner.photo_url.endswith("clinic/practitioner.svg")
