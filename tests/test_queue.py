"""My queue: each section lists the right items, each row's action resolves its item and it
leaves the queue; recruiters see their own, managers everyone's (with a filter)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.candidates import worklist
from app.models import Notification, NState, Stage, Task
from app.notifications.events import apply_events
from app.notifications.send import deliver
from app.pipeline import services
from app.status import services as status_services
from tests import factories as f
from tests.web import Web, sign_in

PASSWORD = "correct horse"
# A Tuesday morning; "now" in these tests is a week later (well past the 1-day SLA).
START = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
NOW = START + timedelta(days=7)


@pytest.fixture
def frozen():
    with clock.frozen(NOW) as c:
        yield c


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


def section(page: str, name: str) -> str:
    match = re.search(rf'data-testid="section-{name}".*?</section>', page, re.S)
    assert match, name
    return match.group(0)


def open_row_form(web, page: str, name: str) -> str:
    """Follow a row's "Log a contact" link in section `name`, as a browser without
    JavaScript does (candidates.js fetches the same page): its section, the form drawn open."""
    link = re.search(r'data-row-form="([^"]+)"\s+href="([^"]+)"', section(page, name))
    assert link, f"no contact link in {name}"
    href = link.group(2).replace("&amp;", "&").split("#")[0]
    opened = section(web.get(href).get_data(as_text=True), name)
    assert f'id="f-{link.group(1)}"' in opened and 'data-testid="queue-contact-form"' in opened
    return opened


def count(page: str, name: str) -> int:
    return int(re.search(rf'data-testid="count-{name}">(\d+)<', page).group(1))


def _interview(owner, name, promised_at, now):
    a = f.application(
        candidate_=f.candidate(name=name), position_=f.position(owner=owner), stage=Stage.SUBMITTED
    )
    n = services.record_interview(
        a,
        actor=owner,
        interview_at=now + timedelta(hours=1),
        interviewers=None,
        promised_response_at=promised_at,
        client_contact=None,
        next_step=None,
    )
    assert deliver([n.id])["sent"] == 1  # told on time: only the promise is at stake
    return a


def _bounced(owner, name):
    a = f.application(candidate_=f.candidate(name=name), position_=f.position(owner=owner))
    n = services.move_stage(a, Stage.CLIENT_REVIEW, actor=owner)
    assert deliver([n.id])["sent"] == 1
    apply_events(
        [
            {
                "event": "bounce",
                "type": "bounce",
                "reason": "550 no such user",
                "timestamp": int(clock.now().timestamp()),
                "sg_event_id": uuid.uuid4().hex,
                "notification_id": str(n.id),
            }
        ]
    )
    return a, n


@pytest.fixture
def riley_queue(worlds):
    """One item of each kind for Riley, one for Sofia."""
    return worlds.load("riley_queue", _riley_queue)


def _riley_queue():
    from app.extensions import db

    riley, sofia = f.user(name="Riley Chen"), f.user(name="Sofia Okafor")
    items = {"riley": riley, "sofia": sofia}
    with clock.frozen(START) as c:
        rejected = f.application(
            candidate_=f.candidate(name="Owed Olivia"), position_=f.position(owner=riley)
        )
        services.move_stage(rejected, Stage.REJECTED, actor=riley, reason="agency_decision")
        items["owed"] = rejected
        items["missed"] = _interview(riley, "Missed Mateo", START + timedelta(days=2), c.current)
        items["sofias"] = _interview(sofia, "Sofias Sam", START + timedelta(days=2), c.current)
    with clock.frozen(NOW - timedelta(hours=3)):
        items["soon"] = _interview(riley, "Soon Sara", NOW + timedelta(hours=24), clock.now())
        items["later"] = _interview(riley, "Later Leo", NOW + timedelta(hours=72), clock.now())
        items["bounced"], items["bounced_n"] = _bounced(riley, "Bounced Bea")
        nomail = f.candidate(name="Nomail Nora", email=None)
        a = f.application(candidate_=nomail, position_=f.position(owner=riley))
        n = services.move_stage(a, Stage.CLIENT_REVIEW, actor=riley)
        assert deliver([n.id])["failed"] == 1
        items["failed"], items["failed_n"] = a, n
        asker = f.application(
            candidate_=f.candidate(name="Asking Ava"), position_=f.position(owner=riley)
        )
        db.session.commit()
        items["request"] = status_services.request_update(asker.candidate, asker.id)
    db.session.commit()
    return items


def test_each_section_lists_the_right_items(db, web, riley_queue, frozen):
    page = sign_in(web, riley_queue["riley"]).get("/queue").get_data(as_text=True)
    owed, due = section(page, "owed"), section(page, "due")
    bounced, requests = section(page, "bounced"), section(page, "requests")
    assert "Owed Olivia" in owed and "Rejection email" in owed
    # A missed date is listed once, with its open "chase the client" reminder, marked late.
    assert "Missed Mateo" in due and "Missed Mateo" not in owed
    assert "Sofias Sam" not in page  # Sofia's
    # Every open reminder is listed, however far off its date.
    assert "Soon Sara" in due and "Later Leo" in due
    assert "Bounced Bea" in bounced and "550 no such user" in bounced
    assert "Nomail Nora" in bounced and "No email address on file" in bounced
    assert "Nomail Nora" not in owed  # listed once, with its task
    assert "Asking Ava" in requests
    assert (
        count(page, "owed"),
        count(page, "due"),
        count(page, "calls"),
        count(page, "bounced"),
        count(page, "requests"),
    ) == (1, 3, 0, 2, 1)
    assert re.search(r'data-testid="queue-badge"[^>]*>7<', page)


def _owed_ids(application) -> list[int]:
    return [s.id for s in services.settleable([application.id])[application.id]]


def test_logging_a_contact_settles_an_owed_message(db, web, riley_queue, frozen):
    owed = riley_queue["owed"]
    sign_in(web, riley_queue["riley"])
    page = web.get("/queue").get_data(as_text=True)
    # Only the row asked for draws its form (the page stays light with hundreds of rows).
    assert 'data-testid="queue-contact-form"' not in section(page, "owed")
    form = open_row_form(web, page, "owed")
    # Issue 17.2: the form lists the owed rejection with a tick box, not ticked by default
    # (the candidate still needs it in writing).
    (nid,) = _owed_ids(owed)
    box = re.search(rf'<input[^>]*name="settle" value="{nid}"[^>]*>', form).group(0)
    assert "checked" not in box
    response = web.post(
        f"/candidates/{owed.candidate_id}/contacts",
        data={
            "channel": "phone",
            "summary": "Told her by phone",
            "application_id": owed.id,
            "next": "queue",
            "settle": nid,
        },
    )
    assert response.headers["Location"] == "/queue"
    page = web.get("/queue").get_data(as_text=True)
    assert "settles the owed rejection email" in page
    assert "Owed Olivia" not in section(page, "owed")


def test_a_refused_contact_shows_its_error_on_its_own_row(db, web, riley_queue, frozen):
    owed = riley_queue["owed"]
    sign_in(web, riley_queue["riley"])
    form = open_row_form(web, web.get("/queue").get_data(as_text=True), "owed")
    key = re.search(r'name="row" value="([^"]+)"', form).group(1)
    response = web.post(
        f"/candidates/{owed.candidate_id}/contacts",
        data={
            "channel": "phone",
            "summary": "",
            "application_id": owed.id,
            "next": "queue",
            "row": key,
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    # The row's form is open again, with what went wrong beside it.
    assert f'class="collapse cl-row-form show" id="f-{key}"' in page
    assert 'data-testid="row-error"' in page


def test_recording_the_decision_clears_a_missed_and_a_due_promise(db, web, riley_queue, frozen):
    riley = riley_queue["riley"]
    page = sign_in(web, riley).get("/queue").get_data(as_text=True)
    # "Record the decision" opens the position's board, where the move is made.
    assert f'href="/positions/{riley_queue["missed"].position_id}"' in section(page, "due")
    assert f'href="/positions/{riley_queue["soon"].position_id}"' in section(page, "due")
    for key in ("missed", "soon"):
        services.move_stage(riley_queue[key], Stage.OFFER, actor=riley)
    page = web.get("/queue").get_data(as_text=True)
    assert "Missed Mateo" not in page and "Soon Sara" not in page


def test_fix_address_and_resend_a_bounced_message(db, web, riley_queue, frozen):
    a, bounced = riley_queue["bounced"], riley_queue["bounced_n"]
    task = db.session.scalar(sa.select(Task).where(Task.notification_id == bounced.id))
    sign_in(web, riley_queue["riley"])
    response = web.post(f"/queue/tasks/{task.id}/retry", data={"email": "bea@fixed.example.com"})
    assert response.status_code == 302
    page = web.get("/queue").get_data(as_text=True)
    assert "being sent again" in page and "Bounced Bea" not in section(page, "bounced")
    db.session.expire_all()
    assert a.candidate.email == "bea@fixed.example.com"
    retry = db.session.scalar(
        sa.select(Notification).where(
            Notification.application_id == a.id, Notification.id != bounced.id
        )
    )
    assert (retry.kind, retry.to_email) == ("client_review", "bea@fixed.example.com")
    assert retry.state in (NState.PENDING, NState.QUEUED)  # owed again, dispatched at once
    assert deliver([retry.id])["sent"] == 1


def test_fix_address_retries_a_failed_send_in_place(db, web, riley_queue, frozen):
    failed = riley_queue["failed_n"]
    task = db.session.scalar(sa.select(Task).where(Task.notification_id == failed.id))
    sign_in(web, riley_queue["riley"])
    bad = web.post(f"/queue/tasks/{task.id}/retry", data={"email": "nora@"})
    assert bad.status_code == 400
    assert "Enter a valid email address" in bad.get_data(as_text=True)
    assert 'value="nora@"' in bad.get_data(as_text=True)
    web.post(f"/queue/tasks/{task.id}/retry", data={"email": "nora@example.com"})
    db.session.expire_all()
    assert failed.state in (NState.PENDING, NState.QUEUED)
    assert failed.to_email == "nora@example.com"
    assert db.session.get(Task, task.id).resolved_at is not None
    assert "Nomail Nora" not in web.get("/queue").get_data(as_text=True)


def test_a_phone_call_resolves_a_bounce_task(db, web, riley_queue, frozen):
    a = riley_queue["bounced"]
    sign_in(web, riley_queue["riley"])
    web.post(
        f"/candidates/{a.candidate_id}/contacts",
        data={"channel": "phone", "summary": "Called", "application_id": a.id, "next": "queue"},
    )
    page = web.get("/queue").get_data(as_text=True)
    assert "the bounced client review update" in page
    assert "Bounced Bea" not in section(page, "bounced")


def test_replying_answers_the_update_request(db, web, riley_queue, frozen):
    task = riley_queue["request"]
    sign_in(web, riley_queue["riley"])
    empty = web.post(f"/queue/tasks/{task.id}/reply", data={"message": " "})
    assert empty.status_code == 400
    assert "Write a short answer for the candidate." in empty.get_data(as_text=True)
    response = web.post(
        f"/queue/tasks/{task.id}/reply", data={"message": "The client decides on Friday."}
    )
    assert response.status_code == 302
    page = web.get("/queue").get_data(as_text=True)
    assert "on its way" in page and "Asking Ava" not in page
    reply = db.session.get(Notification, task.notification_id)
    db.session.refresh(reply)
    assert reply.kind == "update_reply" and reply.personal_note == "The client decides on Friday."
    assert reply.due_at <= clock.now()


def test_another_recruiter_cannot_act_on_my_tasks(db, web, riley_queue, frozen):
    task = riley_queue["request"]
    sign_in(web, riley_queue["sofia"])
    assert web.post(f"/queue/tasks/{task.id}/reply", data={"message": "hi"}).status_code == 404
    assert web.post(f"/queue/tasks/{task.id}/retry", data={"email": "a@b.co"}).status_code == 404
    db.session.refresh(task)
    assert task.resolved_at is None


def test_managers_see_everyone_and_can_filter_by_recruiter(db, web, riley_queue, frozen):
    marcus = f.user("manager", name="Marcus Bell")
    sign_in(web, marcus)
    page = web.get("/queue").get_data(as_text=True)
    assert "Missed Mateo" in page and "Sofias Sam" in page
    sofia = riley_queue["sofia"]
    page = web.get(f"/queue?recruiter={sofia.id}").get_data(as_text=True)
    assert "Sofias Sam" in page and "Missed Mateo" not in page
    assert f'<option value="{sofia.id}" selected>Sofia Okafor</option>' in page


def test_an_empty_queue_says_so(db, web, frozen):
    page = sign_in(web, f.user()).get("/queue").get_data(as_text=True)
    assert "Nothing waiting on you" in page
    for name in ("owed", "due", "bounced", "requests"):
        assert f'data-testid="empty-{name}"' in page
    assert 'data-testid="queue-badge"' not in page


def test_build_matches_the_overdue_report_definition(db, riley_queue, frozen):
    from app.reports.overdue import overdue_rows, thresholds

    report = {
        (r.application_id, r.reason)
        for r in db.session.execute(overdue_rows(thresholds())).all()
        if r.reason in worklist.OWED_REASONS and r.owner_id == riley_queue["riley"].id
    }
    mine = worklist.build(riley_queue["riley"])
    listed = {(r.application_id, r.reason) for r in mine.owed}
    # Covered by an open task, and listed with it: a failed send, a missed date's reminder.
    tasks = [*mine.due_soon, *mine.calls, *mine.undeliverable, *mine.update_requests]
    handled = {r.application_id for r in tasks}
    assert listed == {k for k in report if k[0] not in handled}
    assert handled & {k[0] for k in report}  # the covered ones are in the report too


def test_queue_actions_need_csrf_and_a_login(db, make_app, riley_queue, frozen):
    task_id, email = riley_queue["request"].id, riley_queue["riley"].email
    anonymous = Web(make_app().test_client())
    response = anonymous.post(f"/queue/tasks/{task_id}/reply", data={"message": "hi"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    csrf_web = Web(make_app(WTF_CSRF_ENABLED=True).test_client())
    login_page = csrf_web.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    csrf_web.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    response = csrf_web.post(f"/queue/tasks/{task_id}/reply", data={"message": "hi"})
    assert response.status_code == 400
    assert db.session.get(Task, task_id).resolved_at is None
    page = csrf_web.get("/queue").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = csrf_web.post(
        f"/queue/tasks/{task_id}/reply", data={"message": "hi", "csrf_token": token}
    )
    assert response.status_code == 302


def test_the_badge_is_counted_once_a_while_and_again_after_an_action(db, web, riley_queue, frozen):
    riley = riley_queue["riley"]
    sign_in(web, riley)
    badge = re.compile(r'data-testid="queue-badge"[^>]*>(\d+)<')
    assert badge.search(web.get("/candidates").get_data(as_text=True)).group(1) == "7"

    _bounced(riley, "Later Lena")  # an eighth item, added behind the page's back
    assert badge.search(web.get("/candidates").get_data(as_text=True)).group(1) == "7"

    frozen.advance(seconds=31)
    assert badge.search(web.get("/candidates").get_data(as_text=True)).group(1) == "8"

    owed = riley_queue["owed"]
    web.post(
        f"/candidates/{owed.candidate_id}/contacts",
        data={
            "channel": "phone",
            "summary": "Told her",
            "application_id": owed.id,
            "settle": _owed_ids(owed),
        },
    )
    assert badge.search(web.get("/candidates").get_data(as_text=True)).group(1) == "7"


def test_a_phone_only_candidate_in_a_cancellation_is_in_view_everywhere_at_once(db, web):
    """Issue 16.1: the call is in My queue, the dashboard and the badge agree with it, and the
    overdue report lists the message that can never be sent without waiting out the SLA."""
    from app.reports import overdue

    riley = f.user(name="Riley Chen")
    position = f.position(owner=riley)
    phone_only = f.candidate(name="Phone Pat", email=None, phone="+44 113 496 0999")
    a = f.application(candidate_=phone_only, position_=position)
    f.application(candidate_=f.candidate(name="Emailed Eve"), position_=position)
    db.session.commit()
    services.close_position(position, actor=riley, status="cancelled", reason="budget_cut")
    overdue.refresh()

    sign_in(web, riley)
    page = web.get("/queue").get_data(as_text=True)
    calls = section(page, "calls")
    assert "Phone Pat" in calls and "+44 113 496 0999" in calls and "Log the call" in calls
    assert "Emailed Eve" not in page
    assert count(page, "calls") == 1 and "Phone Pat" not in section(page, "owed")
    assert re.search(r'data-testid="queue-badge"[^>]*>1<', page)
    dashboard = web.get("/").get_data(as_text=True)
    assert re.search(r'data-testid="open-tasks">1<', dashboard)
    assert 'data-testid="open-tasks-link"' in dashboard and 'href="/queue"' in dashboard
    manager = sign_in(Web(web.client.application.test_client()), f.user("manager"))
    report = manager.get("/reports/overdue").get_data(as_text=True)
    assert "Phone Pat" in report  # the same day: no SLA to wait out

    # No address: the call is how she hears it, so the cancellation is ticked by default (an
    # email candidate's outcome never is, issue 17.2).
    (nid,) = _owed_ids(a)
    calls = open_row_form(web, page, "calls")
    box = re.search(rf'<input[^>]*name="settle" value="{nid}"[^>]*>', calls).group(0)
    assert "checked" in box
    web.post(
        f"/candidates/{phone_only.id}/contacts",
        data={
            "channel": "phone",
            "summary": "Called her",
            "application_id": a.id,
            "next": "queue",
            "settle": _owed_ids(a),
        },
    )
    page = web.get("/queue").get_data(as_text=True)
    assert "settles the owed role cancelled email and 1 open task" in page
    assert "Phone Pat" not in section(page, "calls") and count(page, "calls") == 0
    assert "Nothing waiting on you" in page
    overdue.refresh()
    assert "Phone Pat" not in manager.get("/reports/overdue").get_data(as_text=True)


def test_cancelling_a_position_settles_its_interviews_chase_the_client_task(db):
    """Issue 16.3: as a single move does."""
    riley = f.user()
    a = _interview(riley, "Interviewed Ian", clock.now() + timedelta(days=5), clock.now())
    chase = db.session.scalar(sa.select(Task).where(Task.application_id == a.id))
    assert chase.kind == "promised_date_due" and chase.resolved_at is None
    db.session.commit()
    services.close_position(a.position, actor=riley, status="cancelled", reason="client_withdrew")
    db.session.refresh(chase)
    assert chase.resolved_at is not None and chase.resolved_by_id == riley.id
    assert worklist.counts(riley).tasks == 0


def test_a_withdrawal_is_listed_and_marked_done_once_the_client_is_told(db, web):
    riley = f.user()
    a = f.application(candidate_=f.candidate(name="Leaving Lou"), position_=f.position(owner=riley))
    db.session.commit()
    status_services.withdraw(a.candidate, a.id)
    task = db.session.scalar(sa.select(Task).where(Task.kind == "candidate_withdrew"))
    sign_in(web, riley)
    calls = section(web.get("/queue").get_data(as_text=True), "calls")
    assert "Leaving Lou" in calls and "Client told: mark done" in calls
    other = Web(web.client.application.test_client())
    sign_in(other, f.user())
    assert other.post(f"/queue/tasks/{task.id}/done").status_code == 404  # not theirs
    assert web.post(f"/queue/tasks/{task.id}/done").status_code == 302
    page = web.get("/queue").get_data(as_text=True)
    assert "Done:" in page and "Leaving Lou" not in section(page, "calls")
    db.session.refresh(task)
    assert task.resolved_by_id == riley.id
    # Only tasks settled outside Closeloop can be marked done; an answer is owed here.
    asker = f.application(position_=f.position(owner=riley))
    db.session.commit()
    request = status_services.request_update(asker.candidate, asker.id)
    assert web.post(f"/queue/tasks/{request.id}/done").status_code == 404
