"""A recruiter in a real browser: rejects three candidates at once from the board, and
cancels a position while the progress bar follows the messages to the mail provider."""

from __future__ import annotations

import re
import threading
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import Application, Notification, Stage
from app.notifications import send
from tests import factories as f
from tests.browser.conftest import DESKTOP, SCREENSHOTS, new_tab, screenshot, sign_in

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "rita@agency.test", "correct horse"
NAMES = ("Kim Keller", "Lou Lane", "Mia Moss", "Ned North", "Oda Olsen")


@pytest.fixture
def position(app):
    rita = f.user(email=EMAIL, password=PASSWORD, name="Rita Recruiter")
    acme = f.client("Acme Robotics")
    position = f.position(owner=rita, client_=acme, title="Senior Backend Engineer")
    for name in NAMES:
        f.application(position_=position, candidate_=f.candidate(name=name))
    f.application(position_=position, candidate_=f.candidate(name="Pia Phone", email=None))
    position_id = position.id
    db.session.commit()  # the live server's requests must see it (and SQLite's lock freed)
    # Plain values only: touching an expired ORM object here would open a transaction, and
    # on SQLite (BEGIN IMMEDIATE) hold the write lock the live server's requests wait for.
    return SimpleNamespace(id=position_id)


def column(page, stage):
    return page.locator(f'[data-testid="column-{stage}"]')


def test_bulk_reject_three_from_the_board(live_server, tab, position):
    page = tab
    sign_in(page, live_server, EMAIL, PASSWORD)
    page.goto(f"{live_server}/positions/{position.id}")
    for name in ("Kim Keller", "Lou Lane", "Pia Phone"):
        page.get_by_label(f"Select {name}").check()
    page.get_by_role("button", name="Reject selected").click()
    page.wait_for_url(re.compile(rf"/positions/{position.id}/bulk\?"))
    assert page.get_by_test_id("recipient").count() == 3
    assert page.get_by_role("button", name="Confirm rejecting 3").is_disabled()
    page.wait_for_load_state("load")  # bulk.js listens for the choice once it has run

    page.get_by_label("Why do these applications end?").select_option("client_declined")
    page.get_by_test_id("subject").first.wait_for()  # the JS re-rendered with the reason
    page.get_by_label("Personal note (added to every email)").fill("Thank you for your time.")
    page.get_by_role("button", name="Update emails").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("subject").count() == 3  # Pia's is what to tell her by phone
    assert page.get_by_test_id("by-phone").count() == 1
    page.locator("summary", has_text="Show the email").first.click()
    frame = page.frame_locator("iframe.cl-email-frame").first
    assert "Thank you for your time." in frame.locator("body").inner_text()
    screenshot(page, path=str(SCREENSHOTS / "bulk-review.png"), full_page=True)

    page.get_by_role("button", name="Confirm rejecting 3").click()
    page.wait_for_url(re.compile(r"/bulk/result\?"))
    assert page.get_by_test_id("moved").inner_text() == "3"
    assert page.get_by_test_id("owed").inner_text() == "2"
    assert page.get_by_test_id("phone-tasks").inner_text() == "1"
    assert page.get_by_role("button", name="Undo all").is_visible()
    screenshot(page, path=str(SCREENSHOTS / "bulk-result.png"), full_page=True)

    page.get_by_role("link", name="Back to the board").last.click()
    # A link's click does not wait for the page it opens: without this the columns read
    # below can still be the old page's (a flake seen once in CI on PostgreSQL).
    page.wait_for_url(re.compile(rf"/positions/{position.id}$"))
    rejected = column(page, "rejected")
    for name in ("Kim Keller", "Lou Lane", "Pia Phone"):
        assert rejected.get_by_text(name).is_visible()
    assert column(page, "submitted").get_by_text("Mia Moss").is_visible()

    # Moving to interview without recording one: the missing merge fields block the send.
    page.get_by_label("Select Mia Moss").check()
    page.get_by_label("Select Ned North").check()
    page.get_by_label("Move selected to").select_option("interview")
    page.get_by_role("button", name="Move", exact=True).click()
    blocked = page.get_by_test_id("blocked")
    assert "Mia Moss" in blocked.inner_text() and "Ned North" in blocked.inner_text()
    assert page.get_by_role("button", name="Confirm moving 2").is_disabled()
    screenshot(page, path=str(SCREENSHOTS / "bulk-review-blocked.png"), full_page=True)


