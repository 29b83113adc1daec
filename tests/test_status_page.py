"""The candidate's status page: valid, expired, tampered and revoked links; request an
update; withdraw; preferences; one-click unsubscribe; a fresh link by email."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db as _db
from app.models import (
    Application,
    CandidateAction,
    Notification,
    NState,
    Stage,
    Task,
)
from app.notifications import links
from app.notifications.reconcile import dispatch_due
from app.notifications.send import deliver
from app.pipeline import services
from app.status import services as status_services
from tests import factories as f
from tests.web import Web


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


@pytest.fixture
def csrf_web(app, make_app):
    return Web(make_app(WTF_CSRF_ENABLED=True).test_client())


def _candidate_with_apps(db, name="Amelia Hart", email="default"):
    owner = f.user(name="Riley Chen")
    owner.phone = "+44 7700 900999"
    c = f.candidate(name=name, email=email)
    interview = f.application(
        candidate_=c, stage=Stage.CLIENT_REVIEW, position_=f.position(owner=owner)
    )
    submitted = f.application(candidate_=c, stage=Stage.SUBMITTED)
    db.session.commit()
    services.record_interview(
        interview,
        actor=None,
        interview_at=clock.now() + timedelta(days=2),
        interviewers="Hannah Cole",
        promised_response_at=clock.now() + timedelta(days=5),
        client_contact=None,
        next_step=None,
    )
    db.session.commit()
    return c, interview, submitted


def _url(c) -> str:
    return f"/status/{links.status_token(c)}"


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_a_valid_link_shows_only_this_candidates_applications(db, web):
    c, interview, submitted = _candidate_with_apps(db)
    other, theirs, _ = _candidate_with_apps(db, name="Secret Person", email="secret@example.test")
    theirs.position.title = "Top Secret Role"
    db.session.commit()
    response = web.get(_url(c))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Hello Amelia" in page
    assert interview.position.title in page and interview.position.client.name in page
    assert submitted.position.client.name in page
    assert "Interview" in page and "Sent to the client" in page  # status in plain words
    assert "Your interview" in page and "Next update from us by" in page  # next expected date
    assert "Riley Chen" in page and "+44 7700 900999" in page  # whom to contact
    assert "Secret Person" not in page and "Top Secret Role" not in page
    assert "secret@example.test" not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "same-origin"  # the token never leaves the site
    assert "always sent" in page  # outcome messages cannot be switched off


def test_links_never_contain_the_email_address(db):
    c, *_ = _candidate_with_apps(db, email="amelia.hart@example.com")
    for url in (links.status_url(c), links.unsubscribe_url(c)):
        assert "amelia" not in url.lower() and "%40" not in url and "@" not in url
        payload = url.rsplit("/", 1)[1].split(".")[0]
        import base64

        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        assert "@" not in decoded and "amelia" not in decoded.lower()


def test_links_are_itsdangerous_tokens_under_the_routed_url(db, app):
    """The fan-out's faster signing (key derived once, JSON encoder built once, route built
    once) writes the very link itsdangerous and url_for would."""
    from itsdangerous import URLSafeTimedSerializer

    c, *_ = _candidate_with_apps(db)
    with clock.frozen(clock.now()):
        plain = URLSafeTimedSerializer(
            app.config["SECRET_KEY"], salt=links.STATUS_SALT, signer=links._ClockSigner
        )
        token = plain.dumps({"c": c.id, "v": c.token_version})
        assert links.status_token(c) == token
        assert links.status_url(c) == links.external_url("status.page", token=token)
    assert plain.loads(links.status_token(c)) == {"c": c.id, "v": c.token_version}


def test_an_expired_link_offers_a_fresh_one(db, web):
    c, *_ = _candidate_with_apps(db)
    with clock.frozen(clock.now() - timedelta(days=61)):
        old = _url(c)
    response = web.get(old)
    page = response.get_data(as_text=True)
    assert response.status_code == 410
    assert "This link has expired" in page and "Email me a new link" in page
    assert c.name not in page


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: "eyJjIjoyLCJ2IjoxfQ" + t[t.index(".") :],  # payload swapped to another id
        lambda t: t[: len(t) // 2],  # cut short
        lambda t: "x" * 600,
    ],
)
def test_a_tampered_link_shows_nothing(db, web, mangle):
    c, *_ = _candidate_with_apps(db)
    _candidate_with_apps(db, name="Bob Other")
    token = links.status_token(c)
    response = web.get(f"/status/{mangle(token)}")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "This link does not work" in page
    assert "Amelia" not in page and "Bob" not in page


def test_a_revoked_link_stops_working_and_an_unsubscribe_token_is_no_status_link(db, web):
    c, *_ = _candidate_with_apps(db)
    url = _url(c)
    assert web.get(url).status_code == 200
    links.revoke_links(c)
    db.session.commit()
    assert web.get(url).status_code == 410
    assert web.get(_url(c)).status_code == 200  # a new link works
    unsubscribe_token = links.unsubscribe_token(c)
    assert web.get(f"/status/{unsubscribe_token}").status_code == 403


def test_request_an_update_creates_a_task_and_owes_the_reply(app, db, web):
    c, interview, _ = _candidate_with_apps(db)
    response = web.post(f"{_url(c)}/applications/{interview.id}/update")
    assert response.status_code == 302
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "you will hear from us by" in page and "You asked for an update on" in page
    task = db.session.scalar(sa.select(Task).where(Task.kind == "update_request"))
    assert task.assignee_id == interview.position.owner_id and task.application_id == interview.id
    sla = timedelta(hours=app.config["UPDATE_REQUEST_SLA_HOURS"])
    assert task.due_at - clock.now() <= sla + timedelta(minutes=1)
    reply = db.session.get(Notification, task.notification_id)
    assert (reply.kind, reply.state, reply.due_at) == ("update_reply", "pending", task.due_at)
    # Asking again is refused politely: no second task, no second reply.
    web.post(f"{_url(c)}/applications/{interview.id}/update")
    asks = sa.select(sa.func.count()).select_from(Task).where(Task.kind == "update_request")
    assert db.session.scalar(asks) == 1
    count = sa.select(sa.func.count()).select_from(Notification)
    assert db.session.scalar(count.where(Notification.kind == "update_reply")) == 1


def test_an_update_request_is_answered_within_the_sla_even_without_the_recruiter(db):
    c, interview, _ = _candidate_with_apps(db)
    task = status_services.request_update(c, interview.id)
    with clock.frozen(task.due_at + timedelta(seconds=1)):
        assert dispatch_due() >= 1
        assert deliver([task.notification_id])["sent"] == 1
    reply = db.session.get(Notification, task.notification_id)
    assert "You asked for an update" in reply.body_text
    assert "promised a decision by" in reply.body_text or "interview is on" in reply.body_text


def test_the_recruiters_answer_goes_at_once_with_their_note(db):
    c, interview, _ = _candidate_with_apps(db)
    task = status_services.request_update(c, interview.id)
    owner = interview.position.owner
    reply = status_services.answer_update_request(
        task, actor=owner, message="They loved your portfolio; decision on Friday."
    )
    assert reply.id == task.notification_id and reply.due_at <= clock.now()
    assert deliver([reply.id])["sent"] == 1
    assert "They loved your portfolio" in db.session.get(Notification, reply.id).body_text
    assert db.session.get(Task, task.id).resolved_by_id == owner.id


def test_an_answer_after_the_application_ended_is_not_sent(db):
    """Found by `make simulate`: a recruiter answering an update request after the position
    was filled sent "your application is closed, the client is still reviewing" at once,
    ahead of the outcome's undo window. The outcome is the answer; the task closes."""
    c, interview, _ = _candidate_with_apps(db)
    task = status_services.request_update(c, interview.id)
    owner = interview.position.owner
    services.move_stage(interview, Stage.REJECTED, actor=owner, reason="client_declined")
    owed = {n.id for n in db.session.scalars(sa.select(Notification))}
    with pytest.raises(status_services.StatusError, match="told its outcome"):
        status_services.answer_update_request(task, actor=owner, message="Still reviewing.")
    assert {n.id for n in db.session.scalars(sa.select(Notification))} == owed
    assert db.session.get(Task, task.id).resolved_by_id == owner.id
    outcome = db.session.scalar(
        sa.select(Notification).where(Notification.kind == "not_selected_client")
    )
    assert outcome.state == "pending"  # still inside its undo window, still owed


