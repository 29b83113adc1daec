"""Reopening a position: after a hold, those told of the hold hear it is open again; a cancel
or fill can be undone while none of its emails has left, and then nobody is told anything."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db as _db
from app.models import Application, Notification, NState, Position, Stage, StageEvent, Task
from app.notifications.send import deliver
from app.pipeline import services
from app.pipeline.services import PipelineError
from tests import factories as f
from tests.web import Web, sign_in


@pytest.fixture
def me(app):
    return f.user(name="Rita Recruiter")


@pytest.fixture
def position(me):
    p = f.position(owner=me, title="Data Engineer", client_=f.client("Helix"))
    f.application(position_=p, candidate_=f.candidate(name="Ann Able"), stage=Stage.SUBMITTED)
    f.application(position_=p, candidate_=f.candidate(name="Ben Baker"), stage=Stage.INTERVIEW)
    f.application(position_=p, candidate_=f.candidate(name="Cleo Cole"), stage=Stage.OFFER)
    f.application(position_=p, candidate_=f.candidate(name="Pat Phone", email=None))
    _db.session.commit()
    return p


@pytest.fixture
def web(client, me):
    return sign_in(Web(client), me)


def _apps(position) -> dict[str, Application]:
    _db.session.expire_all()
    rows = _db.session.scalars(sa.select(Application).where(Application.position_id == position.id))
    return {a.candidate.name: a for a in rows}


def _messages(kind: str) -> dict[str, Notification]:
    rows = _db.session.scalars(sa.select(Notification).where(Notification.kind == kind))
    return {n.candidate.name: n for n in rows}


def _hold(position) -> None:
    services.close_position(position, actor=None, status="on_hold", reason="Budget review")


def test_reopening_a_hold_tells_only_those_who_heard_of_it(db, position, me):
    _hold(position)
    held = _messages("position_on_hold")
    deliver([held[name].id for name in ("Ann Able", "Ben Baker", "Pat Phone")])
    # Cleo's has not gone out yet; Pat has no address: a task to call them about the hold.
    assert _db.session.scalar(sa.select(Task.title).where(Task.resolved_at.is_(None)))
    with clock.frozen(clock.now() + timedelta(minutes=5)):
        result = services.reopen_position(position, actor=me)
    assert (result["from_hold"], result["status"], result["applications"]) == (True, "open", 2)
    _db.session.expire_all()
    assert _db.session.get(Position, position.id).status == "open"
    held = _messages("position_on_hold")
    assert held["Cleo Cole"].state == NState.SUPERSEDED  # the pause she never heard of
    reopened = _messages("position_reopened")
    assert set(reopened) == {"Ann Able", "Ben Baker"}
    with clock.frozen(clock.now() + timedelta(minutes=6)):
        assert deliver([n.id for n in reopened.values()])["sent"] == 2
    _db.session.expire_all()
    ben = _messages("position_reopened")["Ben Baker"]
    assert "Helix has taken the Data Engineer role off hold" in ben.body_text
    assert "at interview stage" in ben.body_text and "Rita Recruiter" in ben.body_text
    assert "the role is open again" in ben.subject
    # Candidates move on again, and Pat's call about the hold is no longer needed.
    services.move_stage(_apps(position)["Ann Able"], Stage.CLIENT_REVIEW, actor=me)
    assert _db.session.scalar(sa.select(Task).where(Task.resolved_at.is_(None))) is None


def test_undoing_a_cancel_puts_everyone_back_and_tells_nobody(db, position, me):
    before = {name: a.stage for name, a in _apps(position).items()}
    result = services.close_position(position, actor=me, status="cancelled", reason="budget_cut")
    assert len(result["notification_ids"]) == 4  # waiting for the undo window
    undone = services.reopen_position(position, actor=me)
    assert (undone["from_hold"], undone["status"], undone["applications"]) == (False, "open", 4)
    assert undone["notification_ids"] == []
    apps = _apps(position)
    assert {name: a.stage for name, a in apps.items()} == before
    assert all(a.outcome_reason is None for a in apps.values())
    p = _db.session.get(Position, position.id)
    assert (p.status, p.closed_at, p.status_reason) == ("open", None, None)
    states = _db.session.scalars(
        sa.select(Notification.state).where(Notification.id.in_(result["notification_ids"]))
    ).all()
    assert set(states) == {NState.SUPERSEDED.value}
    ben = apps["Ben Baker"]
    last = _db.session.scalar(
        sa.select(StageEvent)
        .where(StageEvent.application_id == ben.id)
        .order_by(StageEvent.id.desc())
    )
    assert (last.from_stage, last.to_stage, last.note) == ("position_closed", "interview", "undo")
    assert last.version == ben.version
    # After the window, nothing goes: the reconciler finds nothing owed.
    with clock.frozen(clock.now() + timedelta(days=2)):
        assert deliver(result["notification_ids"]) == {"claimed": 0}


def test_too_late_once_one_closing_email_has_left(db, position, me):
    result = services.close_position(position, actor=me, status="filled", reason="filled_by_other")
    with clock.frozen(clock.now() + timedelta(days=2)):  # after the window
        assert deliver(result["notification_ids"][:1])["sent"] == 1
    with pytest.raises(PipelineError, match=r"Too late to undo: 1 candidate has"):
        services.reopen_position(position, actor=me)
    assert _db.session.get(Position, position.id).status == "filled"


def test_undoing_a_close_made_during_a_hold_goes_back_on_hold(db, position, me):
    _hold(position)
    deliver([n.id for n in _messages("position_on_hold").values()])
    with clock.frozen(clock.now() + timedelta(minutes=1)):
        services.close_position(position, actor=me, status="cancelled", reason="budget_cut")
        undone = services.reopen_position(position, actor=me)
    assert undone["status"] == "on_hold"
    assert _db.session.get(Position, position.id).status == "on_hold"


def test_board_offers_reopen_and_undo_and_the_page_shows_the_email(db, web, position, me):
    _hold(position)
    deliver([n.id for n in _messages("position_on_hold").values()])
    board = web.get(f"/positions/{position.id}").get_data(as_text=True)
    assert 'data-testid="reopen"' in board
    page = web.get(f"/positions/{position.id}/reopen").get_data(as_text=True)
    summary = re.search(r'data-testid="reopen-summary">(.*?)</p>', page, re.S).group(1)
    assert "<strong>3</strong> candidates told of the hold" in summary  # Pat: no email
    assert 'data-testid="sample"' in page and "off hold" in page
    response = web.post(f"/positions/{position.id}/reopen")
    assert response.headers["Location"] == f"/positions/{position.id}"
    board = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "is open again: the 3 candidates told of the hold" in board
    assert 'data-testid="reopen"' not in board

    services.close_position(position, actor=me, status="cancelled", reason="budget_cut")
    board = web.get(f"/positions/{position.id}").get_data(as_text=True)
    assert 'data-testid="undo-close"' in board and "Undo cancel" in board
    page = web.get(f"/positions/{position.id}/reopen").get_data(as_text=True)
    back_to = re.search(r'data-testid="back-to">(.*?)</ul>', page, re.S).group(1)
    assert "<strong>2</strong> back to Submitted" in back_to
    assert "<strong>1</strong> back to Interview" in back_to
    web.post(f"/positions/{position.id}/reopen")
    assert _db.session.get(Position, position.id).status == "open"


def test_reopen_is_for_the_positions_own_people_and_needs_csrf(make_app, client, position, me):
    _hold(position)
    url = f"/positions/{position.id}/reopen"
    assert Web(client).get(url).headers["Location"].startswith("/login")
    stranger = sign_in(Web(client), f.user())
    assert stranger.get(url).status_code == 404 and stranger.post(url).status_code == 404
    strict = Web(make_app(WTF_CSRF_ENABLED=True).test_client())
    login = strict.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)
    strict.post(
        "/login", data={"email": me.email, "password": "correct horse", "csrf_token": token}
    )
    assert strict.post(url).status_code == 400
    _db.session.expire_all()
    assert _db.session.get(Position, position.id).status == "on_hold"
