"""Screenshots of the main pages at desktop and phone size, for the README: `make screenshots`.

    DEBUG=1 .venv/bin/python docs/make_screenshots.py

Builds a throwaway SQLite database (a temporary file; no other database is touched) with the demo clinic of
`seed_demo`, plus two health forms waiting for review (one flagged for warfarin); serves it with `runserver`
on a free port; and drives Debian's Chromium (as the browser tests do) through the pages, signed in as the
demo patient and the demo practitioner. Writes viewport-sized PNGs (reduced to a 256-colour palette so the
repository stays small) to docs/screenshots/<page>-<desktop|phone>.png.
"""

import datetime
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

sys.path.insert(0, str(ROOT))
_db_dir = tempfile.mkdtemp(prefix="clinic-screenshots-")
os.environ["DATABASE_URL"] = f"sqlite:///{_db_dir}/clinic.sqlite3"
os.environ["REDIS_URL"] = ""
os.environ.setdefault("DEBUG", "1")
os.environ["DJANGO_SETTINGS_MODULE"] = "docs.screenshot_settings"  # in-memory broker and mail

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from operations.management.commands.seed_demo import DEMO_INTAKE_ANSWERS, DEMO_PASSWORD, DEMO_PATIENT  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def prepare_database():
    from clinic import services as clinic_services
    from consultations import services as intake_services

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=io.StringIO())
    waiting = [("Rosa", "Flores", {"anticoagulants": ["warfarin"], "supplements": ["fish_oil"]}), ("Ned", "Lowe", {})]
    for first, last, answers in waiting:
        patient = clinic_services.register_patient(
            email=f"{first.lower()}@example.com",
            password=DEMO_PASSWORD,
            first_name=first,
            last_name=last,
            phone="07700 900111",
            date_of_birth=datetime.date(1985, 3, 2),
        )
        intake_services.submit_intake(patient, {**DEMO_INTAKE_ANSWERS, **answers})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("the development server did not start")


def next_weekday(days_ahead: int) -> datetime.date:
    day = datetime.date.today() + datetime.timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


def shoot(page, name: str, size: str):
    page.wait_for_load_state("networkidle")
    path = OUT / f"{name}-{size}.png"
    page.screenshot(path=str(path))
    shrink(path)
    print(f"  {path.relative_to(ROOT)}")


def shrink(path: Path):
    from PIL import Image

    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(colors=256)
    palette.save(path, optimize=True)


def sign_in(page, base, email):
    page.goto(base + "/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def patient_pages(browser, base, size, practitioner):
    page = browser.new_context(viewport=VIEWPORTS[size], locale="en-GB", timezone_id="Europe/London").new_page()
    page.goto(base + "/")
    shoot(page, "01-home", size)
    page.goto(base + "/treatments/microneedling-thighs/")
    shoot(page, "02-treatment", size)
    page.goto(base + f"/practitioners/{practitioner.slug}/")
    shoot(page, "03-practitioner", size)

    sign_in(page, base, DEMO_PATIENT["email"])
    day = next_weekday(30 if size == "desktop" else 65)  # 28+ days after the seeded session, and apart
    page.goto(base + f"/book/microneedling-thighs/?practitioner={practitioner.pk}&day={day.isoformat()}")
    shoot(page, "04-booking-times", size)
    page.locator("#times .times a").nth(2).click()
    page.get_by_role("heading", name="Confirm your booking").wait_for()
    shoot(page, "05-booking-confirm", size)
    page.get_by_role("button", name="Book this time").click()
    page.get_by_text("You are booked").wait_for()
    shoot(page, "06-booked", size)
    page.goto(base + "/appointments/")
    shoot(page, "07-my-appointments", size)
    page.goto(base + "/intake/form/")
    shoot(page, "08-health-form", size)
    page.context.close()


def practitioner_pages(browser, base, size, practitioner, flagged_intake_id):
    page = browser.new_context(viewport=VIEWPORTS[size], locale="en-GB", timezone_id="Europe/London").new_page()
    sign_in(page, base, practitioner.user.email)
    page.goto(base + "/intake/review/")
    shoot(page, "09-review-queue", size)
    page.goto(base + f"/intake/review/{flagged_intake_id}/")
    shoot(page, "10-review-detail", size)
    page.context.close()


def desk_pages(browser, base, size, practitioner):
    """The front desk's day on the demo's today (seed_demo's appointments in every state), scrolled to the
    line that marks now; the booking panel opened from a free time; every practitioner's week; the month;
    a day sheet."""
    page = browser.new_context(viewport=VIEWPORTS[size], locale="en-GB", timezone_id="Europe/London").new_page()
    sign_in(page, base, "frontdesk@clinic.example")
    page.goto(base + "/desk/")  # the grid opens at the line that marks now
    shoot(page, "11-frontdesk-calendar", size)
    cells = page.locator(f'button.cal-cell[data-slot^="{practitioner.pk}@"]')
    if cells.count():
        cells.nth(min(3, cells.count() - 1)).click()
        page.get_by_role("heading", name="New appointment").wait_for()
        page.get_by_label("Find the patient").fill("Park")
        page.locator("#panel-patients input").first.wait_for()
        shoot(page, "12-frontdesk-booking-panel", size)
    page.goto(base + "/desk/week/")
    shoot(page, "13-frontdesk-week", size)
    page.goto(base + "/desk/month/")
    shoot(page, "14-frontdesk-month", size)
    page.goto(base + f"/desk/day-sheet/{practitioner.pk}/")
    shoot(page, "15-frontdesk-day-sheet", size)
    page.context.close()


def owner_pages(browser, base, size):
    """The owner's reports as the demo clinic admin, past the second factor with the code `two_factor_code`
    prints for the demo's authenticator."""
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # one query for the code, beside Playwright's loop
    page = browser.new_page(viewport=VIEWPORTS[size])
    sign_in(page, base, "admin@clinic.example")
    code = io.StringIO()
    call_command("two_factor_code", "admin@clinic.example", stdout=code, stderr=io.StringIO())
    page.locator("#id_token").fill(code.getvalue().strip())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    today = datetime.date.today()
    start = (today - datetime.timedelta(days=41)).isoformat()
    page.goto(f"{base}/reports/utilisation/?start={start}&end={today.isoformat()}")
    shoot(page, "16-reports-utilisation", size)
    page.goto(f"{base}/reports/attendance/?start={start}&end={today.isoformat()}")
    shoot(page, "17-reports-attendance", size)
    page.close()


def has_front_desk() -> bool:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("desk:calendar")
    except NoReverseMatch:
        return False
    return True


def main():
    from playwright.sync_api import sync_playwright

    from clinic.models import Practitioner
    from consultations.models import IntakeForm

    OUT.mkdir(parents=True, exist_ok=True)
    prepare_database()
    practitioner = Practitioner.objects.select_related("user").get(user__email="amelia.hart@clinic.example")
    flagged_intake_id = IntakeForm.objects.get(patient__user__email="rosa@example.com").pk
    port = free_port()
    server = start_server(port)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for size in VIEWPORTS:
                if sys.argv[1:] == ["--reports"]:  # the owner's reports alone
                    owner_pages(browser, base, size)
                    continue
                patient_pages(browser, base, size, practitioner)
                practitioner_pages(browser, base, size, practitioner, flagged_intake_id)
                if has_front_desk():
                    desk_pages(browser, base, size, practitioner)
                owner_pages(browser, base, size)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(_db_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
