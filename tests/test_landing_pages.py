"""After signing in, each role lands on its working page; patients have "Book" in the menu and the booking
page says which treatments need a consultation first (issue #15, part 7)."""

import pytest
from django.urls import reverse

from clinic import roles
from tests.factories import (
    PASSWORD,
    ClearedPatientFactory,
    ConsultationFactory,
    PatientFactory,
    PractitionerFactory,
    TreatmentFactory,
    staff_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]


def sign_in_with_password(client, user):
    return client.post(reverse("login"), {"username": user.email, "password": PASSWORD}, follow=True)


@pytest.mark.parametrize(
    ("make_user", "landing"),
    [
        (lambda: PatientFactory().user, "my_appointments"),
        (lambda: PractitionerFactory().user, "my_day"),
        (lambda: staff_user(roles.FRONT_DESK), "desk:calendar"),
    ],
    ids=["patient", "practitioner", "front desk"],
)
def test_signing_in_lands_on_the_roles_working_page(client, make_user, landing):
    response = sign_in_with_password(client, make_user())
    assert response.redirect_chain[-1][0] == reverse(landing)
    assert response.status_code == 200


def test_a_clinic_admin_lands_on_the_calendar_after_the_second_factor(client, sign_in):
    admin = staff_user(roles.CLINIC_ADMIN)
    sign_in(client, admin)
    response = client.get(reverse("start"))
    assert response.url == reverse("desk:calendar")


def test_a_page_asked_for_wins_over_the_landing_page(client):
    patient = PatientFactory()
    response = client.post(
        reverse("login") + "?next=" + reverse("profile"),
        {"username": patient.user.email, "password": PASSWORD},
    )
    assert response.url == reverse("profile")


def test_patients_have_book_in_the_menu(client):
    client.force_login(PatientFactory().user)
    page = client.get(reverse("my_appointments")).content.decode()
    assert f'href="{reverse("book_start")}">Book</a>' in page


def test_the_booking_page_marks_treatments_that_need_a_consultation_first(client):
    ConsultationFactory()
    TreatmentFactory(name="Thighs session", needs_cleared_intake=True)
    client.force_login(PatientFactory().user)
    page = client.get(reverse("book_start")).content.decode()
    assert page.count("Consultation first") == 1
    assert page.index("Consultation first") > page.index("Thighs session")

    client.force_login(ClearedPatientFactory().user)
    assert "Consultation first" not in client.get(reverse("book_start")).content.decode()
