"""Steps shared by the browser journeys."""

from axe_playwright_python.sync_playwright import Axe

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
