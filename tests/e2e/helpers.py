"""Steps shared by the browser journeys."""

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.factories import PASSWORD

_axe = Axe()
SERIOUS = ("serious", "critical")


def assert_accessible(page):
    """No serious or critical axe-core violation on the page as it is now (axe served from the package)."""
    results = _axe.run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    summary = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in bad]
    assert not bad, f"{page.url}: " + "; ".join(summary)


def open_menu_if_collapsed(page):
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible() and toggler.get_attribute("aria-expanded") == "false":
        toggler.click()


def sign_in(page, email, password=PASSWORD):
    page.goto(page.base_url + "/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def complete_sign_up(page):
    """Fill in the open sign-up form as Jo Bloggs (jo@example.com) and create the account."""
    page.get_by_label("First name").fill("Jo")
    page.get_by_label("Last name").fill("Bloggs")
    page.get_by_label("Email").fill("jo@example.com")
    page.get_by_label("Phone").fill("07700 900456")
    page.get_by_label("Date of birth").fill("1990-04-01")
    page.locator("#id_password1").fill("a-long-unusual-pass")
    page.locator("#id_password2").fill("a-long-unusual-pass")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_text("Your account is ready")).to_be_visible()