def test_update_requests_are_rate_limited_and_scoped(db, web):
    c, interview, _ = _candidate_with_apps(db)
    other, theirs, _ = _candidate_with_apps(db, name="Bob Other")
    status_services.request_update(c, interview.id)
    with pytest.raises(status_services.TooSoon):
        status_services.request_update(c, interview.id)
    with clock.frozen(clock.now() + timedelta(hours=73)):
        status_services.request_update(c, interview.id)  # after the cooldown
    # Someone else's application through my link: nothing happens.
    response = web.post(f"{_url(c)}/applications/{theirs.id}/update")
    assert response.status_code == 302
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Task)
            .where(Task.application_id == theirs.id, Task.kind == "update_request")
        )
        == 0
    )
    assert web.get(f"{_url(c)}/applications/{theirs.id}/withdraw").status_code == 404


def test_withdraw_needs_confirmation_then_ends_the_application(db, web):
    c, interview, _ = _candidate_with_apps(db)
    url = f"{_url(c)}/applications/{interview.id}/withdraw"
    confirm = web.get(url).get_data(as_text=True)
    assert "Withdraw from" in confirm and interview.position.title in confirm
    refused = web.post(url, data={})
    assert refused.status_code == 200 and "Tick the box" in refused.get_data(as_text=True)
    assert db.session.get(Application, interview.id).stage == Stage.INTERVIEW
    done = web.post(url, data={"confirm": "y"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Application, interview.id).stage == Stage.WITHDRAWN
    ack = db.session.scalar(sa.select(Notification).where(Notification.kind == "withdrawal_ack"))
    assert ack.personal_note is None and ack.due_at <= clock.now()
    open_tasks = sa.select(Task.kind).where(
        Task.application_id == interview.id, Task.resolved_at.is_(None)
    )
    # The recruiter hears of it; the reminder to chase the client's decision is settled.
    assert db.session.scalars(open_tasks).all() == ["candidate_withdrew"]
    page = web.get(done.headers["Location"]).get_data(as_text=True)
    assert "Withdrawn" in page and "You withdrew from this role." in page


def test_preferences_switch_optional_updates(db, web):
    c, *_ = _candidate_with_apps(db)
    response = web.post(f"{_url(c)}/preferences", data={})
    assert response.status_code == 302
    db.session.expire_all()
    assert c.optional_updates is False
    web.post(f"{_url(c)}/preferences", data={"optional_updates": "y"})
    db.session.expire_all()
    assert c.optional_updates is True
    actions = db.session.scalars(sa.select(CandidateAction.detail)).all()
    assert actions == ["optional updates off", "optional updates on"]


def test_one_click_unsubscribe_works_without_the_page(db, csrf_web):
    c, *_ = _candidate_with_apps(db)
    url = f"/status/unsubscribe/{links.unsubscribe_token(c)}"
    page = csrf_web.get(url)
    assert page.status_code == 200
    db.session.expire_all()
    assert c.optional_updates is True  # a GET (link scanners) changes nothing
    # RFC 8058: the mail client POSTs this body, without cookies or a CSRF token.
    response = csrf_web.post(
        url,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "still sent" in response.get_data(as_text=True)
    db.session.expire_all()
    assert c.optional_updates is False
    assert csrf_web.post("/status/unsubscribe/forged.token").status_code == 403


def test_forms_need_their_csrf_token(db, csrf_web):
    c, interview, _ = _candidate_with_apps(db)
    url = _url(c)
    assert csrf_web.post(f"{url}/applications/{interview.id}/update").status_code == 400
    assert csrf_web.post(f"{url}/preferences", data={}).status_code == 400
    token = _csrf(csrf_web.get(url).get_data(as_text=True))
    ok = csrf_web.post(f"{url}/applications/{interview.id}/update", data={"csrf_token": token})
    assert ok.status_code == 302
    asks = sa.select(sa.func.count()).select_from(Task).where(Task.kind == "update_request")
    assert db.session.scalar(asks) == 1


def test_a_fresh_link_is_sent_without_revealing_whether_the_address_exists(db, web):
    c, *_ = _candidate_with_apps(db, email="Amelia.Hart@Example.com")
    known = web.post("/status/link", data={"email": "amelia.hart@example.com"})
    unknown = web.post("/status/link", data={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)
    # The page only queued the work (tests/test_leaks.py); here is what the job does.
    assert status_services.request_link("amelia.hart@example.com") == 1
    assert status_services.request_link("nobody@example.com") == 0
    owed = db.session.scalars(sa.select(Notification).where(Notification.kind == "status_link"))
    (link,) = owed.all()
    assert link.candidate_id == c.id and link.state in (NState.PENDING, NState.QUEUED)
    assert deliver([link.id])["sent"] == 1
    body = db.session.get(Notification, link.id).body_text
    fresh = re.search(r"http://127\.0\.0\.1:5000(/status/[^\s#)]+)", body).group(1)
    assert web.get(fresh).status_code == 200
    # Asking again within the quarter hour owes nothing more.
    assert status_services.request_link("amelia.hart@example.com") == 0
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.kind == "status_link")
        )
        == 1
    )


