"""Candidates' languages in a real browser: a German candidate's status page, switching it
to Spanish with "Read this in…", and a Spanish rejection email as it lands in the dev
mailbox; axe-core checks each. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from app import clock
from app.extensions import db
from app.models import MailboxMessage, Stage
from app.notifications import links
from app.notifications.send import deliver
from app.pipeline import services
from tests import factories as f
from tests.browser.conftest import SCREENSHOTS, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.app_config(DEV_MAILBOX_ENABLED=True)]
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def _serious(page) -> list[str]:
    found = Axe().run(page, options=WCAG).response["violations"]
    return [v["id"] for v in found if v.get("impact") in ("serious", "critical")]


@pytest.fixture
def jana(app):
    app.config.update(AGENCY_NAME="Northbridge Talent", MAX_STATUS_EMAILS_PER_DAY=0)
    riley = f.user(name="Riley Chen", email="riley.chen@northbridge.example")
    riley.phone = "+44 113 496 0100"
    c = f.candidate(name="Jana Schulz", email="jana@example.de", timezone="Europe/Berlin")
    c.language = "de"
    review = f.application(
        candidate_=c,
        stage=Stage.INTERVIEW,
        position_=f.position(
            owner=riley, client_=f.client("Northwind Logistics"), title="Backend-Entwicklerin"
        ),
    )
    # Set directly, so no email is owed yet and the rejection later goes on its own.
    review.interview_at = clock.now() + timedelta(days=2)
    review.promised_response_at = clock.now() + timedelta(days=5)
    review.interviewers = "Hannah Cole"
    rejected = f.application(
        candidate_=c,
        stage=Stage.INTERVIEW,
        position_=f.position(
            owner=riley, client_=f.client("Helix Analytics"), title="Data Platform Engineer"
        ),
    )
    db.session.commit()
    ids = {
        "token": links.status_token(c),
        "candidate_id": c.id,
        "rejected_id": rejected.id,
        "riley": riley.id,
    }
    # Commit, and touch no ORM object afterwards: on SQLite even a read holds a lock the
    # live server's requests would wait for.
    db.session.commit()
    return ids


def test_a_german_status_page_switched_to_spanish_and_a_spanish_rejection(live_server, tab, jana):
    page = tab
    page.goto(f"{live_server}/status/{jana['token']}")
    expect(page.locator("h1")).to_contain_text("Hallo Jana")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_text("Ihr Vorstellungsgespräch")).to_be_visible()
    # The interview date in German, in Berlin time.
    expect(page.get_by_test_id("expected").first).to_contain_text(" um ")
    assert _serious(page) == []
    screenshot(page, path=str(SCREENSHOTS / "status-page-de.png"), full_page=True)

    page.get_by_label("Diese Seite lesen auf").select_option("es")
    page.get_by_role("button", name="Sprache ändern").click()
    expect(page.get_by_text("A partir de ahora le escribiremos en este idioma.")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    screenshot(page, path=str(SCREENSHOTS / "status-page-es.png"), full_page=True)

    # The next email is in Spanish: a rejection, as the dev mailbox shows it.
    from app.models import Application, User

    application = db.session.get(Application, jana["rejected_id"])
    riley = db.session.get(User, jana["riley"])
    n = services.move_stage(application, Stage.REJECTED, actor=riley, reason="client_declined")
    n.due_at = clock.now()
    db.session.commit()
    assert deliver([n.id])["sent"] == 1
    mail = db.session.scalar(
        sa.select(MailboxMessage).where(MailboxMessage.notification_id == n.id)
    )
    assert mail.subject.endswith("la decisión de la empresa")
    html = mail.body_html
    db.session.commit()
    page.set_content(html)
    expect(page.get_by_text("ha decidido no seguir adelante con su candidatura")).to_be_visible()
    expect(page.get_by_text("Qué pasa ahora")).to_be_visible()
    assert _serious(page) == []
    screenshot(page, path=str(SCREENSHOTS / "email-rejection-es.png"), full_page=True)
