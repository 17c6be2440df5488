"""Steps shared by the browser journeys."""

import re

from axe_playwright_python.base import AxeResults
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.factories import PASSWORD

_axe = Axe()
SERIOUS = ("serious", "critical")
# axe-core's run on the page as it is, or null when the page does not hold axe yet. Every axe-core rule has an
# impact of its own and a violation it finds has that impact (axe sets each of the rule's checks to it when it
# reports), so a rule whose impact is minor or moderate can never fail the check below: those are left out of
# the run, read from the axe-core that is loaded (a new version's rules follow). About a fifth of axe's work on
# a page (docs/benchmarks.md, "sixth pass: the suite").
_AXE_RUN = """async () => {
  if (typeof axe === 'undefined') return null;
  const rules = Object.fromEntries(axe._audit.rules
    .filter(rule => rule.impact === 'minor' || rule.impact === 'moderate')
    .map(rule => [rule.id, {enabled: false}]));
  return axe.run(document, {resultTypes: ['violations'], rules});
}"""
# A page half-way through a change: an htmx request in flight or its new content settling, a Bootstrap menu
# opening or closing. Axe would judge that moment (a fading panel fails colour contrast), not the page.
_SETTLED = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added, .collapsing')"
# What the browser says when a script runs while a click's navigation swaps the document under it: the old
# document's context is gone, or the new one has no <html> yet. Seen in CI on a loaded machine.
_SWAPPED_DOCUMENT = ("Execution context was destroyed", "reading 'documentElement'", "Cannot find context")


def assert_accessible(page):
    """No serious or critical axe-core violation on the page as it is now (axe served from the package).

    A click returns once its navigation has started, so the page may still be swapping documents: wait for the
    new one to load, and for htmx's swaps and Bootstrap's transitions to settle, and, should axe still catch
    a swap, run it again on the loaded page. A violation is never retried away: only the browser's own
    "document gone" errors are.
    """
    for attempt in range(3):
        page.wait_for_load_state("load")
        try:
            wait_for_htmx(page)
            results = _run_axe(page)
            break
        except PlaywrightError as error:
            if attempt == 2 or not any(text in str(error) for text in _SWAPPED_DOCUMENT):
                raise
    bad = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    summary = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in bad]
    assert not bad, f"{page.url}: " + "; ".join(summary)


def _run_axe(page):
    """axe-core's run as `Axe.run` does it (its script put into the page, then `axe.run`), without the rules
    that cannot fail the check, and without putting the script in again while the page still holds it (an
    htmx swap keeps the document)."""
    response = page.evaluate(_AXE_RUN)
    if response is None:
        page.evaluate(_axe.axe_script)
        response = page.evaluate(_AXE_RUN)
    return AxeResults(response)


def wait_for_htmx(page):
    """Until no htmx request is in flight (htmx issues a queued one in the same task as the last one ends) and
    the last swap has settled. Playwright's "networkidle" does not do this: it is a state of the document's
    load, and once reached it does not wait for the requests htmx makes afterwards."""
    page.wait_for_function(_SETTLED)


def open_menu_if_collapsed(page):
    """On a phone, open the main menu and wait until it has finished opening.

    The page's text shows before Bootstrap's script at the end of <body> has run, so the toggler is clicked only
    once the page has loaded, and the menu's links only once its opening animation is over.
    """
    page.wait_for_load_state("load")
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible() and toggler.get_attribute("aria-expanded") == "false":
        toggler.click()
        expect(page.locator("#nav-links")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))


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
