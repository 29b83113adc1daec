"""Issue 17.2: logging a contact says beforehand, per owed message, what it will settle, and
settles only what the recruiter ticks; an offer or outcome the candidate still needs in
writing is never ticked by default (profile, report page and the service alike)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import Notification, NState, OutcomeReason, Stage
from app.pipeline import services
from tests import factories as f
from tests.web import Web, sign_in


def _hired_with_an_update_owed(recruiter):
    c = f.candidate(name="Hana Hired")
    hired = f.application(stage=Stage.OFFER, candidate_=c, position_=f.position(owner=recruiter))
    other = f.application(
        stage=Stage.SUBMITTED, candidate_=c, position_=f.position(owner=recruiter)
    )
    db.session.commit()
    update = services.move_stage(other, Stage.CLIENT_REVIEW, actor=recruiter)
    confirmation = services.move_stage(
        hired, Stage.HIRED, actor=recruiter, reason=OutcomeReason.HIRED
    )
    return c, hired, other, confirmation, update


def _box(page: str, nid: int) -> str:
    return re.search(rf'<input[^>]*name="settle" value="{nid}"[^>]*>', page).group(0)


def test_an_ordinary_call_leaves_the_hired_confirmation_owed(db, make_app):
    recruiter = f.user("recruiter")
    c, hired, _, confirmation, update = _hired_with_an_update_owed(recruiter)
    web = sign_in(Web(make_app().test_client()), recruiter)
    page = web.get(f"/candidates/{c.id}").get_data(as_text=True)
    # Listed before saving, each with a tick box; the hired confirmation unticked.
    assert "The hired confirmation about" in page
    assert "They still need this in writing" in page
    assert "checked" not in _box(page, confirmation.id)
    response = web.post(
        f"/candidates/{c.id}/contacts",
        data={
            "channel": "phone",
            "summary": "Chat about the start date",
            "application_id": hired.id,
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Notification, confirmation.id).state != NState.DISCHARGED
    assert db.session.get(Notification, update.id).state != NState.DISCHARGED


def test_a_ticked_message_is_settled_and_only_that_one(db, make_app):
    recruiter = f.user("recruiter")
    c, hired, other, confirmation, update = _hired_with_an_update_owed(recruiter)
    web = sign_in(Web(make_app().test_client()), recruiter)
    page = web.get(f"/candidates/{c.id}?application_id={other.id}").get_data(as_text=True)
    assert "checked" in _box(page, update.id)  # an update: ticked by default for its application
    response = web.post(
        f"/candidates/{c.id}/contacts",
        data={
            "channel": "phone",
            "summary": "Told them the client is reviewing",
            "application_id": other.id,
            "settle": update.id,
        },
        follow_redirects=True,
    )
    assert "settles the owed client review update" in response.get_data(as_text=True).lower() or (
        "settles the owed" in response.get_data(as_text=True)
    )
    db.session.expire_all()
    assert db.session.get(Notification, update.id).state == NState.DISCHARGED
    assert db.session.get(Notification, confirmation.id).state != NState.DISCHARGED
    # A tick for another application's message is refused, and nothing is written.
    bad = web.post(
        f"/candidates/{c.id}/contacts",
        data={
            "channel": "phone",
            "summary": "x",
            "application_id": other.id,
            "settle": confirmation.id,
        },
    )
    assert bad.status_code == 400
    assert "no longer owed by this application" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Notification, confirmation.id).state != NState.DISCHARGED


def test_the_report_page_lists_them_too(db, make_app):
    manager = f.user("manager")
    recruiter = f.user("recruiter")
    _, hired, _, confirmation, _ = _hired_with_an_update_owed(recruiter)
    web = sign_in(Web(make_app().test_client()), recruiter)
    page = web.get(f"/reports/applications/{hired.id}").get_data(as_text=True)
    assert "checked" not in _box(page, confirmation.id)
    web.post(
        f"/reports/applications/{hired.id}/contact",
        data={"channel": "phone", "summary": "Quick call"},
    )
    db.session.expire_all()
    assert db.session.get(Notification, confirmation.id).state != NState.DISCHARGED
    assert manager  # the page is the managers' too; the recruiter owns the application
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 2
