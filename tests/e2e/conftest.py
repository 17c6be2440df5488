"""Real-browser tests: Playwright driving Debian's Chromium against the app on a live server.

Chromium comes from `apt-get install chromium-headless-shell` (or `chromium`; .ci/run installs both when
missing); Playwright's own browser download is unreachable here and never used. Without Chromium these tests
skip, or fail under REQUIRE_SERVICES=1 as every service test does.
"""

import os
import shutil

import pytest


def _chromium() -> str:
    """CHROMIUM_PATH if set; else Debian's headless shell, else its full Chromium. The headless shell is the
    same Blink and V8 without the desktop browser around them (what Playwright's own downloads use for
    headless runs): the journeys cost 40% less of Chromium's CPU with it, all of them still passing
    (docs/benchmarks.md, "fifth pass: the suite"). The full browser is kept as the fallback."""
    if os.environ.get("CHROMIUM_PATH"):
        return os.environ["CHROMIUM_PATH"]
    for candidate in ("/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium"):
        if os.path.exists(candidate):
            return candidate
    return shutil.which("chromium") or "/usr/bin/chromium"


CHROMIUM = _chromium()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Every wait, the actions' and navigations' (set per context below) and the assertions' (`expect`, whose own
# default is 5 s), gets the same generous bound: on a loaded 2-core machine a page can take longer than 5 s to
# arrive after a click, and a test must not fail for the machine's speed (issue 16). A bound, not a sleep: a
# page that arrives at once is checked at once.
TIMEOUT_MS = 20_000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(
                "REQUIRE_SERVICES=1 but Chromium is missing: apt-get install -y chromium-headless-shell",
                pytrace=False,
            )
        pytest.skip("Chromium is not installed (apt-get install -y chromium-headless-shell)")
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser, viewport, *, motion=False):
    """A page in a context of its own. Without `motion` the browser asks for reduced motion, as a person who
    turned animations off does: Bootstrap then opens menus and dialogs and scrolls at once instead of over
    150 to 600 ms of frames the journey waits out. The journeys cost 10 to 20% less time and Chromium CPU
    (docs/benchmarks.md, "ninth pass"); those marked `motion` keep the animations, so that path stays tested.
    """
    context = browser.new_context(
        viewport=viewport,
        locale="en-GB",
        timezone_id="Europe/London",
        reduced_motion="no-preference" if motion else "reduce",
    )
    context.set_default_timeout(TIMEOUT_MS)  # generous: CI shares 2 cores with PostgreSQL, Redis and Chromium
    page = context.new_page()
    page.csp_violations = []
    page.on("console", lambda msg: _record_csp_violation(page, msg))
    return page


def _record_csp_violation(page, message):
    if "Content Security Policy" in message.text:
        page.csp_violations.append(message.text)


@pytest.fixture(params=["desktop", "phone"])
def page(request, browser, live_server):
    """A fresh page; every journey runs at desktop size and at a phone's (390 x 844)."""
    viewport = DESKTOP if request.param == "desktop" else PHONE
    page = new_page(browser, viewport, motion=request.node.get_closest_marker("motion") is not None)
    page.base_url = live_server.url
    page.is_phone = request.param == "phone"
    yield page
    violations = list(page.csp_violations)
    page.context.close()
    assert not violations, f"the content security policy blocked something: {violations}"
