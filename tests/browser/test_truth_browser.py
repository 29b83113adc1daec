"""Issue 17 in a real browser, read as a person reads the pages: the overdue report does not
call a candidate the sweep told "not told" (1); the contact form says what it would settle and
an ordinary call leaves the hired confirmation owed (2); the move confirmation shows the real
leave time when the daily cap applies (3)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.models import Notification, NState, OutcomeReason, Stage
from app.notifications.send import deliver
from app.pipeline import services
from app.reports import overdue
from tests import factories as f
from tests.browser.conftest import SCREENSHOTS, screenshot, sign_in

pytestmark = pytest.mark.browser

PASSWORD = "correct horse"
WEDNESDAY_NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


class Ticking(clock.FrozenClock):
    """A millisecond passes each time anyone asks the time, as with a real clock."""

    def __call__(self) -> datetime:
        self.current += timedelta(milliseconds=1)
        return self.current


@pytest.fixture
def ticking():
    clk = Ticking(WEDNESDAY_NOON)
    clock.set_source(clk)
    yield clk
    clock.set_source(None)


def _interview(a, clk, recruiter):
    services.record_interview(
        a,
        actor=recruiter,
        interview_at=clk.current + timedelta(minutes=30),
        interviewers="Pat",
        promised_response_at=clk.current + timedelta(hours=1),
        client_contact=None,
        next_step=None,
    )


def test_the_report_does_not_call_a_told_candidate_untold(app, ticking, live_server, tab):
    f.user("manager", email="mo@agency.test", password=PASSWORD, name="Mo Manager")
    recruiter = f.user("recruiter", name="Riley")
    position = f.position(owner=recruiter, title="Platform Engineer")
    told = f.application(position_=position, candidate_=f.candidate(name="Tara Told"))
    untold = f.application(position_=position, candidate_=f.candidate(name="Una Untold"))
    untold.candidate.optional_updates = False
    db.session.commit()
    for a in (told, untold):
        _interview(a, ticking, recruiter)
    ticking.advance(hours=1, minutes=5)
    services.sweep_promised_dates()
    owed = db.session.scalars(
        sa.select(Notification.id).where(Notification.kind == "still_deciding")
    )
    deliver(list(owed))
    overdue.refresh()
    db.session.commit()

    sign_in(tab, live_server, "mo@agency.test", PASSWORD)
    tab.goto(f"{live_server}/reports/overdue")
    body = tab.locator("main").inner_text()
    screenshot(tab, path=str(SCREENSHOTS / "truth-overdue-report.png"), full_page=True)
    assert "Una Untold" in body  # the near miss: opted out, nothing sent, really not told
    assert "Tara Told" not in body


def test_logging_a_call_says_what_it_settles_and_leaves_the_hired_email(app, live_server, tab):
    recruiter = f.user("recruiter", email="rita@agency.test", password=PASSWORD, name="Rita")
    c = f.candidate(name="Hana Hired")
    a = f.application(stage=Stage.OFFER, candidate_=c, position_=f.position(owner=recruiter))
    db.session.commit()
    confirmation = services.move_stage(a, Stage.HIRED, actor=recruiter, reason=OutcomeReason.HIRED)
    nid, candidate_id = confirmation.id, c.id
    db.session.commit()  # and touch no ORM object until the browser is done (SQLite's lock)

    sign_in(tab, live_server, "rita@agency.test", PASSWORD)
    tab.goto(f"{live_server}/candidates/{candidate_id}")
    form = tab.get_by_test_id("contact-form")
    box = form.get_by_label(re.compile(r"The hired confirmation about"))
    assert box.is_visible() and not box.is_checked()
    assert "They still need this in writing" in form.inner_text()
    screenshot(tab, path=str(SCREENSHOTS / "truth-contact-form.png"), full_page=True)
    form.get_by_label("What was discussed").fill("Chat about the start date")
    form.get_by_role("button", name="Log contact").click()
    tab.wait_for_load_state()
    assert "Contact with Hana Hired logged." in tab.locator("main").inner_text()
    db.session.expire_all()
    assert db.session.get(Notification, nid).state != NState.DISCHARGED
    db.session.commit()


def test_the_move_page_shows_when_the_fourth_email_really_leaves(app, live_server, tab):
    app.config.update(
        CANDIDATE_DIGEST_WINDOW_SECONDS=300,
        QUIET_HOURS_ENFORCED=True,
        QUIET_HOURS_START=21,
        QUIET_HOURS_END=8,
        MAX_STATUS_EMAILS_PER_DAY=3,
    )
    with clock.frozen(WEDNESDAY_NOON) as clk:
        recruiter = f.user("recruiter", email="cy@agency.test", password=PASSWORD, name="Cy")
        c = f.candidate(name="Cap Carter")
        apps = [
            f.application(candidate_=c, position_=f.position(owner=recruiter)) for _ in range(4)
        ]
        db.session.commit()
        for a in apps[:3]:
            n = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
            clk.current = n.due_at
            deliver([n.id])
            clk.advance(minutes=30)
        fourth = apps[3].id
        db.session.commit()

        sign_in(tab, live_server, "cy@agency.test", PASSWORD)
        tab.goto(f"{live_server}/applications/{fourth}/move?to=client_review")
        leaves = tab.get_by_test_id("email-preview").get_by_test_id("when").inner_text()
        screenshot(tab, path=str(SCREENSHOTS / "truth-move-daily-cap.png"), full_page=True)
    assert "Now" not in leaves and "within a few minutes" not in leaves
    assert leaves.startswith("Thu 3 Dec at 08:00 (GMT, their time)")
    assert "3 status emails that day" in leaves
