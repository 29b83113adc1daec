"""Previews show the exact email a change will send, and write nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.models import Application, Notification, OutcomeReason, Stage, StageEvent
from app.pipeline import preview, services
from app.pipeline.services import PipelineError
from tests import factories as f


def _counts(db):
    return (
        db.session.scalar(sa.select(sa.func.count()).select_from(Notification)),
        db.session.scalar(sa.select(sa.func.count()).select_from(StageEvent)),
    )


def test_rejection_preview_is_the_email_that_is_then_sent(db):
    a = f.application(stage=Stage.INTERVIEW, candidate_=f.candidate(name="Ada <Lovelace>"))
    db.session.commit()
    before = _counts(db)
    # Frozen: the status link in the email carries a timestamp, so both renders share one now.
    with clock.frozen(datetime(2026, 11, 25, 12, 0, tzinfo=UTC)):
        _preview_then_send(db, a, before)


def _preview_then_send(db, a, before):

    p = preview.preview_move(
        a, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED, note="Thank you!"
    )

    assert p.kind == "not_selected_client" and not p.blocked and not p.contact_by_phone
    assert "Ada" in p.text and "Thank you!" in p.text
    assert "Ada &lt;Lovelace&gt;" not in p.subject  # plain-text subject, not HTML-escaped
    assert "<Lovelace>" not in p.html  # the HTML part escapes the name
    assert p.when.endswith(": after the 30-minute undo window.")
    assert _counts(db) == before
    assert db.session.get(Application, a.id).stage == Stage.INTERVIEW

    n = services.move_stage(
        a, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED, note="Thank you!"
    )
    from app.notifications.render import render

    assert render(n).text == p.text


def test_each_reason_previews_its_own_message(db):
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    kinds = {
        reason: preview.preview_move(a, Stage.REJECTED, actor=None, reason=reason).kind
        for reason in (OutcomeReason.AGENCY_DECISION, OutcomeReason.CLIENT_DECLINED)
    }
    assert kinds == {
        OutcomeReason.AGENCY_DECISION: "not_selected_agency",
        OutcomeReason.CLIENT_DECLINED: "not_selected_client",
    }


def test_a_move_that_is_not_allowed_raises_and_leaves_nothing(db):
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    with pytest.raises(PipelineError):
        preview.preview_move(a, Stage.REJECTED, actor=None, reason=None)
    assert _counts(db) == (0, 0)


def test_no_email_means_a_phone_call_not_a_block(db):
    a = f.application(stage=Stage.SUBMITTED, candidate_=f.candidate(email=None))
    db.session.commit()
    p = preview.preview_move(a, Stage.CLIENT_REVIEW, actor=None)
    assert p.kind == "client_review" and p.contact_by_phone and not p.blocked
    assert p.when == "Never by email: call them instead"  # not "Now" (issue 16.7)


def test_moving_back_to_sourced_owes_nothing(db):
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    p = preview.preview_move(a, Stage.SOURCED, actor=None)
    assert p.kind is None and p.html is None


def test_interview_preview_names_the_promised_date(db):
    a = f.application(stage=Stage.CLIENT_REVIEW)
    db.session.commit()
    start = clock.now() + timedelta(days=2)
    p = preview.preview_interview(
        a,
        actor=None,
        interview_at=start,
        interviewers="Grace Hopper",
        promised_response_at=start + timedelta(days=5),
        client_contact="Alan, 0113 496 0001",
        next_step=None,
    )
    assert p.kind == "interview_scheduled" and not p.blocked
    assert "Grace Hopper" in p.text and "promised a decision by" in p.text
    assert _counts(db) == (0, 0)


def test_send_time_outside_business_hours_is_the_next_business_morning(make_app, app):
    app = make_app(BUSINESS_HOURS_ENFORCED=True)
    with app.app_context():
        friday_evening = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
        a = f.application(stage=Stage.INTERVIEW)
        db.session.commit()
        with clock.frozen(friday_evening):
            p = preview.preview_move(
                a, Stage.REJECTED, actor=None, reason=OutcomeReason.AGENCY_DECISION
            )
        assert p.when == (
            "Mon 30 Nov at 09:00 (GMT, their time): after the 30-minute undo window; "
            "in the candidate's business hours (09:00–18:00 on business days, their time)."
        )
        db.session.remove()
