"""A visitor browses the clinic, signs up and edits their details: in a real browser, at desktop and phone size."""

import pytest
from playwright.sync_api import expect

from clinic.models import Patient
from tests.e2e.helpers import assert_accessible, complete_sign_up, open_menu_if_collapsed
from tests.factories import PractitionerFactory, TreatmentFactory

pytestmark = pytest.mark.django_db(transaction=True)
REDUCED_MOTION = "matchMedia('(prefers-reduced-motion: reduce)').matches"


@pytest.mark.motion  # the phone's menu opens with Bootstrap's animation here, as most visitors see it
def test_visitor_browses_and_signs_up(page):
    treatment = TreatmentFactory(name="Microneedling for cellulite: thighs", slug="microneedling-thighs")
    PractitionerFactory(user__first_name="Amelia", user__last_name="Hart", treatments=[treatment])

    page.goto(page.base_url + "/")
    assert not page.evaluate(REDUCED_MOTION), "a `motion` journey runs with the animations on"
    expect(page.get_by_role("heading", name="Treatments")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Microneedling for cellulite: thighs").click()
    expect(page.get_by_role("heading", name="Before your session")).to_be_visible()
    assert_accessible(page)

    open_menu_if_collapsed(page)
    page.get_by_role("link", name="Practitioners", exact=True).click()
    page.get_by_role("link", name="Amelia Hart").click()
    expect(page.get_by_text("Aesthetic nurse")).to_be_visible()
    assert_accessible(page)

    open_menu_if_collapsed(page)
    page.get_by_role("link", name="Create account").click()
    page.wait_for_url("**/accounts/signup/**")  # axe read the page mid-navigation: no document
    assert_accessible(page)
    complete_sign_up(page)  # as Jo Bloggs, jo@example.com
    assert Patient.objects.filter(user__email="jo@example.com").exists()


def test_sign_up_errors_are_shown_and_announced(page):
    page.goto(page.base_url + "/accounts/signup/")
    assert page.evaluate(REDUCED_MOTION), "the other journeys ask for reduced motion"
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_text("This field is required.").first).to_be_visible()
    assert_accessible(page)
    assert not Patient.objects.exists()
