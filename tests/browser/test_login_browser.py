"""A real browser signs in as the demo manager, reads the dashboard and the dev mailbox.

Screenshots land in test-artifacts/screenshots/ for a human to look at.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from app import clock
from app.extensions import db
from app.models import Notification, NState
from app.notifications.send import deliver
from app.seed import DEMO_PASSWORD, seed_demo

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is missing: apt-get install -y chromium"
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must run the browser tests)")
    pytest.skip(reason)


@pytest.fixture
def demo_data(app):
    """The demo agency, with every message already due handed to the mailbox backend."""
    seed_demo()
    due = list(
        db.session.scalars(
            sa.select(Notification.id).where(
                Notification.state.in_([NState.PENDING.value, NState.QUEUED.value]),
                Notification.due_at <= clock.now(),
            )
        )
    )
    deliver(due)
    db.session.commit()  # no transaction left open: on SQLite it would block the server


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def page():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            tab = context.new_page()
            tab.set_default_timeout(15_000)
            yield tab
            context.close()
        finally:
            browser.close()


def test_manager_signs_in_and_reads_the_mailbox(demo_data, live_server, page):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_server}/")
    expect(page).to_have_url(f"{live_server}/login?next=%2F")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "login.png")

    page.get_by_label("Email").fill("manager@closeloop.test")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("login-error")).to_have_text("Invalid email or password.")

    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    positions = page.get_by_test_id("positions")
    expect(positions).to_contain_text("Senior Backend Engineer")
    expect(positions).to_contain_text("Registered Nurse (Night Shift)")
    expect(page.locator(".navbar")).to_contain_text("Marcus Bell")
    page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)

    page.get_by_role("link", name="Mail").click()
    expect(page.get_by_role("heading", name="Dev mailbox")).to_be_visible()
    rows = page.get_by_test_id("mailbox").locator("tbody tr")
    expect(rows.first).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "mailbox.png", full_page=True)

    rows.first.get_by_role("link").click()
    frame = page.locator("iframe.cl-mail-frame")
    if frame.count():
        expect(frame).to_have_attribute("sandbox", "")
    expect(page.get_by_test_id("body-text")).not_to_be_empty()
    page.screenshot(path=SCREENSHOTS / "message.png", full_page=True)

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_text("You have been signed out.")).to_be_visible()
