"""Position hold / cancel / fill: the confirmation says who is told what, the close owes one
message per active candidate, and the fan-out progress follows them to the provider."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.models import Notification, NState, Position, Stage, Task
from app.notifications import send
from app.pipeline.fanout import Progress, describe
from tests import factories as f
from tests.web import Web

PASSWORD = "correct horse"


@pytest.fixture
def me(app):
    return f.user(name="Rita Recruiter")


@pytest.fixture
def position(me):
    p = f.position(owner=me, title="Data Engineer", client_=f.client("Helix"))
    for name in ("Ann Able", "Ben Baker", "Cleo Cole"):
        f.application(position_=p, candidate_=f.candidate(name=name))
    f.application(position_=p, candidate_=f.candidate(name="Pat Phone", email=None))
    f.application(position_=p, candidate_=f.candidate(name="Ed Ended"), stage=Stage.REJECTED)
    return p


def signed_in(client, user) -> Web:
    web = Web(client)
    assert web.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    return web


@pytest.fixture
def web(client, me):
    return signed_in(client, me)


def text(response) -> str:
    return response.get_data(as_text=True)


def fresh(position) -> Position:
    _db.session.expire_all()
    return _db.session.get(Position, position.id)


def test_confirmation_counts_groups_and_shows_a_rendered_sample(web, position):
    page = text(web.get(f"/positions/{position.id}/lifecycle/cancel?reason=budget_cut"))
    assert re.search(r'data-testid="active-count">4<', page)
    group = re.search(r'data-testid="group">(.*?)</li>', page, re.S).group(1)
    assert "<strong>3</strong> get an email that Helix has cancelled Data Engineer" in group
    assert "have no email address" in re.search(
        r'data-testid="phone-group">(.*?)</li>', page
    ).group(1)
    assert "Pat Phone" in re.search(r'data-testid="phone-list".*?</ul>', page, re.S).group(0)
    sample = re.search(r'data-testid="sample".*?</iframe>', page, re.S).group(0)
    assert "Ann Able" in sample and 'sandbox=""' in sample
    assert "Ed Ended" not in page  # ended applications are not told again
    assert "after the undo window" in page
    assert fresh(position).status == "open"  # the dry run wrote nothing
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0


def test_each_reason_shows_its_own_message(web, position):
    cancelled = text(web.get(f"/positions/{position.id}/lifecycle/cancel?reason=client_withdrew"))
    filled = text(web.get(f"/positions/{position.id}/lifecycle/fill?reason=filled_by_other"))
    assert "(role cancelled email)" in cancelled and "(role filled email)" in filled
    # A reason that does not belong to the action counts as none.
    wrong = text(web.get(f"/positions/{position.id}/lifecycle/cancel?reason=filled_by_other"))
    assert 'data-testid="needs-reason"' in wrong


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("hold", {"hold_reason": "  "}, "Give the reason"),
        ("cancel", {"reason": ""}, "Give the reason"),
        ("cancel", {"reason": "budget_cut", "shown_reason": ""}, "The reason changed"),
    ],
)
def test_confirm_needs_a_reason_that_was_shown(web, position, action, data, message):
    data = {"confirm": "1", **data}
    data.setdefault("shown_reason", data.get("reason", data.get("hold_reason", "")))
    response = web.post(f"/positions/{position.id}/lifecycle/{action}", data=data)
    assert response.status_code == 200 and message in text(response)
    assert fresh(position).status == "open"


def test_cancel_owes_one_message_per_active_candidate_and_one_phone_task(web, position):
    response = web.post(
        f"/positions/{position.id}/lifecycle/cancel",
        data={"reason": "budget_cut", "shown_reason": "budget_cut", "confirm": "1"},
    )
    assert response.headers["Location"].endswith(f"/positions/{position.id}/progress")
    p = fresh(position)
    assert (p.status, p.status_reason) == ("cancelled", "budget_cut")
    owed = _db.session.scalars(sa.select(Notification)).all()
    assert len(owed) == 4
    assert {(n.kind, n.reason) for n in owed} == {("position_cancelled", "budget_cut")}
    tasks = _db.session.scalars(sa.select(Task)).all()
    assert [t.title for t in tasks] == [
        "Call Pat Phone: tell them Helix has cancelled Data Engineer"
    ]
    progress = text(web.get(response.headers["Location"]))
    assert "0 of 4 handed to the mail provider" in progress
    assert "after the undo window" in progress
    assert '<meta http-equiv="refresh" content="5">' in progress  # works without JS
    board = text(web.get(f"/positions/{position.id}"))
    assert "Who has been told" in board and f"/positions/{position.id}/progress" in board


def test_hold_tells_active_candidates_and_keeps_their_stages(web, position):
    page = text(web.get(f"/positions/{position.id}/lifecycle/hold?hold_reason=Budget+review"))
    assert "(role on hold notice)" in page and 'data-testid="sample"' in page
    web.post(
        f"/positions/{position.id}/lifecycle/hold",
        data={"hold_reason": "Budget review", "shown_reason": "Budget review", "confirm": "1"},
    )
    assert fresh(position).status == "on_hold"
    kinds = _db.session.scalars(sa.select(Notification.kind)).all()
    assert kinds == ["position_on_hold"] * 4
    summary = web.get(f"/positions/{position.id}/fanout.json").get_json()["summary"]
    assert summary == "0 of 4 handed to the mail provider; 4 being sent now."  # no digest wait
    again = web.get(f"/positions/{position.id}/lifecycle/hold", follow_redirects=True)
    assert "already on hold" in text(again)


def test_fanout_json_counts_move_as_messages_are_delivered(make_app, me, position):
    web = signed_in(make_app(UNDO_WINDOW_SECONDS=0).test_client(), me)
    web.post(
        f"/positions/{position.id}/lifecycle/fill",
        data={"reason": "filled_by_other", "shown_reason": "filled_by_other", "confirm": "1"},
    )
    url = f"/positions/{position.id}/fanout.json"
    before = web.get(url).get_json()
    assert before["owed"] == 4 and before["handed_to_provider"] == 0
    assert before["sending"] == 4 and before["percent"] == 0 and not before["finished"]

    ids = _db.session.scalars(sa.select(Notification.id).order_by(Notification.id)).all()
    send.deliver(ids[:2])
    mid = web.get(url).get_json()
    assert mid["handed_to_provider"] == 2 and mid["sending"] == 2 and mid["percent"] == 50

    send.deliver(ids[2:])
    after = web.get(url).get_json()
    assert after["handed_to_provider"] == 3 and after["needs_attention"] == 1
    assert after["percent"] == 100 and after["finished"]
    assert "1 need a phone call" in after["summary"]
    # The send path found the bulk phone task: still one task for Pat.
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 1
    states = _db.session.scalars(sa.select(Notification.state)).all()
    assert sorted(states) == [NState.FAILED.value] + [NState.SENT.value] * 3


def test_waiting_messages_say_when_they_leave(web, position):
    web.post(
        f"/positions/{position.id}/lifecycle/cancel",
        data={"reason": "client_withdrew", "shown_reason": "client_withdrew", "confirm": "1"},
    )
    data = web.get(f"/positions/{position.id}/fanout.json").get_json()
    assert data["waiting"] == 4 and data["waiting_from"]
    assert "the rest leave at" in data["summary"]


@pytest.mark.parametrize(
    "path", ["/lifecycle/cancel", "/progress", "/fanout.json", "/lifecycle/hold"]
)
def test_other_recruiters_get_404_and_anonymous_the_login(client, position, path):
    url = f"/positions/{position.id}{path}"
    assert Web(client).get(url).headers["Location"].startswith("/login")
    web = signed_in(client, f.user())
    assert web.get(url).status_code == 404
    if path.startswith("/lifecycle"):
        response = web.post(url, data={"reason": "budget_cut", "hold_reason": "x", "confirm": "1"})
        assert response.status_code == 404
        assert fresh(position).status == "open"


def test_unknown_action_is_404(web, position):
    assert web.get(f"/positions/{position.id}/lifecycle/explode").status_code == 404


def test_progress_of_an_open_position_goes_back_to_the_board(web, position):
    response = web.get(f"/positions/{position.id}/progress", follow_redirects=True)
    assert "is open: there are no hold or closing messages to follow" in text(response)


def test_progress_in_words(app):
    at = datetime(2026, 1, 5, 14, 32, tzinfo=UTC)
    p = Progress(owed=2000, handed_to_provider=412, waiting=1588, waiting_from=at, waiting_until=at)
    assert describe(p, "UTC").startswith("412 of 2,000 handed to the mail provider; the rest leave")
    assert "14:32, after the undo window" in describe(p, "UTC")
    assert "15:32" in describe(p, "Europe/Berlin")
    p.delayed = False
    assert "after the short digest window" in describe(p, "UTC")
    done = Progress(owed=3, handed_to_provider=2, settled=1)
    assert describe(done, "UTC") == "All 3 messages are handed to the mail provider or settled."


def test_close_needs_the_csrf_token(make_app, me, position):
    web = Web(make_app(WTF_CSRF_ENABLED=True).test_client())
    login = text(web.get("/login"))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)
    web.post("/login", data={"email": me.email, "password": PASSWORD, "csrf_token": token})
    url = f"/positions/{position.id}/lifecycle/cancel"
    data = {"reason": "budget_cut", "shown_reason": "budget_cut", "confirm": "1"}
    assert web.post(url, data=data).status_code == 400
    assert fresh(position).status == "open"
    page = text(web.get(url + "?reason=budget_cut"))
    form = re.search(r'<form[^>]*id="lifecycle-form".*?</form>', page, re.S).group(0)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    assert web.post(url, data={**data, "csrf_token": token}).status_code == 302
    assert fresh(position).status == "cancelled"
