"""A real browser signs in as the demo admin, reads the dashboard and the dev mailbox (which
`make run` turns on, and only admins may read).

Screenshots land in test-artifacts/screenshots/ for a human to look at.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.models import Notification, NState
from app.notifications.send import deliver
from app.seed import DEMO_PASSWORD, seed_demo
from tests.browser.conftest import SCREENSHOTS, screenshot

pytestmark = pytest.mark.browser


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


@pytest.mark.app_config(DEV_MAILBOX_ENABLED=True)
def test_admin_signs_in_and_reads_the_mailbox(demo_data, live_server, tab):
    page = tab
    from playwright.sync_api import expect

    page.goto(f"{live_server}/")
    expect(page).to_have_url(f"{live_server}/login?next=%2F")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, path=SCREENSHOTS / "login.png")

    page.get_by_label("Email").fill("admin@closeloop.test")
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
    expect(page.locator(".navbar")).to_contain_text("Dana Whitfield")
    screenshot(page, path=SCREENSHOTS / "dashboard.png", full_page=True)

    page.get_by_role("link", name="Mail").click()
    expect(page.get_by_role("heading", name="Dev mailbox")).to_be_visible()
    rows = page.get_by_test_id("mailbox").locator("tbody tr")
    expect(rows.first).to_be_visible()
    screenshot(page, path=SCREENSHOTS / "mailbox.png", full_page=True)

    rows.first.get_by_role("link").click()
    frame = page.locator("iframe.cl-mail-frame")
    if frame.count():
        expect(frame).to_have_attribute("sandbox", "")
    expect(page.get_by_test_id("body-text")).not_to_be_empty()
    screenshot(page, path=SCREENSHOTS / "message.png", full_page=True)

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_text("You have been signed out.")).to_be_visible()
