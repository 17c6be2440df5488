"""The parts of every page around its content (templates/base.html), kept once per process and role
(clinic/templatetags/chrome.py): the same markup as the templates wrote on every request, one role's
navigation never on another's page, and the sign-out form's CSRF token fresh and valid on every response."""

import re

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from bookings.link_views import SIGNED_IN_BY_LINK
from clinic import access, roles
from tests.factories import ClearedPatientFactory, PractitionerFactory, UserFactory, staff_user

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LINK = re.compile(
    r'<a class="(?:nav-link|btn[^"]*)" href="([^"]+)">([^<]+)</a>'
    r'|<button type="submit" class="btn btn-link nav-link">([^<]+)</button>'
)
PUBLIC = [("Treatments", "/#treatments"), ("Practitioners", "/practitioners/")]
SIGN_OUT = ("Sign out", None)


def nav_of(body: str) -> str:
    return re.search(r'<nav class="navbar.*?</nav>\n', body, re.S).group(0)


def links_of(body: str) -> list[tuple[str, str | None]]:
    """The navigation's links (text, href) in order; the sign-out form's button as (text, None)."""
    return [(text, href) if text else (button, None) for href, text, button in LINK.findall(nav_of(body))]


def expected_links(user, practitioner=None) -> list[tuple[str, str | None]]:
    """What each role's navigation offers (templates/includes/nav.html), written out once here."""
    if user is None:
        return [*PUBLIC, ("Sign in", reverse("login")), ("Create account", reverse("signup"))]
    links = list(PUBLIC)
    if practitioner is not None:
        links += [
            ("My day", reverse("my_day")),
            ("Review queue", reverse("review_queue")),
            ("My profile", reverse("practitioner_edit", args=[practitioner.slug])),
        ]
    elif access.patient_of(user) is not None:
        links += [
            ("Book", reverse("book_start")),
            ("My appointments", reverse("my_appointments")),
            ("My payments", reverse("payments:mine")),
            ("My health form", reverse("intake_home")),
            ("My progress", reverse("my_progress")),
            ("My details", reverse("profile")),
        ]
    if roles.is_front_desk(user):
        links += [("Front desk", reverse("desk:calendar")), ("Waitlist", reverse("waitlist_desk"))]
    if access.may_see_reports(user):
        links.append(("Reports", reverse("reports:index")))
    if user.is_staff:
        links.append(("Admin", reverse("admin:index")))
    if practitioner is not None or roles.is_front_desk(user):
        links.append(("Two-factor sign-in", reverse("two_factor_setup")))
    return [*links, SIGN_OUT]


def page(client, url=None):
    response = client.get(url or reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


def test_each_roles_navigation_is_what_the_template_wrote(sign_in):
    patient = ClearedPatientFactory().user
    practitioner, other = PractitionerFactory(), PractitionerFactory()
    desk, admin = staff_user(roles.FRONT_DESK), staff_user(roles.CLINIC_ADMIN)
    staff = UserFactory(is_staff=True)
    seen = set()
    for user, of in (
        (None, None),
        (patient, None),
        (practitioner.user, practitioner),
        (other.user, other),
        (desk, None),
        (admin, None),
        (staff, None),
        (patient, None),
        (None, None),
    ):
        client = Client()
        if user is not None:
            sign_in(client, user)
        body = page(client)
        assert (TOKEN.search(body) is not None) == (user is not None)
        assert links_of(body) == expected_links(user, of)
        seen.add(tuple(links_of(body)))
    assert len(seen) == 7  # signed out, patient, two practitioners, desk, admin, staff: each its own
    own = page_of(sign_in, practitioner.user)
    assert reverse("practitioner_edit", args=[practitioner.slug]) in own
    assert reverse("practitioner_edit", args=[other.slug]) not in own


def page_of(sign_in, user):
    client = Client()
    sign_in(client, user)
    return page(client)


def test_a_patient_signed_in_by_link_is_offered_a_password_on_their_pages_only():
    patient = ClearedPatientFactory().user
    by_link, other = Client(), Client()
    by_link.force_login(patient)
    other.force_login(patient)
    session = by_link.session
    session[SIGNED_IN_BY_LINK] = True
    session.save()
    links = expected_links(patient)
    assert links_of(page(by_link)) == [*links[:-1], ("Choose a password", reverse("link_set_password")), SIGN_OUT]
    assert links_of(page(other)) == links


def test_the_sign_out_forms_token_is_fresh_on_each_page_and_signs_out():
    client = Client(enforce_csrf_checks=True)
    client.force_login(ClearedPatientFactory().user)
    tokens = [TOKEN.search(page(client)).group(1) for _ in range(2)]
    assert tokens[0] != tokens[1]  # masked afresh for each response (BREACH), as Django's tag does
    assert client.post(reverse("logout")).status_code == 403  # no token: refused
    assert client.post(reverse("logout"), {"csrfmiddlewaretoken": tokens[0]}).status_code == 302
    assert "Sign in" in nav_of(page(client))


def test_the_footer_and_the_clinics_name_follow_the_settings(settings):
    page(Client())  # kept with the settings before
    settings.CLINIC = {**settings.CLINIC, "NAME": "<b>Skin & Co</b>", "PHONE": "020 7946 0001", "EMAIL": "a@b.example"}
    body = page(Client())
    footer = re.search(r"<footer class=.*?</footer>\n", body, re.S).group(0)
    assert "&lt;b&gt;Skin &amp; Co&lt;/b&gt;" in footer and "&lt;b&gt;Skin &amp; Co&lt;/b&gt;" in nav_of(body)
    assert "<b>Skin" not in body
    assert 'href="tel:02079460001"' in footer and ">020 7946 0001<" in footer
    assert 'href="mailto:a@b.example"' in footer and escape(settings.CLINIC["ADDRESS"]) in footer


def test_the_static_links_are_those_of_the_static_tag():
    body = page(Client())
    for path in ("clinic/favicon.svg", "vendor/bootstrap.min.css", "clinic/site.css", "vendor/htmx.min.js"):
        assert Template("{% load static %}{% static '" + path + "' %}").render(Context()) in body


def test_kept_urls_are_reversed_for_the_script_prefix_served_under():
    from django.urls import reverse, set_script_prefix

    from clinic.kept_urls import urls_kept

    def times_url():
        return urls_kept("test", lambda: {"times": reverse("book_times", args=["a-b"])})["times"]

    assert times_url() == "/book/a-b/times/"
    try:
        set_script_prefix("/clinic/")
        assert times_url() == "/clinic/book/a-b/times/"
    finally:
        set_script_prefix("/")
    assert times_url() == "/book/a-b/times/"
