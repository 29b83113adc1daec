"""Bulk moves from the board: every recipient's email shown first, a reason for rejections,
missing merge fields block, no-email candidates become one phone task, all or nothing,
undo all, and nobody acts on another recruiter's applications."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db as _db
from app.models import Application, Notification, NState, OutcomeReason, Stage, StageEvent, Task
from app.notifications import send
from app.pipeline import bulk, services
from tests import factories as f
from tests.web import Web, sign_in

PASSWORD = "correct horse"
REJECT = OutcomeReason.AGENCY_DECISION.value


@pytest.fixture
def web(client):
    return Web(client)


@pytest.fixture
def me():
    return f.user(name="Rita Recruiter")


@pytest.fixture
def position(me):
    return f.position(owner=me, title="Data Engineer")


def text(response) -> str:
    return response.get_data(as_text=True)


def apps(position, *names, email="default", stage=Stage.SUBMITTED):
    return [
        f.application(position_=position, candidate_=f.candidate(name=n, email=email), stage=stage)
        for n in names
    ]


def review_url(position, applications, **query):
    ids = "&".join(f"application_ids={a.id}" for a in applications)
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"/positions/{position.id}/bulk?{ids}{extra}"


def confirm(web, position, applications, action="reject", **data):
    form = {"action": action, "application_ids": [a.id for a in applications], "confirm": "1"}
    form.update(data)
    form.setdefault("shown_reason", form.get("reason", ""))
    form.setdefault("shown_note", form.get("note", ""))
    return web.post(f"/positions/{position.id}/bulk", data=form)


def stages(applications) -> list[str]:
    _db.session.expire_all()
    return [_db.session.get(Application, a.id).stage for a in applications]


# -- review -----------------------------------------------------------------------------------


def test_review_lists_every_recipient_with_their_rendered_email(web, me, position):
    chosen = apps(position, "Ann Able", "Ben Baker", "Cleo Cole")
    sign_in(web, me)
    page = text(
        web.get(review_url(position, chosen, action="reject", reason=REJECT, note="Thanks"))
    )
    assert page.count('data-testid="recipient"') == 3
    assert page.count('data-testid="subject"') == 3
    assert page.count('sandbox="" srcdoc=') == 3
    for name in ("Ann Able", "Ben Baker", "Cleo Cole"):
        assert name in page
    # The personal note is part of each candidate's email (HTML escaped into srcdoc).
    assert page.count("Thanks") >= 3
    assert "Confirm rejecting 3" in page
    assert "disabled" not in _confirm_button(page)


def _confirm_button(page: str) -> str:
    return re.search(r'<button[^>]*id="confirm-bulk".*?</button>', page, re.S).group(0)


def test_reject_needs_a_reason_before_anything_is_shown_or_written(web, me, position):
    chosen = apps(position, "Ann Able", "Ben Baker")
    sign_in(web, me)
    page = text(web.get(review_url(position, chosen, action="reject")))
    assert "Choose a reason to see each candidate" in page
    assert "disabled" in _confirm_button(page)
    response = confirm(web, position, chosen, reason="")
    assert response.status_code == 200
    assert "Choose why these applications end" in text(response)
    assert stages(chosen) == ["submitted", "submitted"]


def test_the_reason_picks_the_email(web, me, position):
    chosen = apps(position, "Ann Able")
    sign_in(web, me)
    ours = text(web.get(review_url(position, chosen, action="reject", reason=REJECT)))
    theirs = text(web.get(review_url(position, chosen, action="reject", reason="client_declined")))
    subject = re.compile(r'data-testid="subject">([^<]*)<')
    assert subject.search(ours).group(1) != subject.search(theirs).group(1)


def test_missing_merge_fields_block_and_name_the_candidates(web, me, position):
    # Moving to interview without recording one leaves the interview date out of the email.
    chosen = apps(position, "Ann Able", "Ben Baker", stage=Stage.CLIENT_REVIEW)
    sign_in(web, me)
    page = text(web.get(review_url(position, chosen, action="move", stage="interview")))
    blocked = re.search(r'data-testid="blocked".*?</div>\s*</div>', page, re.S).group(0)
    assert "Ann Able" in blocked and "Ben Baker" in blocked
    assert (
        "Ann Able and Ben Baker are missing the interview date and time and the date the "
        "client will decide by." in blocked
    )
    assert "disabled" in _confirm_button(page)
    response = confirm(web, position, chosen, action="move", stage="interview")
    assert "Sending is blocked" in text(response)
    assert stages(chosen) == ["client_review", "client_review"]


def test_candidate_without_email_becomes_one_phone_task_and_does_not_block(web, me, position):
    (emailed,) = apps(position, "Ann Able")
    (phoned,) = apps(position, "Pat Phone", email=None)
    sign_in(web, me)
    page = text(web.get(review_url(position, [emailed, phoned], action="reject", reason=REJECT)))
    assert "Contact by phone" in page
    assert "disabled" not in _confirm_button(page)

    response = confirm(web, position, [emailed, phoned], reason=REJECT)
    assert response.status_code == 302
    result = text(web.get(response.headers["Location"]))
    assert re.search(r'data-testid="moved">2<', result)
    assert re.search(r'data-testid="owed">1<', result)
    assert re.search(r'data-testid="phone-tasks">1<', result)
    assert "Call Pat Phone: tell them we will not be putting them forward" in result

    # When the message comes due the send path finds this task: still exactly one.
    owed = _db.session.scalars(sa.select(Notification)).all()
    for n in owed:
        n.due_at = clock.now()  # the undo window is over
    _db.session.commit()
    send.deliver([n.id for n in owed])
    _db.session.expire_all()
    assert {n.state for n in owed} == {NState.SENT.value, NState.FAILED.value}
    tasks = _db.session.scalars(sa.select(Task).where(Task.candidate_id == phoned.candidate_id))
    assert [t.title for t in tasks] == [
        "Call Pat Phone: tell them we will not be putting them forward for Data Engineer"
    ]


def test_one_failing_move_writes_nothing(web, me, position, monkeypatch):
    chosen = apps(position, "Ann Able", "Ben Baker", "Cleo Cole")
    sign_in(web, me)
    real = services.plan_move

    def flaky(application, *args, **kwargs):
        if application.candidate.name == "Cleo Cole":
            raise services.PipelineError("Someone else just changed this application.")
        return real(application, *args, **kwargs)

    monkeypatch.setattr(bulk, "plan_move", flaky)
    response = confirm(web, position, chosen, reason=REJECT)
    assert response.status_code == 200
    assert "Cleo Cole: Someone else just changed this application." in text(response)
    assert stages(chosen) == ["submitted"] * 3
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0
    rejected = (
        sa.select(sa.func.count()).select_from(StageEvent).where(StageEvent.to_stage == "rejected")
    )
    assert _db.session.scalar(rejected) == 0


def test_confirm_with_a_changed_note_shows_the_emails_again(web, me, position):
    chosen = apps(position, "Ann Able")
    sign_in(web, me)
    response = confirm(web, position, chosen, reason=REJECT, note="new words", shown_note="")
    assert "The emails changed since you looked" in text(response)
    assert stages(chosen) == ["submitted"]


def test_confirm_moves_all_owes_one_message_each_and_undo_all_takes_it_back(web, me, position):
    chosen = apps(position, "Ann Able", "Ben Baker", "Cleo Cole")
    sign_in(web, me)
    response = confirm(web, position, chosen, reason=REJECT, note="Thank you")
    assert stages(chosen) == ["rejected"] * 3
    owed = _db.session.scalars(sa.select(Notification)).all()
    assert sorted(n.kind for n in owed) == ["not_selected_agency"] * 3
    assert {n.personal_note for n in owed} == {"Thank you"}
    result = text(web.get(response.headers["Location"]))
    assert "Undo all" in result and re.search(r'data-testid="owed">3<', result)

    undo = web.post(
        f"/positions/{position.id}/bulk/undo",
        data={"stage": "rejected", "application_ids": [a.id for a in chosen]},
    )
    assert undo.status_code == 302
    assert stages(chosen) == ["submitted"] * 3
    states = _db.session.scalars(sa.select(Notification.state)).all()
    assert states == [NState.SUPERSEDED.value] * 3


def test_undo_all_says_who_it_was_too_late_for(web, me, position):
    chosen = apps(position, "Ann Able", "Ben Baker")
    sign_in(web, me)
    confirm(web, position, chosen, reason=REJECT)
    gone = _db.session.scalar(
        sa.select(Notification).where(Notification.application_id == chosen[0].id)
    )
    gone.state = NState.SENT.value
    result = text(
        web.get(
            f"/positions/{position.id}/bulk/result?stage=rejected"
            f"&application_ids={chosen[0].id}&application_ids={chosen[1].id}"
        )
    )
    assert "Undo all" not in result and "already left" in result
    web.post(
        f"/positions/{position.id}/bulk/undo",
        data={"stage": "rejected", "application_ids": [a.id for a in chosen]},
    )
    board = text(web.get(f"/positions/{position.id}", follow_redirects=True))
    assert "Ann Able: Too late to undo" in board
    assert stages(chosen) == ["rejected", "submitted"]


# -- refusals and access ----------------------------------------------------------------------


def test_applications_elsewhere_or_ended_are_refused_by_name(web, me, position):
    (mine,) = apps(position, "Ann Able")
    (ended,) = apps(position, "Ed Ended", stage=Stage.REJECTED)
    elsewhere = f.application(candidate_=f.candidate(name="Olga Other"))
    sign_in(web, me)
    page = text(
        web.get(review_url(position, [mine, ended, elsewhere], action="reject", reason=REJECT))
    )
    refused = re.search(r'data-testid="refused".*?</div>\s*</div>', page, re.S).group(0)
    assert "Ed Ended has already ended (rejected)" in refused
    assert f"Application #{elsewhere.id} is not on the board of Data Engineer" in refused
    assert "Olga Other" not in page  # nothing about someone else's candidate leaks
    assert page.count('data-testid="recipient"') == 1
    # Posting the foreign id anyway changes nothing at all.
    response = confirm(web, position, [mine, elsewhere], reason=REJECT)
    assert response.status_code == 200 and "is not on the board" in text(response)
    assert stages([mine, elsewhere]) == ["submitted", "submitted"]


def test_another_recruiters_position_is_404_and_anonymous_goes_to_login(web, me, position):
    chosen = apps(position, "Ann Able")
    url = review_url(position, chosen, action="reject", reason=REJECT)
    assert web.get(url).headers["Location"].startswith("/login")
    sign_in(web, f.user())
    assert web.get(url).status_code == 404
    assert confirm(web, position, chosen, reason=REJECT).status_code == 404
    assert (
        web.get(
            f"/positions/{position.id}/bulk/result?stage=rejected&application_ids=1"
        ).status_code
        == 404
    )
    assert stages(chosen) == ["submitted"]


def test_a_manager_may_act_on_any_position(web, position):
    chosen = apps(position, "Ann Able")
    sign_in(web, f.user("manager"))
    assert confirm(web, position, chosen, reason=REJECT).status_code == 302
    assert stages(chosen) == ["rejected"]


def test_confirm_and_undo_need_the_csrf_token(app, make_app, me, position):
    chosen = apps(position, "Ann Able")
    web = Web(make_app(WTF_CSRF_ENABLED=True).test_client())
    page = text(web.get("/login"))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    web.post("/login", data={"email": me.email, "password": PASSWORD, "csrf_token": token})
    response = confirm(web, position, chosen, reason=REJECT)
    assert response.status_code == 400
    assert stages(chosen) == ["submitted"]
    review = text(web.get(review_url(position, chosen, action="reject", reason=REJECT)))
    form = re.search(r'<form[^>]*id="bulk-review-form".*?</form>', review, re.S).group(0)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    response = confirm(web, position, chosen, reason=REJECT, csrf_token=token)
    assert response.status_code == 302
    assert stages(chosen) == ["rejected"]

    undo_url = f"/positions/{position.id}/bulk/undo"
    undo = {"stage": "rejected", "application_ids": [chosen[0].id]}
    assert web.post(undo_url, data=undo).status_code == 400
    assert stages(chosen) == ["rejected"]
    result = text(web.get(response.headers["Location"]))
    form = re.search(r'<form[^>]*/bulk/undo".*?</form>', result, re.S).group(0)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    assert web.post(undo_url, data={**undo, "csrf_token": token}).status_code == 302
    assert stages(chosen) == ["submitted"]


def test_bad_selection_goes_back_to_the_board_with_a_message(web, me, position):
    sign_in(web, me)
    response = web.get(f"/positions/{position.id}/bulk?action=reject", follow_redirects=True)
    assert "Select at least one candidate" in text(response)
    (one,) = apps(position, "Ann Able")
    response = web.get(
        review_url(position, [one], action="move", stage="hired"), follow_redirects=True
    )
    assert "Use “Reject selected”" in text(response)


def test_a_move_that_is_not_possible_for_one_blocks_and_says_why(web, me, position):
    (ahead,) = apps(position, "Ann Able", stage=Stage.CLIENT_REVIEW)
    (there,) = apps(position, "Ben Baker", stage=Stage.CLIENT_REVIEW)
    there.stage = Stage.SUBMITTED.value
    sign_in(web, me)
    url = review_url(position, [ahead, there], action="move", stage="submitted")
    page = text(web.get(url))
    errors = re.search(r'data-testid="move-errors".*?</ul>', page, re.S).group(0)
    assert "Ben Baker: Already at submitted." in errors
    assert "disabled" in _confirm_button(page)


def test_undo_all_closes_the_phone_task_it_made(web, me, position):
    chosen = apps(position, "Pat Phone", email=None)
    sign_in(web, me)
    confirm(web, position, chosen, reason=REJECT)
    web.post(
        f"/positions/{position.id}/bulk/undo",
        data={"stage": "rejected", "application_ids": [chosen[0].id]},
    )
    _db.session.expire_all()
    task = _db.session.scalar(sa.select(Task))
    assert task.title.startswith("Call Pat Phone") and task.resolved_at is not None
    assert stages(chosen) == ["submitted"]
