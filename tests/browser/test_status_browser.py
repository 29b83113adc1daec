"""A real browser on the candidate's side: the status page (desktop and phone), its
request-an-update and withdraw flows, a broken link, and every message kind as it lands in
the dev mailbox. Screenshots go to test-artifacts/screenshots/ for a human to look at."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.models import MailboxMessage, Notification, Stage
from app.notifications import links, outbox
from app.notifications.kinds import KINDS
from app.notifications.send import deliver
from app.pipeline import services
from tests import factories as f
from tests.browser.conftest import SCREENSHOTS, new_tab, screenshot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
REASONS = {
    "position_cancelled": "budget_cut",
    "position_filled": "filled_internally",
    "not_selected_client": "client_declined",
    "not_selected_agency": "agency_decision",
    "hired": "hired",
    "withdrawal_ack": "candidate_withdrew",
}


def _agency(app, db):
    app.config.update(
        AGENCY_NAME="Northbridge Talent",
        AGENCY_LOGO_TEXT="NORTHBRIDGE",
        AGENCY_SIGNATURE="The Northbridge candidate care team\\n12 Park Row, Leeds LS1 5HD",
        MAX_STATUS_EMAILS_PER_DAY=0,  # one email per kind, for the screenshots
    )
    riley = f.user(name="Riley Chen", email="riley.chen@northbridge.example")
    riley.phone = "+44 113 496 0100"
    sofia = f.user(name="Sofia Okafor", email="sofia.okafor@northbridge.example")
    f.user("admin", email="admin@northbridge.example", password="correct horse")
    northwind = f.client("Northwind Logistics")
    brightwave = f.client("Brightwave Health")
    helix = f.client("Helix Analytics")
    return riley, sofia, northwind, brightwave, helix


def _status_candidate(db, riley, sofia, northwind, brightwave, helix):
    zoe = f.candidate(name="Zoë Łukasiewicz-Brontë", email="zoe@example.com")
    interview = f.application(
        candidate_=zoe,
        stage=Stage.CLIENT_REVIEW,
        position_=f.position(owner=riley, client_=northwind, title="Senior Backend Engineer"),
    )
    review = f.application(
        candidate_=zoe,
        stage=Stage.SUBMITTED,
        position_=f.position(owner=sofia, client_=brightwave, title="Clinical Data Analyst"),
    )
    closed = f.application(
        candidate_=zoe,
        stage=Stage.INTERVIEW,
        position_=f.position(owner=riley, client_=helix, title="Data Platform Engineer"),
    )
    db.session.commit()
    services.record_interview(
        interview,
        actor=riley,
        interview_at=clock.now() + timedelta(days=2),
        interviewers="Hannah Cole and a senior engineer",
        promised_response_at=clock.now() + timedelta(days=5),
        client_contact="Hannah Cole",
        next_step="A 60-minute video call with a short practical exercise.",
    )
    services.move_stage(review, Stage.CLIENT_REVIEW, actor=sofia)
    services.close_position(closed.position, actor=riley, status="cancelled", reason="budget_cut")
    f.application(candidate_=f.candidate(name="Secret Person"), stage=Stage.OFFER)
    db.session.commit()
    return zoe, interview, review


def test_status_page_on_desktop_and_phone(app, live_server, browser):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    people = _agency(app, db)
    zoe, interview, review = _status_candidate(db, *people)
    url = f"{live_server}/status/{links.status_token(zoe)}"
    interview_id, review_id = interview.id, review.id
    db.session.commit()  # and touch no row until the end: SQLite's write lock is shared

    phone = new_tab(browser, PHONE)
    phone.goto(url)
    expect(phone.get_by_role("heading", name="Hello Zoë")).to_be_visible()
    screenshot(phone, path=SCREENSHOTS / "status-page-phone.png", full_page=True)

    page = new_tab(browser, {"width": 1280, "height": 900})
    page.goto(url)
    cards = page.get_by_test_id("application")
    expect(cards).to_have_count(3)
    expect(page.get_by_test_id("applications")).not_to_contain_text("Secret Person")
    card = page.locator(f"#application-{interview_id}")
    expect(card).to_contain_text("Senior Backend Engineer")
    expect(card).to_contain_text("Riley Chen")
    screenshot(page, path=SCREENSHOTS / "status-page.png", full_page=True)

    card.get_by_role("button", name="Request an update").click()
    expect(page.get_by_text("We have asked your recruiter for an update")).to_be_visible()
    expect(page.get_by_test_id("requested").first).to_contain_text("will reply by")
    screenshot(page, path=SCREENSHOTS / "status-page-update-requested.png", full_page=True)

    page.locator(f"#application-{review_id}").get_by_role("link", name="Withdraw").click()
    expect(page.get_by_role("heading", name="Withdraw from Clinical Data Analyst")).to_be_visible()
    screenshot(page, path=SCREENSHOTS / "status-withdraw-confirm.png", full_page=True)
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Withdraw my application").click()
    expect(page.get_by_text("Your application is withdrawn.")).to_be_visible()
    expect(page.locator(f"#application-{review_id}")).to_contain_text("You withdrew")

    page.get_by_label("Send me optional updates").uncheck()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Your email preferences are saved.")).to_be_visible()

    page.goto(url[:-3] + "xyz")
    expect(page.get_by_test_id("link-problem")).to_have_text("This link does not work")
    screenshot(page, path=SCREENSHOTS / "status-link-broken.png", full_page=True)
    page.get_by_label("Your email address").fill("zoe@example.com")
    page.get_by_role("button", name="Email me a new link").click()
    expect(page.get_by_test_id("link-sent")).to_be_visible()
    screenshot(page, path=SCREENSHOTS / "status-link-sent.png", full_page=True)

    with clock.frozen(clock.now() - timedelta(days=90)):
        expired = f"{live_server}/status/{links.status_token(zoe)}"
    db.session.rollback()
    page.goto(expired)
    expect(page.get_by_test_id("link-problem")).to_have_text("This link has expired")
    screenshot(page, path=SCREENSHOTS / "status-link-expired.png", full_page=True)


def _one_of_each_kind(db, riley, northwind) -> dict[str, int]:
    """Every kind, owed and delivered one at a time (each its own email)."""
    zoe = f.candidate(name="Zoë <b>Łukasiewicz</b>-Brontë", email="zoe@example.com")
    zoe.phone = None
    mail_ids = {}
    now = clock.now()
    for kind in sorted(KINDS):
        position = f.position(owner=riley, client_=northwind, title="Senior Backend Engineer")
        a = f.application(candidate_=zoe, position_=position, stage=Stage.INTERVIEW)
        a.interview_at = now - timedelta(hours=3)
        a.promised_response_at = now + timedelta(days=3)
        a.interviewers = "Hannah Cole"
        a.next_step = "A 60-minute video call with a short practical exercise."
        db.session.commit()
        context = {
            "interview_at": (now + timedelta(days=2)).isoformat(),
            "promised_response_at": (now + timedelta(days=5)).isoformat(),
            "client_contact": "Hannah Cole",
        }
        if kind == "still_deciding":
            context = {
                "promised_response_at": (now - timedelta(days=1)).isoformat(),
                "new_expected_at": (now + timedelta(days=2)).isoformat(),
            }
        elif kind == "after_interview":
            context = {"interview_at": a.interview_at.isoformat()}
        note = "Good luck, Zoë, you'll do great." if kind == "interview_scheduled" else None
        n = outbox.owe(a, kind, reason=REASONS.get(kind), context=context, note=note)
        n.due_at = now
        db.session.commit()
        assert deliver([n.id])["sent"] == 1, kind
        mail_ids[kind] = db.session.scalar(
            sa.select(MailboxMessage.id).where(MailboxMessage.notification_id == n.id)
        )
    return mail_ids


def _digest(db, riley, sofia, brightwave, helix) -> int:
    amelia = f.candidate(name="Amelia Hart", email="amelia@example.com")
    a = f.application(
        candidate_=amelia,
        stage=Stage.SUBMITTED,
        position_=f.position(owner=sofia, client_=brightwave, title="Clinical Data Analyst"),
    )
    b = f.application(
        candidate_=amelia,
        stage=Stage.INTERVIEW,
        position_=f.position(owner=riley, client_=helix, title="Data Platform Engineer"),
    )
    db.session.commit()
    first = services.move_stage(a, Stage.CLIENT_REVIEW, actor=sofia)
    services.move_stage(b, Stage.OFFER, actor=riley)
    assert deliver([first.id])["sent"] == 2
    return db.session.scalar(
        sa.select(MailboxMessage.id).where(MailboxMessage.notification_id == first.id)
    )


@pytest.mark.app_config(DEV_MAILBOX_ENABLED=True)
def test_every_message_kind_in_the_dev_mailbox(app, live_server, browser):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    riley, sofia, northwind, brightwave, helix = _agency(app, db)
    mail_ids = _one_of_each_kind(db, riley, northwind)
    mail_ids["digest"] = _digest(db, riley, sofia, brightwave, helix)
    db.session.commit()

    page = new_tab(browser, {"width": 1280, "height": 900})
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("admin@northbridge.example")
    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    phone = new_tab(browser, PHONE)
    # One tab measures every email (a tab costs ~0.5 s to open); its size is set per email.
    measure = new_tab(browser, {"width": 1280, "height": 600})
    for kind, mail_id in mail_ids.items():
        page.goto(f"{live_server}/dev/mailbox/{mail_id}")
        expect(page.get_by_test_id("body-text")).to_contain_text("When you will hear from us")
        mail = db.session.get(MailboxMessage, mail_id)
        html = mail.body_html
        db.session.commit()
        # Show the whole email: the sandboxed frame cannot size itself, so measure it.
        frame = page.locator("iframe.cl-mail-frame")
        width = frame.evaluate("f => f.clientWidth")
        measure.set_viewport_size({"width": width, "height": 600})
        measure.set_content(html)
        height = measure.evaluate("document.documentElement.scrollHeight")
        frame.evaluate(f"f => f.style.height = '{height + 40}px'")
        # Chromium does not paint a frame's content below the viewport in a full-page
        # screenshot: grow the viewport to the page instead.
        tall = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": 1280, "height": tall})
        screenshot(page, path=SCREENSHOTS / f"email-{kind}.png")
        page.set_viewport_size({"width": 1280, "height": 900})
        phone.set_content(html)
        screenshot(phone, path=SCREENSHOTS / f"email-{kind}-phone.png", full_page=True)
    assert len(mail_ids) == len(KINDS) + 1
    sent = db.session.scalar(
        sa.select(sa.func.count()).select_from(Notification).where(Notification.state == "sent")
    )
    assert sent == len(KINDS) + 2