def test_fresh_link_requests_are_rate_limited_per_address(db, make_app):
    web = Web(make_app(LINK_REQUESTS_PER_IP=2).test_client())
    for _ in range(2):
        assert web.post("/status/link", data={"email": "x@example.com"}).status_code == 200
    limited = web.post("/status/link", data={"email": "x@example.com"})
    assert limited.status_code == 429 and "Too many requests" in limited.get_data(as_text=True)


def test_status_page_uses_only_the_token_to_find_the_candidate(db, web):
    c, *_ = _candidate_with_apps(db)
    _db.session.commit()
    assert web.get(f"/status/{links.status_token(c)}?candidate=2").status_code == 200
    assert web.get("/status/").status_code == 404


@pytest.mark.parametrize("address", ["pat.lee@agency.test", "o'brien+jobs@example.com"])
def test_the_link_form_accepts_every_address_the_staff_form_accepted(db, web, address):
    """Issue 16.4: one validation for addresses (app/validators.normalize_email)."""
    from app.candidates.forms import CandidateForm
    from app.status.forms import LinkRequestForm

    app = web.client.application
    with app.test_request_context(method="POST", data={"name": "Pat", "email": address}):
        staff, public = CandidateForm(), LinkRequestForm()
        staff.validate()
        assert "email" not in staff.errors and public.validate(), (staff.errors, public.errors)
    sent = web.post("/status/link", data={"email": address}).get_data(as_text=True)
    assert 'data-testid="link-sent"' in sent
    refused = web.post("/status/link", data={"email": "not an address"}).get_data(as_text=True)
    assert "Enter a valid email address" in refused
