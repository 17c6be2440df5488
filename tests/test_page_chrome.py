"""The parts of every page around its content (templates/base.html), kept once per process and role
(clinic/templatetags/chrome.py): the same markup as the templates wrote on every request, one role's
navigation never on another's page, and the sign-out form's CSRF token fresh and valid on every response."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.test import Client
from django.urls import reverse

from bookings.link_views import SIGNED_IN_BY_LINK
from clinic import access, roles
from tests.factories import ClearedPatientFactory, PractitionerFactory, UserFactory, staff_user

pytestmark = pytest.mark.django_db

# templates/includes/nav.html and footer.html as they were rendered on every request, with the context
# processor's role flags (before clinic.templatetags.chrome), kept in tests/chrome_before/.
BEFORE = Path(__file__).parent / "chrome_before"
OLD_NAV = (BEFORE / "nav.html").read_text()
OLD_FOOTER = (BEFORE / "footer.html").read_text()
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def nav_of(body: str) -> str:
    return re.search(r'<nav class="navbar.*?</nav>\n', body, re.S).group(0)


def old_nav(user, token: str, by_link=False) -> str:
    """What the navigation template wrote for this user (None: signed out)."""
    signed_in = user is not None
    values = {
        "user": user or {"is_authenticated": False},
        "request": {"session": {SIGNED_IN_BY_LINK: True} if by_link else {}},
        "CLINIC": settings.CLINIC,
        "csrf_token": token,
        "user_is_practitioner": signed_in and roles.is_practitioner(user),
        "user_is_front_desk": signed_in and roles.is_front_desk(user),
        "user_is_patient": signed_in and access.patient_of(user) is not None,
        "user_sees_reports": signed_in and access.may_see_reports(user),
    }
    return Template(OLD_NAV).render(Context(values))


def page(client, url=None):
    response = client.get(url or reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


def test_each_roles_navigation_is_what_the_template_wrote(sign_in):
    patient = ClearedPatientFactory().user
    practitioner, other = PractitionerFactory(), PractitionerFactory()
    desk, admin = staff_user(roles.FRONT_DESK), staff_user(roles.CLINIC_ADMIN)
    staff = UserFactory(is_staff=True)
    for user in (None, patient, practitioner.user, other.user, desk, admin, staff, patient, None):
        client = Client()
        if user is not None:
            sign_in(client, user)
        body = page(client)
        token = TOKEN.search(body)
        assert (token is not None) == (user is not None)
        assert nav_of(body) == old_nav(user, token.group(1) if token else "")
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
    body = page(by_link)
    assert nav_of(body) == old_nav(patient, TOKEN.search(body).group(1), by_link=True)
    assert "Choose a password" in body and "Choose a password" not in page(other)


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
    assert footer == Template(OLD_FOOTER).render(Context({"CLINIC": settings.CLINIC}))
    assert "&lt;b&gt;Skin &amp; Co&lt;/b&gt;" in nav_of(body) and "<b>Skin" not in body
    assert 'href="tel:02079460001"' in footer


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