def _deliver_in_halves(app, position_id, half_done, go):
    """Stands in for the workers: half the fan-out, a pause, then the rest."""
    with app.app_context():
        try:
            ids = db.session.scalars(
                sa.select(Notification.id)
                .join(Application, Application.id == Notification.application_id)
                .where(Application.position_id == position_id)
                .order_by(Notification.id)
            ).all()
            half = len(ids) // 2
            send.deliver(list(ids[:half]))
            half_done.set()
            go.wait(timeout=30)
            send.deliver(list(ids[half:]))
        finally:
            db.session.remove()


def test_cancel_a_position_and_watch_the_progress_bar(app, live_server, browser, position):
    # The page asks every 0.2 s instead of 1.5 s: each expect below waited up to a poll.
    app.config.update(
        UNDO_WINDOW_SECONDS=0, CANDIDATE_DIGEST_WINDOW_SECONDS=0, FANOUT_POLL_SECONDS=0.2
    )
    # Bootstrap draws the bar without its width transition for a reader who asks for less
    # motion: the screenshots show the bar where it is, without a pause for the animation.
    page = new_tab(browser, DESKTOP, reduced_motion="reduce")
    sign_in(page, live_server, EMAIL, PASSWORD)
    page.goto(f"{live_server}/positions/{position.id}")
    page.get_by_role("link", name="Cancel position").click()
    page.wait_for_url(re.compile(r"/lifecycle/cancel$"))
    page.wait_for_load_state("load")  # bulk.js listens for the choice once it has run
    page.get_by_label("Why is it cancelled?").select_option("budget_cut")
    page.get_by_test_id("sample").wait_for()
    assert page.get_by_test_id("active-count").inner_text() == "6"
    assert "5 get an email" in page.get_by_test_id("group").inner_text()
    assert "Pia Phone" in page.get_by_test_id("phone-list").inner_text()
    screenshot(page, path=str(SCREENSHOTS / "lifecycle-confirmation.png"), full_page=True)

    page.get_by_role("button", name="Cancel and tell 6").click()
    page.wait_for_url(re.compile(rf"/positions/{position.id}/progress$"))
    bar = page.get_by_test_id("fanout-bar")
    assert bar.get_attribute("aria-valuenow") == "0"
    # A screen reader finds the bar by its name and hears the summary as it changes.
    expect(page.get_by_role("progressbar", name="Messages handed over")).to_be_visible()
    assert page.get_by_test_id("fanout-summary").get_attribute("aria-live") == "polite"

    half_done, go = threading.Event(), threading.Event()
    worker = threading.Thread(
        target=_deliver_in_halves, args=(app, position.id, half_done, go), daemon=True
    )
    worker.start()
    try:
        assert half_done.wait(timeout=30)
        # Locators, not wait_for_function strings: the app's CSP forbids eval.
        expect(page.get_by_test_id("fanout-bar")).to_have_attribute("aria-valuenow", "50")
        summary = page.get_by_test_id("fanout-summary").inner_text()
        assert summary.startswith(("2 of 6 handed", "3 of 6 handed"))
        screenshot(page, path=str(SCREENSHOTS / "fanout-progress-midway.png"), full_page=True)
    finally:
        go.set()
        worker.join(timeout=30)
    expect(page.get_by_test_id("fanout-bar")).to_have_attribute("aria-valuenow", "100")
    summary = page.get_by_test_id("fanout-summary").inner_text()
    assert "5 of 6 handed to the mail provider" in summary
    assert "1 need a phone call" in summary
    screenshot(page, path=str(SCREENSHOTS / "fanout-progress-done.png"), full_page=True)

    page.get_by_role("link", name="Back to the board").click()
    page.wait_for_url(re.compile(rf"/positions/{position.id}$"))
    assert column(page, "position_closed").get_by_text("Kim Keller").is_visible()
    db.session.expire_all()
    stages = db.session.scalars(
        sa.select(Application.stage).where(Application.position_id == position.id)
    ).all()
    db.session.rollback()
    assert stages == [Stage.POSITION_CLOSED.value] * 6
