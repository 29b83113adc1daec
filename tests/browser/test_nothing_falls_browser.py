"""Issue 16 walked as a recruiter and an admin would, in Chromium: a phone-only candidate
through a cancellation until the call is logged (every page agreeing on what is left), a
recruiter setting their phone and the next email carrying it, the chase-the-client reminder
settled by the cancellation, and the public link form taking the address staff saved."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app import clock
from app.models import Client, MailboxMessage, Stage
from app.notifications.send import deliver
from app.pipeline import services
from app.reports import overdue
from tests import factories as f
from tests.browser.conftest import SCREENSHOTS, screenshot, sign_in

pytestmark = pytest.mark.browser

PASSWORD = "correct horse"


@pytest.fixture
def desk(app, db):
    """Riley's position at Northwind: Pat has only a phone, Eve has email and an interview
    whose decision Northwind promised for next week (a chase-the-client reminder)."""
    riley = f.user(name="Riley Chen", email="riley@agency.test")
    manager = f.user("manager", name="Marcus Bell", email="marcus@agency.test")
    northwind = Client(name="Northwind Logistics")
    db.session.add(northwind)
    position = f.position(owner=riley, client_=northwind, title="Senior Backend Engineer")
    pat = f.candidate(name="Pat Phone-Only", email=None, phone="+44 113 496 0999")
    eve = f.candidate(name="Eve Emailed", email="eve@candidates.test")
    f.application(candidate_=pat, position_=position, stage=Stage.SUBMITTED)
    eve_app = f.application(candidate_=eve, position_=position, stage=Stage.SUBMITTED)
    db.session.commit()
    n = services.record_interview(
        eve_app,
        actor=riley,
        interview_at=clock.now() + timedelta(hours=2),
        interviewers="Hannah Cole",
        promised_response_at=clock.now() + timedelta(days=6),
        client_contact="Hannah Cole",
        next_step="A call with the team lead",
    )
    deliver([n.id])
    db.session.commit()
    return {"riley": riley.email, "manager": manager.email, "position": position.id}


def test_a_phone_only_candidate_through_a_cancellation_until_the_call_is_logged(
    desk, live_server, tab, browser
):
    from playwright.sync_api import expect

    sign_in(tab, live_server, desk["riley"], PASSWORD)
    # Before: the interview's chase-the-client reminder is in My queue.
    expect(tab.get_by_test_id("section-due")).to_contain_text("Eve Emailed")
    expect(tab.get_by_test_id("queue-badge")).to_have_text("1")

    # Cancel the position from its board.
    tab.goto(f"{live_server}/positions/{desk['position']}")
    tab.get_by_role("link", name="Cancel position").click()
    tab.wait_for_url(re.compile(r"/lifecycle/cancel$"))
    tab.wait_for_load_state("load")  # bulk.js listens for the choice once it has run
    tab.get_by_label("Why is it cancelled?").select_option("budget_cut")
    confirm = tab.locator("#confirm-lifecycle")
    expect(confirm).to_be_enabled()
    confirm.click()
    expect(tab.locator(".alert-success")).to_contain_text("is cancelled")

    # My queue: the call, with the number and the action that settles it; the chase
    # reminder went with the cancellation (issue 16.3).
    tab.get_by_role("link", name="My queue").click()
    calls = tab.get_by_test_id("section-calls")
    expect(calls).to_contain_text("Pat Phone-Only")
    expect(calls).to_contain_text("+44 113 496 0999")
    expect(tab.get_by_test_id("empty-due")).to_be_visible()
    expect(tab.get_by_test_id("queue-badge")).to_have_text("1")
    expect(tab.get_by_test_id("queue-summary")).to_contain_text("1 thing to do")
    screenshot(tab, path=SCREENSHOTS / "queue-phone-call.png", full_page=True)

    # The dashboard agrees, and its figure is a link to the queue.
    tab.goto(f"{live_server}/")
    expect(tab.get_by_test_id("open-tasks")).to_have_text("1")
    screenshot(tab, path=SCREENSHOTS / "dashboard-my-queue.png")
    tab.get_by_test_id("open-tasks-link").click()
    expect(tab).to_have_url(re.compile(r"/queue$"))

    # The overdue report lists the message that can never be sent, the same day.
    overdue.refresh()
    manager = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(manager, live_server, desk["manager"], PASSWORD)
    manager.goto(f"{live_server}/reports/overdue")
    expect(manager.locator("main")).to_contain_text("Pat Phone-Only")
    screenshot(manager, path=SCREENSHOTS / "overdue-phone-only.png", full_page=True)

    # Log the call from the queue: it settles the message and the task.
    calls = tab.get_by_test_id("section-calls")
    calls.get_by_role("button", name="Log the call").click()
    summary = calls.get_by_label("What was discussed")
    # The form has finished opening when the cursor is in it (candidates.js, on Bootstrap's
    # "shown"); clicking while it still opens can miss the button as the focus scrolls it.
    expect(summary).to_be_focused()
    summary.fill("Called Pat: Northwind cut the budget.")
    calls.get_by_role("button", name="Log contact").click()
    expect(tab.locator(".alert-success")).to_contain_text("Contact with Pat Phone-Only logged")
    expect(tab.get_by_test_id("queue-summary")).to_contain_text("Nothing waiting on you")
    expect(tab.get_by_test_id("queue-badge")).to_have_count(0)
    tab.goto(f"{live_server}/")
    expect(tab.get_by_test_id("open-tasks")).to_have_text("0")
    overdue.refresh()
    manager.goto(f"{live_server}/reports/overdue")
    expect(manager.locator("main")).not_to_contain_text("Pat Phone-Only")


def test_a_recruiter_sets_their_phone_and_the_next_email_carries_it(app, db, live_server, tab):
    from playwright.sync_api import expect

    riley = f.user(name="Riley Chen", email="riley@agency.test")
    a = f.application(
        candidate_=f.candidate(name="Amelia Hart", email="amelia@candidates.test"),
        position_=f.position(owner=riley),
        stage=Stage.SUBMITTED,
    )
    application_id, riley_id = a.id, riley.id
    db.session.commit()  # and touch nothing: on SQLite a read would hold up the server

    sign_in(tab, live_server, "riley@agency.test", PASSWORD)
    tab.get_by_test_id("profile-link").click()
    expect(tab.get_by_role("heading", name="My profile")).to_be_visible()
    details = tab.get_by_test_id("profile-details")
    details.get_by_label("Phone").fill("+44 113 496 0123")
    details.get_by_role("button", name="Save details").click()
    expect(tab.locator(".alert-success")).to_contain_text("new phone number")
    screenshot(tab, path=SCREENSHOTS / "profile.png", full_page=True)

    # The next move's email, sent through the real send path, carries the number.
    from app.models import Application, User

    n = services.move_stage(
        db.session.get(Application, application_id),
        Stage.CLIENT_REVIEW,
        actor=db.session.get(User, riley_id),
    )
    assert deliver([n.id])["sent"] == 1
    mail = db.session.query(MailboxMessage).filter_by(to_email="amelia@candidates.test").one()
    assert "+44 113 496 0123" in mail.body_text and "Riley Chen" in mail.body_text
    db.session.commit()


def test_an_admin_manages_users_and_a_deactivated_one_is_signed_out(app, db, live_server, browser):
    from playwright.sync_api import expect

    f.user("admin", name="Dana Admin", email="dana@agency.test")
    f.user(name="Nina Recruiter", email="nina@agency.test")
    db.session.commit()
    admin = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    nina = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(admin, live_server, "dana@agency.test", PASSWORD)
    sign_in(nina, live_server, "nina@agency.test", PASSWORD)

    admin.get_by_role("link", name="Users").click()
    admin.get_by_role("link", name="New user").click()
    form = admin.get_by_test_id("new-user-form")
    form.get_by_label("Name").fill("Omar New")
    form.get_by_label("Email").fill("omar@agency.test")
    form.get_by_label("Phone").fill("+44 20 7946 0001")
    form.get_by_label("Role").select_option("manager")
    form.get_by_label("First password").fill("a-first-password")
    form.get_by_role("button", name="Create user").click()
    expect(admin.locator(".alert-success")).to_contain_text("Omar New can now sign in")
    row = admin.locator('[data-testid="user-row"][data-email="nina@agency.test"]')
    row.get_by_test_id("deactivate").click()
    expect(admin.locator(".alert-success")).to_contain_text("signed out everywhere")
    screenshot(admin, path=SCREENSHOTS / "admin-users.png", full_page=True)

    nina.reload()
    expect(nina).to_have_url(re.compile(r"/login"))

    # The only admin cannot demote themselves.
    me = admin.locator('[data-testid="user-row"][data-email="dana@agency.test"]')
    me.get_by_label("Role of Dana Admin").select_option("recruiter")
    me.get_by_role("button", name="Change").click()
    expect(admin.locator(".alert-danger")).to_contain_text("without an active admin")


def test_the_public_link_form_takes_the_address_staff_saved(app, db, live_server, tab):
    from playwright.sync_api import expect

    f.candidate(name="Tess Test", email="tess@candidates.test")
    db.session.commit()
    tab.goto(f"{live_server}/status/link")
    tab.get_by_label("Your email address").fill("tess@candidates.test")
    tab.get_by_role("button", name="Email me a new link").click()
    expect(tab.get_by_test_id("link-sent")).to_be_visible()
