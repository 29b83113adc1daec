"""The pipeline board, moving a card with the email shown first, undo, and interviews."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db as _db
from app.models import Application, Notification, NState, OutcomeReason, OverdueItem, Stage, Task
from app.pipeline import services
from app.reports import overdue
from tests import factories as f
from tests.web import Web, sign_in

PASSWORD = "correct horse"


@pytest.fixture
def web(client):
    return Web(client)


@pytest.fixture
def me():
    return f.user(name="Rita Recruiter")


def text(response) -> str:
    return response.get_data(as_text=True)


def card_html(page: str, name: str) -> str:
    match = re.search(
        r'<article class="cl-card[^>]*aria-label="' + name + r'".*?</article>', page, re.S
    )
    assert match, f"no card for {name}"
    return match.group(0)


def column_html(page: str, stage: str) -> str:
    match = re.search(r'data-testid="column-' + stage + r'".*?</section>', page, re.S)
    return match.group(0)


# -- the board ------------------------------------------------------------------------------


def test_board_cards_show_contact_promise_and_latest_message(web, me):
    position = f.position(owner=me)
    now = clock.now()
    talked = f.application(position_=position, candidate_=f.candidate(name="Ann Talked"))
    talked.last_candidate_contact_at = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    late = f.application(
        position_=position, candidate_=f.candidate(name="Ben Late"), stage=Stage.INTERVIEW
    )
    late.promised_response_at = now - timedelta(days=1)
    ahead = f.application(
        position_=position, candidate_=f.candidate(name="Cat Ahead"), stage=Stage.INTERVIEW
    )
    ahead.promised_response_at = now + timedelta(days=3)
    bounced = f.application(position_=position, candidate_=f.candidate(name="Dan Bounced"))
    n = services.move_stage(bounced, Stage.CLIENT_REVIEW, actor=me)
    n.state, n.sent_at = NState.BOUNCED.value, datetime(2026, 5, 6, 9, 0, tzinfo=UTC)
    sign_in(web, me)

    page = text(web.get(f"/positions/{position.id}"))

    assert "Last contact 04 Mar" in card_html(page, "Ann Talked")
    assert "No contact yet" in card_html(page, "Cat Ahead")
    late_card = card_html(page, "Ben Late")
    assert 'class="cl-overdue"' in late_card and ">overdue</span>" in late_card
    assert "overdue" not in card_html(page, "Cat Ahead")
    dan = card_html(page, "Dan Bounced")
    assert "cl-msg-bounced" in dan and "Latest email (client review update): </span>bounced" in dan
    assert "Last contact 06 May" in dan  # the last message that left counts as contact
    assert "Dan Bounced" in column_html(page, "client_review")


def test_board_has_bulk_hooks_and_move_menu(web, me):
    position = f.position(owner=me)
    a = f.application(position_=position, candidate_=f.candidate(name="Eve Active"))
    gone = f.application(position_=position, candidate_=f.candidate(name="Fay Gone"))
    services.move_stage(gone, Stage.REJECTED, actor=me, reason=OutcomeReason.AGENCY_DECISION)
    sign_in(web, me)
    page = text(web.get(f"/positions/{position.id}"))

    form = page.split('<form id="bulk-form"')[1].split("</form>")[0]
    assert f'name="application_ids" value="{a.id}"' in form
    assert f'value="{gone.id}"' not in form  # terminal cards cannot be bulk-selected
    assert 'name="action" value="reject"' in form and 'name="stage"' in form
    assert 'aria-label="Move to… Eve Active">Move to…</button>' in page
    # One shared menu, built per card by board.js when opened (the browser test uses it).
    menu = page.split('<template id="move-menu">')[1].split("</template>")[0]
    assert 'href="/applications/987654321/move?to=rejected"' in menu
    assert "Record interview" in menu
    assert f'<form id="bulk-form" method="get" action="/positions/{position.id}/bulk"' in page
    for action in ("hold", "cancel", "fill"):
        assert f'href="/positions/{position.id}/lifecycle/{action}"' in page
    assert f'href="/candidates/{a.candidate_id}">Eve Active</a>' in page
    assert "Fay Gone" in column_html(page, "rejected")
    assert "We decided not to put them forward" in card_html(page, "Fay Gone")


def count_queries(db):
    """Statements run by any engine: the test client's requests go through an app (and an
    engine) of their own, so listening on `db.engine` alone counted none of them."""
    statements = []

    def listener(conn, cursor, statement, *args):
        statements.append(statement)

    engine = sa.engine.Engine
    sa.event.listen(engine, "before_cursor_execute", listener)
    return statements, lambda: sa.event.remove(engine, "before_cursor_execute", listener)


def test_board_query_count_does_not_grow_with_cards(web, me, db):
    position = f.position(owner=me)

    def add(n):
        for _ in range(n):
            a = f.application(position_=position)
            services.move_stage(a, Stage.CLIENT_REVIEW, actor=me)

    sign_in(web, me)
    counts = []
    for n in (2, 30):
        add(n)
        db.session.commit()
        web.get(f"/positions/{position.id}")  # the navigation badge counted, then cached
        statements, stop = count_queries(db)
        try:
            assert web.get(f"/positions/{position.id}").status_code == 200
        finally:
            stop()
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 10


# -- moving ---------------------------------------------------------------------------------


def test_move_confirmation_shows_the_email_with_the_name(web, me):
    a = f.application(position_=f.position(owner=me), candidate_=f.candidate(name="Gus Grant"))
    sign_in(web, me)
    page = text(web.get(f"/applications/{a.id}/move?to=client_review"))
    assert 'sandbox=""' in page and "srcdoc=" in page
    assert "Hello Gus," in page.split('data-testid="text"')[1]
    assert 'data-testid="when">Now.</dd>' in page


def test_reject_needs_a_reason_and_each_reason_its_email(web, me, db):
    a = f.application(position_=f.position(owner=me), candidate_=f.candidate(name="Hal Hope"))
    sign_in(web, me)
    page = text(web.get(f"/applications/{a.id}/move?to=rejected"))
    assert "The client declined" in page and "Choose a reason to see the email" in page
    response = web.post(f"/applications/{a.id}/move?to=rejected", data={"confirm": "1"})
    assert "Choose why the application ends" in text(response)
    assert _db.session.get(Application, a.id).stage == Stage.SUBMITTED

    subjects = set()
    for reason in (OutcomeReason.AGENCY_DECISION, OutcomeReason.CLIENT_DECLINED):
        page = text(
            web.post(
                f"/applications/{a.id}/move?to=rejected", data={"reason": reason, "preview": "1"}
            )
        )
        assert "undo window" in page
        subjects.add(page.split('data-testid="text"')[1][:600])
    assert len(subjects) == 2


def test_confirming_moves_owes_the_message_and_can_be_undone(web, me, db):
    position = f.position(owner=me)
    a = f.application(position_=position, candidate_=f.candidate(name="Ivy Ince"))
    sign_in(web, me)
    response = web.post(
        f"/applications/{a.id}/move?to=rejected",
        data={"reason": OutcomeReason.CLIENT_DECLINED, "note": "Thanks, Ivy!", "confirm": "1"},
    )
    assert response.headers["Location"] == f"/positions/{position.id}"
    db.session.expire_all()
    assert db.session.get(Application, a.id).stage == Stage.REJECTED
    owed = db.session.scalar(sa.select(Notification).where(Notification.application_id == a.id))
    assert owed.kind == "not_selected_client" and owed.personal_note == "Thanks, Ivy!"
    assert owed.state == NState.PENDING

    board = text(web.get(response.headers["Location"]))
    assert "Ivy Ince moved to rejected." in board
    assert f'action="/applications/{a.id}/undo"' in board

    response = web.post(f"/applications/{a.id}/undo")
    assert "back in the previous stage" in text(web.get(response.headers["Location"]))
    db.session.expire_all()
    assert db.session.get(Application, a.id).stage == Stage.SUBMITTED
    assert db.session.get(Notification, owed.id).state == NState.SUPERSEDED


def test_undo_after_the_message_left_is_refused(web, me, db):
    position = f.position(owner=me)
    a = f.application(position_=position)
    n = services.move_stage(a, Stage.CLIENT_REVIEW, actor=me)
    n.state = NState.SENT.value
    sign_in(web, me)
    response = web.post(f"/applications/{a.id}/undo")
    assert "Too late to undo" in text(web.get(response.headers["Location"]))


def test_move_problems_are_shown_and_block(web, me, db):
    a = f.application(position_=f.position(owner=me))
    sign_in(web, me)
    page = text(web.get(f"/applications/{a.id}/move?to=submitted"))
    assert "Already at submitted." in page and "disabled" in page.split("Confirm move")[0][-200:]


def test_no_email_means_a_phone_call_task(web, me):
    a = f.application(position_=f.position(owner=me), candidate_=f.candidate(email=None))
    sign_in(web, me)
    page = text(web.get(f"/applications/{a.id}/move?to=client_review"))
    assert "No email: a phone-call task will be created" in page


def test_another_recruiters_application_is_404(web, me):
    a = f.application(position_=f.position(owner=f.user()))
    sign_in(web, me)
    for url in (f"/applications/{a.id}/move?to=offer", f"/applications/{a.id}/interview"):
        assert web.get(url).status_code == 404
    assert web.post(f"/applications/{a.id}/undo").status_code == 404


def test_moving_to_interview_asks_for_the_interview(web, me):
    a = f.application(position_=f.position(owner=me))
    sign_in(web, me)
    response = web.get(f"/applications/{a.id}/move?to=interview")
    assert response.headers["Location"] == f"/applications/{a.id}/interview"


# -- interviews -----------------------------------------------------------------------------


def _interview_form(start: datetime, promised_days: int = 4, **extra) -> dict:
    return {
        "date": start.strftime("%Y-%m-%d"),
        "time": "14:30",
        "interviewers": "Grace Hopper",
        "promised_date": (start + timedelta(days=promised_days)).strftime("%Y-%m-%d"),
        "client_contact": "Alan, 0113 496 0001",
        "next_step": "Bring a portfolio",
        **extra,
    }


def test_interview_form_validation_keeps_what_was_typed(web, me):
    a = f.application(position_=f.position(owner=me))
    sign_in(web, me)
    page = text(web.post(f"/applications/{a.id}/interview", data={"interviewers": "Kim Lee"}))
    assert "Give the interview date." in page and 'value="Kim Lee"' in page
    early = clock.now() + timedelta(days=10)
    page = text(
        web.post(f"/applications/{a.id}/interview", data=_interview_form(early, promised_days=-2))
    )
    assert "The client cannot decide before the interview takes place." in page
    assert 'value="Grace Hopper"' in page


def test_a_late_interview_is_recorded_and_the_decision_is_owed_now(web, me, db):
    """Issue 17.9: an interview recorded after its decision date is accepted (it used to be
    refused as "past dates"); nothing is "arranged" any more, the candidate is owed the
    decision now, and the overdue report and My queue say so at once."""
    a = f.application(position_=f.position(owner=me), candidate_=f.candidate(name="Lee Late"))
    sign_in(web, me)
    past = clock.now() - timedelta(days=10)
    form = _interview_form(past, preview="1")
    page = text(web.post(f"/applications/{a.id}/interview", data=form))
    assert "must be in the future" not in page
    assert "the decision date has passed, so the candidate is owed the decision" in page
    del form["preview"]
    response = web.post(f"/applications/{a.id}/interview", data={**form, "confirm": "1"})
    assert response.status_code == 302
    fresh = db.session.get(Application, a.id)
    db.session.refresh(fresh)
    assert fresh.stage == Stage.INTERVIEW and fresh.promised_response_at < clock.now()
    kinds = db.session.scalars(
        sa.select(Notification.kind).where(Notification.application_id == a.id)
    )
    assert "interview_scheduled" not in list(kinds)
    overdue.refresh()
    notes = db.session.scalars(
        sa.select(OverdueItem.note).where(OverdueItem.application_id == a.id)
    )
    assert list(notes) == ["decision date passed, no decision yet"]
    queue = text(web.get("/queue"))
    assert "Lee Late" in queue


def test_interview_preview_then_record(web, me, db):
    me.timezone = "America/New_York"
    position = f.position(owner=me)
    a = f.application(position_=position, candidate_=f.candidate(name="Jo Jones"))
    start = clock.now() + timedelta(days=7)
    sign_in(web, me)
    page = text(
        web.post(f"/applications/{a.id}/interview", data=_interview_form(start, preview="1"))
    )
    assert "Hello Jo," in page.split('data-testid="text"')[1] and "Grace Hopper" in page
    assert db.session.get(Application, a.id).stage == Stage.SUBMITTED  # a preview writes nothing

    response = web.post(f"/applications/{a.id}/interview", data=_interview_form(start, confirm="1"))
    assert response.headers["Location"] == f"/positions/{position.id}"
    db.session.expire_all()
    a = db.session.get(Application, a.id)
    assert a.stage == Stage.INTERVIEW and a.interviewers == "Grace Hopper"
    # 14:30 in New York is stored as UTC.
    assert (a.interview_at.hour, a.interview_at.minute) in ((19, 30), (18, 30))
    task = db.session.scalar(sa.select(Task).where(Task.application_id == a.id))
    assert task.kind == "promised_date_due" and task.assignee_id == me.id
    assert task.due_at < a.promised_response_at and task.due_at.weekday() < 5


def test_recording_an_interview_reminds_the_recruiter_a_business_day_ahead(db, me):
    a = f.application(position_=f.position(owner=me))
    wednesday = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    monday = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    with clock.frozen(wednesday):
        for _ in range(2):  # recorded twice with the same promise: one task
            services.record_interview(
                a,
                actor=me,
                interview_at=wednesday + timedelta(days=1),
                interviewers=None,
                promised_response_at=monday,
                client_contact=None,
                next_step=None,
            )
    tasks = db.session.scalars(sa.select(Task).where(Task.kind == "promised_date_due")).all()
    assert len(tasks) == 1 and tasks[0].resolved_at is None
    assert tasks[0].due_at == datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # the Friday before

    with clock.frozen(wednesday + timedelta(hours=1)):
        # The client moves the date: one open reminder, for the new date.
        services.record_interview(
            a,
            actor=me,
            interview_at=wednesday + timedelta(days=1),
            interviewers=None,
            promised_response_at=monday + timedelta(days=2),
            client_contact=None,
            next_step=None,
        )
        reminders = sa.select(Task.due_at).where(
            Task.kind == "promised_date_due", Task.resolved_at.is_(None)
        )
        assert db.session.scalars(reminders).all() == [datetime(2026, 12, 1, 17, 0, tzinfo=UTC)]
        # The decision comes: nothing left to chase.
        services.move_stage(a, Stage.OFFER, actor=me)
        assert db.session.scalars(reminders).all() == []
        # ...until that move is undone: back at interview, the promise and its reminder stand.
        services.undo_last_change(a, actor=me)
        assert db.session.scalars(reminders).all() == [datetime(2026, 12, 1, 17, 0, tzinfo=UTC)]
        assert len(db.session.scalars(sa.select(Task)).all()) == 2  # reopened, not a copy


def test_move_and_undo_need_a_csrf_token(make_app, app, me, db):
    a = f.application(position_=f.position(owner=me))
    web = Web(make_app(WTF_CSRF_ENABLED=True).test_client())
    page = text(web.get("/login"))
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    web.post("/login", data={"email": me.email, "password": PASSWORD, "csrf_token": token})
    data = {"confirm": "1"}
    assert web.post(f"/applications/{a.id}/move?to=client_review", data=data).status_code == 400
    assert web.post(f"/applications/{a.id}/undo").status_code == 400
    db.session.expire_all()
    assert db.session.get(Application, a.id).stage == Stage.SUBMITTED


def _version_on(page: str) -> str:
    return re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)


def test_a_confirm_after_the_application_changed_is_refused_with_the_new_email(web, me, db):
    a = f.application(position_=f.position(owner=me), candidate_=f.candidate(name="Jo Jones"))
    sign_in(web, me)
    url = f"/applications/{a.id}/move?to=offer"
    seen = _version_on(text(web.get(url)))
    services.move_stage(a, Stage.CLIENT_REVIEW, actor=me)  # a colleague, meanwhile
    page = text(web.post(url, data={"version": seen, "confirm": "1"}))
    assert "changed since the preview was shown" in page
    assert "Hello Jo," in page.split('data-testid="text"')[1]  # the email as it stands now
    db.session.expire_all()
    assert db.session.get(Application, a.id).stage == Stage.CLIENT_REVIEW
    kinds = db.session.scalars(
        sa.select(Notification.kind).where(Notification.application_id == a.id)
    )
    assert "offer" not in set(kinds)

    response = web.post(url, data={"version": _version_on(page), "confirm": "1"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Application, a.id).stage == Stage.OFFER


def test_a_confirm_makes_the_move_once_not_its_preview_first(web, me, db):
    """The confirm used to run the whole preview (in a savepoint) and then the move: more
    statements than the preview page itself. It now makes the move once and checks the
    message it owes."""
    a = f.application(position_=f.position(owner=me))
    sign_in(web, me)
    url = f"/applications/{a.id}/move?to=client_review"
    web.get(url)
    statements, stop = count_queries(db)
    try:
        page = text(web.get(url))
    finally:
        stop()
    previewed = len(statements)
    statements, stop = count_queries(db)
    try:
        response = web.post(url, data={"version": _version_on(page), "confirm": "1"})
    finally:
        stop()
    assert response.status_code == 302
    # No preview inside (its savepoint), and no more statements than the preview page (which
    # no longer reloads the candidate, position and client after its savepoint).
    assert not any("SAVEPOINT" in s.upper() for s in statements), statements
    assert len(statements) <= previewed, (len(statements), previewed)
    db.session.expire_all()
    assert db.session.get(Application, a.id).stage == Stage.CLIENT_REVIEW
