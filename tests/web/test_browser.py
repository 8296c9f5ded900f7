"""The review desk in a real browser (headless Chromium driven by Playwright), against the api
service running as its own process: sign in, open the queue, edit a draft, approve it, see it
on the calendar; pause the brand and see the crisis banner. Screenshots go to var/screenshots/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.review.models import ReviewPost
from shared.config import ROOT, Settings
from tests.conftest import free_port, unavailable
from tests.support.processes import ServiceProcess
from tests.web.conftest import PASSWORD, Desk

pytestmark = pytest.mark.kafka
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "var" / "screenshots"


@pytest.fixture
def server(kafka_settings: Settings, engine, web_desk: Desk, tmp_path: Path) -> Iterator[str]:
    settings = kafka_settings.model_copy(update={"api_port": free_port()})
    process = ServiceProcess("api", settings, tmp_path / "api.log").start()
    yield settings.service_url("api")
    process.stop()


@pytest.fixture
def page(server: str) -> Iterator:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        unavailable(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright Python package")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(
            base_url=server, viewport={"width": 1200, "height": 900}, locale="fr-FR"
        )
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
        context.close()
        browser.close()


def sign_in(page, email: str) -> None:
    page.goto("/app/queue")  # redirected to the sign-in page
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/app/queue")


def test_sign_in_edit_approve_and_see_the_post_on_the_calendar(page, web_desk: Desk, session):
    sign_in(page, web_desk.email)
    card = page.locator(f'article[data-post-id="{web_desk.post_id}"]')
    assert card.locator("mark").inner_text() == "pas cher"  # the risk span is highlighted
    assert "Sandbox" in card.inner_text() and "/ 280" in card.inner_text()  # X's preview counter
    page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=True)

    card.locator("a.open-link").click()
    page.wait_for_url(f"**/app/posts/{web_desk.post_id}")
    page.fill("#text", "Notre nouveau café arrive lundi : venez le goûter !")
    page.click("#save-button")
    page.wait_for_selector("#flash")
    assert "-Notre nouveau café pas cher" in page.locator("pre.diff").inner_text()

    zone = ZoneInfo("Europe/Paris")
    when = (datetime.now(zone) + timedelta(days=2)).replace(
        hour=10, minute=30, second=0, microsecond=0
    )
    page.check("#when-at")
    page.fill("#publish-at", when.strftime("%Y-%m-%dT%H:%M"))
    page.click("#approve-button")
    page.wait_for_selector("#flash")
    assert "approuvé" in page.locator(".post-card .badge.state-approved").inner_text()
    stored = session.get(ReviewPost, web_desk.post_id)
    assert stored.state == "approved" and stored.publish_at == when
    assert stored.text == "Notre nouveau café arrive lundi : venez le goûter !"

    page.goto(f"/app/calendar?brand={web_desk.brand_id}&view=week&day={when.date().isoformat()}")
    item = page.locator(
        f'.day[data-day="{when.date().isoformat()}"] a[data-post-id="{web_desk.post_id}"]'
    )
    assert item.inner_text().startswith("10:30")
    page.screenshot(path=str(SCREENSHOTS / "calendar-week.png"), full_page=True)
    page.goto(f"/app/calendar?brand={web_desk.brand_id}&view=month&day={when.date().isoformat()}")
    assert page.locator(f'a[data-post-id="{web_desk.post_id}"]').count() == 1
    page.screenshot(path=str(SCREENSHOTS / "calendar-month.png"), full_page=True)


def test_pause_the_brand_and_see_the_crisis_banner_then_resume(page, web_desk: Desk):
    sign_in(page, web_desk.email)
    assert page.locator("#crisis-banner").count() == 0
    page.click("details summary")
    page.fill("#pause-form input[name=reason]", "bad buzz sur le service")
    page.click("#pause-button")
    banner = page.locator("#crisis-banner")
    banner.wait_for()
    text = banner.inner_text()
    assert "Mode crise" in text and "bad buzz sur le service" in text
    assert "Le café était froid" in text  # the alert's sample mentions
    assert banner.locator("svg.curve rect").count() > 3  # the volume curve
    page.screenshot(path=str(SCREENSHOTS / "crisis-banner.png"), full_page=True)

    page.goto(f"/app/mentions?brand={web_desk.brand_id}")
    assert page.locator("#crisis-banner").count() == 1  # on every page while paused
    assert "Vous êtes ouverts dimanche ?" in page.inner_text("main")
    page.check("#resume-form input[value=release]")
    page.click("#resume-button")
    page.wait_for_selector("#flash")
    assert page.locator("#crisis-banner").count() == 0
