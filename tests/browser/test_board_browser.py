"""A recruiter in a real browser: clients and positions, the board, a drag-and-drop rejection
with its email preview, a keyboard-only move, and the interview form. Screenshots go to
test-artifacts/screenshots/ for a person to look at."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app import clock
from app.extensions import db
from app.models import Stage
from app.pipeline import services
from tests import factories as f
from tests.browser.conftest import SCREENSHOTS, screenshot, sign_in

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "rita@agency.test", "correct horse"


@pytest.fixture
def board(app):
    rita = f.user(email=EMAIL, password=PASSWORD, name="Rita Recruiter")
    acme = f.client("Acme Robotics")
    acme.contact_name, acme.contact_email = "Alan Smith", "alan@acme.test"
    f.client("Globex")
    position = f.position(owner=rita, client_=acme, title="Senior Backend Engineer")
    f.position(owner=rita, title="Data Analyst")
    for name, stage in [
        ("Kim Keller", Stage.SUBMITTED),
        ("Lou Lane", Stage.SUBMITTED),
        ("Mia Moss", Stage.CLIENT_REVIEW),
        ("Ned North", Stage.SOURCED),
        ("Oda Olsen", Stage.OFFER),
    ]:
        f.application(position_=position, candidate_=f.candidate(name=name), stage=stage)
    now = clock.now()
    talked = f.application(position_=position, candidate_=f.candidate(name="Pat Price"))
    talked.last_candidate_contact_at = now - timedelta(days=2)
    services.move_stage(talked, Stage.CLIENT_REVIEW, actor=rita)
    for name, promised in (("Quinn Quill", -2), ("Ray Reed", 5)):
        a = f.application(position_=position, candidate_=f.candidate(name=name))
        services.record_interview(
            a,
            actor=rita,
            interview_at=now + timedelta(hours=1),
            interviewers="Grace Hopper",
            promised_response_at=now + timedelta(days=6),
            client_contact=None,
            next_step=None,
        )
        a.promised_response_at = now + timedelta(days=promised)
    gone = f.application(position_=position, candidate_=f.candidate(name="Sam Stone"))
    services.move_stage(gone, Stage.REJECTED, actor=rita, reason="agency_decision")
    position_id = position.id
    # Commit, and touch no ORM object afterwards: on SQLite every transaction (even a read)
    # takes the write lock, which would stall the live server.
    db.session.commit()
    return position_id


def column(page, stage):
    return page.locator(f'[data-testid="column-{stage}"]')


def test_recruiter_moves_cards_by_drag_and_by_keyboard(live_server, tab, board):
    position_id = board
    page = tab
    sign_in(page, live_server, EMAIL, PASSWORD)

    page.goto(f"{live_server}/clients")
    page.get_by_role("link", name="Acme Robotics").wait_for()
    screenshot(page, path=str(SCREENSHOTS / "positions-clients.png"), full_page=True)
    page.goto(f"{live_server}/positions")
    screenshot(page, path=str(SCREENSHOTS / "positions-list.png"), full_page=True)
    page.get_by_role("link", name="Senior Backend Engineer").click()
    page.wait_for_url(re.compile(rf"/positions/{position_id}$"))
    screenshot(page, path=str(SCREENSHOTS / "positions-board.png"), full_page=True)

    # Drag Kim onto the rejected column: the move confirmation asks why.
    kim = page.locator('article[aria-label="Kim Keller"]')
    kim.drag_to(column(page, "rejected").locator(".cl-drop"))
    page.wait_for_url(re.compile(r"/move\?to=rejected"))
    page.get_by_label("Why does it end?").select_option("client_declined")
    preview = page.get_by_test_id("email-preview")
    preview.get_by_text("undo window").wait_for()
    page.get_by_label("Personal note (added to the email)").fill("Thank you for your time, Kim.")
    page.get_by_role("button", name="Update preview").click()
    page.locator("summary", has_text="Plain-text version").click()
    assert "Hello Kim," in page.get_by_test_id("text").inner_text()
    assert "Thank you for your time, Kim." in page.get_by_test_id("text").inner_text()
    frame = page.frame_locator("iframe.cl-email-frame")
    assert "Kim" in frame.locator("body").inner_text()
    screenshot(page, path=str(SCREENSHOTS / "positions-move-confirmation.png"), full_page=True)
    page.get_by_role("button", name="Confirm move").click()
    page.wait_for_url(re.compile(rf"/positions/{position_id}$"))
    assert column(page, "rejected").get_by_text("Kim Keller").is_visible()
    assert page.get_by_test_id("undo-flash").get_by_role("button", name="Undo").is_visible()
    quinn = page.locator('article[aria-label="Quinn Quill"]')
    assert "overdue" in quinn.locator(".cl-overdue").inner_text()
    screenshot(page, path=str(SCREENSHOTS / "positions-board-after-move.png"), full_page=True)

    # Lou, with the keyboard only: the "Move to…" menu, arrow keys, Enter.
    page.get_by_role("button", name="Move to… Lou Lane").focus()
    page.keyboard.press("Enter")
    item = page.get_by_role("link", name="Client review").locator("visible=true")
    for _ in range(8):
        page.keyboard.press("ArrowDown")
        if item.evaluate("el => el === document.activeElement"):
            break
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/move\?to=client_review"))
    page.get_by_test_id("email-preview").get_by_text("Hello Lou,").wait_for(state="attached")
    page.get_by_role("button", name="Confirm move").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/positions/{position_id}$"))
    assert column(page, "client_review").get_by_text("Lou Lane").is_visible()
    _screen_reader_after_a_move(page, "Lou Lane", "client review")


def _focused(page, attribute: str) -> str | None:
    return page.evaluate(f"document.activeElement.getAttribute({attribute!r})")


def _screen_reader_after_a_move(page, name: str, stage_words: str) -> None:
    """What a screen reader's user meets back on the board: the page's landmarks and
    headings, focus on the move's announcement (a status live region, read out as it takes
    focus), the moved card marked, and Undo the next Tab stop."""
    assert page.get_by_role("banner").count() == 1
    assert page.get_by_role("navigation", name="Main").count() == 1
    assert page.get_by_role("main").count() == 1
    assert page.get_by_role("heading", level=1).count() == 1
    for column_name in ("Sourced", "Submitted", "Client review", "Interview", "Offer"):
        assert page.get_by_role("heading", level=2, name=column_name).count() == 1
        assert page.get_by_role("region", name=column_name).count() == 1
    announcement = page.get_by_role("status").filter(has_text=f"{name} moved to {stage_words}")
    expect(announcement).to_be_focused()
    tree = page.get_by_role("main").aria_snapshot()  # what the accessibility tree holds
    assert tree.lstrip().startswith("- main:\n  - status:"), tree
    assert f"- text: {name} moved to {stage_words}." in tree, tree
    assert '- button "Undo"' in tree, tree  # icons are hidden from the name
    moved = page.locator(f'article[aria-label="{name}"]')
    assert "cl-card-moved" in (moved.get_attribute("class") or "")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Undo"


def test_keyboard_focus_returns_where_it_was_after_a_menu_or_a_cancelled_move(
    live_server, tab, board
):
    """Escape closes a card's "Move to…" menu with focus back on its button; cancelling a
    move's confirmation brings focus back to the same card's button on the board."""
    position_id = board
    page = tab
    sign_in(page, live_server, EMAIL, PASSWORD)
    page.goto(f"{live_server}/positions/{position_id}")
    toggle = page.get_by_role("button", name="Move to… Ned North")
    toggle.focus()
    page.keyboard.press("Enter")
    menu_item = page.get_by_role("link", name="Submitted").locator("visible=true")
    menu_item.wait_for()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")
    menu_item.wait_for(state="hidden")
    assert _focused(page, "aria-label") == "Move to… Ned North"
    assert toggle.get_attribute("aria-expanded") == "false"

    page.keyboard.press("Enter")
    for _ in range(8):
        page.keyboard.press("ArrowDown")
        if menu_item.evaluate("el => el === document.activeElement"):
            break
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/move\?to=submitted"))
    assert page.get_by_role("heading", level=1).count() == 1
    page.get_by_test_id("cancel-move").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/positions/{position_id}#card-\d+$"))
    expect(page.get_by_role("button", name="Move to… Ned North")).to_be_focused()


def test_interview_form(live_server, tab, board):
    position_id = board
    page = tab
    sign_in(page, live_server, EMAIL, PASSWORD)
    page.goto(f"{live_server}/positions/{position_id}")
    page.get_by_role("button", name="Move to… Mia Moss").click()
    page.get_by_role("link", name="Record interview…").locator("visible=true").click()
    page.get_by_label("Date", exact=True).fill("2030-01-15")
    page.get_by_label("Time").fill("14:30")
    page.get_by_label("Who they meet").fill("Grace Hopper, CTO")
    page.get_by_label("Client decides by").fill("2030-01-18")
    page.get_by_role("button", name="Update preview").click()
    page.get_by_test_id("email-preview").wait_for()
    assert (
        "Grace Hopper"
        in page.get_by_test_id("subject").inner_text()
        + page.frame_locator("iframe.cl-email-frame").locator("body").inner_text()
    )
    page.wait_for_timeout(300)  # let the sandboxed frame paint before the screenshot
    screenshot(page, path=str(SCREENSHOTS / "positions-interview.png"), full_page=True)
    page.get_by_role("button", name="Record interview").click()
    page.wait_for_url(re.compile(rf"/positions/{position_id}$"))
    mia = column(page, "interview").locator('article[aria-label="Mia Moss"]')
    assert "Decision by 18 Jan" in mia.inner_text()


def test_reopening_a_held_position_from_its_board(live_server, tab, board):
    position_id = board
    from app.models import Notification, Position
    from app.notifications.send import deliver

    services.close_position(
        db.session.get(Position, position_id), actor=None, status="on_hold", reason="Budget"
    )
    held = db.session.query(Notification.id).filter(Notification.kind == "position_on_hold")
    deliver([nid for (nid,) in held])  # everyone has been told of the hold
    db.session.commit()
    page = tab
    sign_in(page, live_server, EMAIL, PASSWORD)
    page.goto(f"{live_server}/positions/{position_id}")
    page.get_by_test_id("reopen").click()
    page.wait_for_url(re.compile(rf"/positions/{position_id}/reopen$"))
    assert (
        "told of the hold will hear that it is open again"
        in page.get_by_test_id("reopen-summary").inner_text()
    )
    frame = page.frame_locator("iframe.cl-email-frame")
    assert "off hold" in frame.locator("body").inner_text()
    screenshot(page, path=str(SCREENSHOTS / "positions-reopen.png"), full_page=True)
    page.get_by_test_id("confirm-reopen").click()
    page.wait_for_url(re.compile(rf"/positions/{position_id}$"))
    assert "is open again" in page.locator(".alert-success").inner_text()
    assert page.get_by_role("link", name="Put on hold").is_visible()


@pytest.fixture
def big_board(app):
    """A position whose Submitted column holds more cards than the board paints at first."""
    from app.positions.queries import BOARD_FIRST

    rita = f.user(email=EMAIL, password=PASSWORD, name="Rita Recruiter")
    position = f.position(owner=rita, title="Warehouse Lead")
    now = clock.now()
    count = BOARD_FIRST + 5
    for i in range(count):
        a = f.application(
            position_=position, candidate_=f.candidate(name=f"Sub {i:03d}"), stage=Stage.SUBMITTED
        )
        a.stage_entered_at = now - timedelta(minutes=i)  # Sub 000 first, Sub 024 last
    f.application(position_=position, candidate_=f.candidate(name="Off 000"), stage=Stage.OFFER)
    position_id = position.id
    db.session.commit()
    return position_id, count


def test_show_more_loads_cards_that_then_move_by_menu_and_by_drag(live_server, tab, big_board):
    position_id, count = big_board
    page = tab
    sign_in(page, live_server, EMAIL, PASSWORD)
    page.goto(f"{live_server}/positions/{position_id}")
    submitted = column(page, "submitted")
    cards = submitted.locator("article.cl-card")
    assert cards.count() == count - 5
    assert submitted.get_by_test_id("count-submitted").inner_text() == str(count)
    more = submitted.get_by_role("link", name=re.compile(r"Show 5 more in Submitted"))
    assert "(5 not shown)" in more.inner_text()
    screenshot(page, path=str(SCREENSHOTS / "positions-board-first-cards.png"), full_page=True)

    # With the keyboard: focus the control, press Enter; the cards arrive in place (no
    # reload) and focus moves to the first of them.
    more.focus()
    page.keyboard.press("Enter")
    cards.nth(count - 1).wait_for()
    assert cards.count() == count
    assert page.url.endswith(f"/positions/{position_id}")  # fetched, not navigated
    assert submitted.locator(".cl-more").count() == 0
    assert page.evaluate("document.activeElement.textContent") == "Sub 020"
    assert submitted.get_by_test_id("count-submitted").inner_text() == str(count)
    screenshot(page, path=str(SCREENSHOTS / "positions-board-show-more.png"), full_page=True)

    # A card loaded later moves through its "Move to…" menu…
    page.get_by_role("button", name="Move to… Sub 023").click()
    page.get_by_role("link", name="Client review").locator("visible=true").click()
    page.wait_for_url(re.compile(r"/move\?to=client_review"))
    page.get_by_test_id("email-preview").get_by_text("Hello Sub,").wait_for(state="attached")
    page.get_by_role("button", name="Confirm move").click()
    page.wait_for_url(re.compile(rf"/positions/{position_id}$"))
    assert column(page, "client_review").get_by_text("Sub 023").is_visible()
    assert column(page, "submitted").get_by_test_id("count-submitted").inner_text() == str(
        count - 1
    )

    # …and by drag and drop, after loading the rest again.
    column(page, "submitted").get_by_role("link", name=re.compile(r"Show 4 more")).click()
    late = page.locator('article[aria-label="Sub 024"]')
    late.wait_for()
    late.drag_to(column(page, "rejected").locator(".cl-drop"))
    page.wait_for_url(re.compile(r"/move\?to=rejected"))
    page.get_by_label("Why does it end?").select_option("client_declined")
    page.get_by_test_id("email-preview").get_by_text("undo window").wait_for()
    page.get_by_role("button", name="Confirm move").click()
    page.wait_for_url(re.compile(rf"/positions/{position_id}$"))
    assert column(page, "rejected").get_by_text("Sub 024").is_visible()


def test_show_more_works_without_javascript(live_server, browser, big_board):
    position_id, count = big_board
    context = browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    plain.set_default_timeout(15_000)
    try:
        sign_in(plain, live_server, EMAIL, PASSWORD)
        plain.goto(f"{live_server}/positions/{position_id}")
        submitted = column(plain, "submitted")
        assert submitted.locator("article.cl-card").count() == count - 5
        submitted.get_by_role("link", name=re.compile(r"Show 5 more")).click()
        plain.wait_for_url(re.compile(rf"/positions/{position_id}\?show_submitted={count}"))
        assert column(plain, "submitted").locator("article.cl-card").count() == count
    finally:
        context.close()
