"""The REST API: tokens, errors as problem+json, each resource through the pages' services,
access rules (someone else's record is 404), cursor pages, ETag / If-Match."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.models import ApiToken, AuditEntry, Notification
from tests import factories
from tests.api_client import Api
from tests.web import Web

PROBLEM = "application/problem+json"


@pytest.fixture
def team(db):
    from tests import world

    return world.staff()


@pytest.fixture
def api(client, team):
    return Api(client, team.owner)


@pytest.fixture
def other_api(make_app, team):
    return Api(make_app().test_client(), team.other)


def _problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# -- tokens ---------------------------------------------------------------------------------


def test_no_token_wrong_token_and_a_session_cookie_are_401(client, team, api):
    client = Web(client)
    _problem(client.get("/api/v1/clients"), 401)
    bad = client.get("/api/v1/clients", headers={"Authorization": "Bearer clk_nope"})
    assert "invalid_token" in bad.headers["WWW-Authenticate"]
    _problem(bad, 401)
    from tests.world import sign_in

    sign_in(client, team.owner)  # a signed-in browser session is not an API credential
    _problem(client.get("/api/v1/clients"), 401)
    assert api.get("/api/v1/clients").status_code == 200


def test_token_is_stored_hashed_and_used_time_recorded(app, api, team):
    stored = db.session.scalar(sa.select(ApiToken))
    assert stored.token_hash != api.token and api.token.startswith("clk_")
    assert api.token not in str(db.session.execute(sa.select(ApiToken.__table__)).all())
    assert stored.last_used_at is None
    api.get("/api/v1/clients")
    db.session.expire_all()
    assert db.session.get(ApiToken, stored.id).last_used_at is not None


def test_revoked_token_and_deactivated_user_stop_working(app, api, team):
    from app.api import tokens

    assert api.get("/api/v1/clients").status_code == 200
    tokens.revoke(db.session.scalar(sa.select(ApiToken)), actor=team.owner)
    _problem(api.get("/api/v1/clients"), 401)
    actions = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["api_token.created", "api_token.revoked"]
    second = Api(api.client, team.owner)
    team.owner.active = False
    db.session.commit()
    _problem(second.get("/api/v1/clients"), 401)


def test_cli_prints_the_token_alone_on_its_last_line(app, runner, team, client):
    client = Web(client)
    result = runner.invoke(args=["users", "token", team.manager.email, "--name", "ATS"])
    assert result.exit_code == 0, result.output
    raw = result.output.strip().splitlines()[-1]
    assert raw.startswith("clk_") and " " not in raw
    ok = client.get("/api/v1/positions", headers={"Authorization": f"Bearer {raw}"})
    assert ok.status_code == 200
    missing = runner.invoke(args=["users", "token", "nobody@agency.test"])
    assert missing.exit_code != 0


def test_tokens_page_creates_shows_once_lists_and_revokes(app, client, team):
    from tests.world import sign_in

    client = Web(client)
    sign_in(client, team.owner)
    page = client.post("/profile/tokens", data={"name": "Bullhorn sync"})
    assert page.status_code == 201
    html = page.get_data(as_text=True)
    stored = db.session.scalar(sa.select(ApiToken))
    start = html.index("clk_")
    raw = html[start : start + 47]
    assert stored.token_hash == __import__("hashlib").sha256(raw.encode()).hexdigest()
    listing = client.get("/profile/tokens").get_data(as_text=True)
    assert "Bullhorn sync" in listing and raw not in listing and "Never" in listing
    assert client.post("/profile/tokens", data={"name": " "}).status_code == 400
    assert client.post("/profile/tokens", data={"name": "x" * 101}).status_code == 400
    gone = client.post(f"/profile/tokens/{stored.id}/revoke")
    assert gone.status_code == 302
    assert (
        client.get("/api/v1/clients", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    )


def test_someone_elses_token_cannot_be_revoked(app, make_app, team):
    from app.api import tokens
    from tests.world import sign_in

    token, _ = tokens.create(team.owner, "mine", actor=team.owner)
    other = Web(make_app().test_client())
    sign_in(other, team.other)
    assert other.post(f"/profile/tokens/{token.id}/revoke").status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is None


@pytest.mark.app_config(API_REQUESTS_PER_MINUTE=3)
def test_throttled_per_token(api, team, make_app):
    codes = [api.get("/api/v1/clients").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = api.get("/api/v1/clients")
    assert int(limited.headers["Retry-After"]) >= 1
    _problem(limited, 429)
    # Another token (another ATS) has its own allowance.
    assert Api(api.client, team.other).get("/api/v1/clients").status_code == 200


# -- errors ---------------------------------------------------------------------------------


def test_errors_are_problem_json(api):
    _problem(api.get("/api/v1/nothing-here"), 404)
    _problem(api.get("/api/v1/clients/2000000000"), 404)
    _problem(api.get("/api/v1/clients/99999999999999"), 404)
    allowed = api.open("DELETE", "/api/v1/clients")
    _problem(allowed, 405)
    assert "GET" in allowed.headers["Allow"]
    _problem(
        api.post("/api/v1/clients", data="name=x", headers={"Content-Type": "text/plain"}), 415
    )
    _problem(
        api.open("POST", "/api/v1/clients", data=b"{nope", content_type="application/json"), 400
    )
    body = _problem(api.post("/api/v1/clients", json={"name": "A", "colour": "red"}), 422)
    assert body["errors"] == [
        {"field": "colour", "message": "Unknown field: this API does not take it."}
    ]
    body = _problem(api.post("/api/v1/clients", json={"name": "x" * 201}), 422)
    assert body["errors"][0]["field"] == "name"
    body = _problem(api.post("/api/v1/clients", json=[1]), 422)
    _problem(api.get("/api/v1/clients?cursor=zzz"), 422)
    _problem(api.get("/api/v1/clients?limit=1000"), 422)
    _problem(api.get("/api/v1/clients?colour=red"), 422)
    nul = api.post("/api/v1/clients", json={"name": "a\x00b"})
    _problem(nul, 400)


def test_each_problem_has_a_stable_code_and_english_words_whatever_the_language(api, client):
    """The API is a machine contract: `code` is what a client maps; `title` and `detail`
    stay English even when the caller's language is German (Accept-Language ignored)."""
    german = {"Accept-Language": "de"}
    cases = [
        (Web(client).get("/api/v1/clients", headers=german), 401, "token_missing"),
        (api.get("/api/v1/clients/2000000000", headers=german), 404, "not_found"),
        (api.get("/api/v1/clients?cursor=zzz", headers=german), 422, "invalid_cursor"),
        (api.post("/api/v1/clients", json={"name": "A", "colour": "red"}), 422, "invalid"),
        (api.open("DELETE", "/api/v1/clients"), 405, "method_not_allowed"),
    ]
    for response, status, code in cases:
        body = _problem(response, status)
        assert body["code"] == code, body
        assert body["detail"].isascii() and "nicht" not in body["detail"], body
    created = api.post("/api/v1/candidates", json={"name": "Ann", "email": "ann@x.test"})
    assert created.status_code == 201, created.get_json()
    again = api.post(
        "/api/v1/candidates", json={"name": "Ann B", "email": "ann@x.test"}, headers=german
    )
    body = _problem(again, 409)
    assert body["code"] == "duplicate_email" and "already" in body["detail"]


def test_every_problem_code_is_documented_in_the_openapi_document(client):
    import re
    from pathlib import Path

    from app.api.problems import CODES

    used = {
        code
        for path in Path("app/api").glob("*.py")
        for code in re.findall(r'code="(\w+)"', path.read_text())
    }
    assert used and used <= set(CODES), used - set(CODES)
    problem = client.get("/api/openapi.json").get_json()["components"]["schemas"]["Problem"]
    assert "code" in problem["required"]
    assert all(f"`{code}`" in problem["properties"]["code"]["description"] for code in CODES)


def test_a_server_error_is_problem_json(make_app, team):
    app = make_app(fresh=True, PROPAGATE_EXCEPTIONS=False)

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("boom")

    response = Api(app.test_client(), team.owner).get("/api/v1/boom")
    body = _problem(response, 500)
    assert "boom" not in body["detail"]


# -- resources ------------------------------------------------------------------------------


def test_clients_create_read_update_with_etag(api):
    created = api.post("/api/v1/clients", json={"name": " Acme ", "contact_email": "hr@acme.test"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["name"] == "Acme" and created.headers["Location"].endswith(f"/clients/{body['id']}")
    _problem(api.post("/api/v1/clients", json={"name": "ACME"}), 422)
    _problem(api.post("/api/v1/clients", json={"name": "B", "contact_email": "nope"}), 422)
    url = f"/api/v1/clients/{body['id']}"
    etag = api.get(url).headers["ETag"]
    first = api.patch(url, json={"notes": "Pays on time"}, headers={"If-Match": etag})
    assert first.status_code == 200 and first.get_json()["notes"] == "Pays on time"
    lost = api.patch(url, json={"notes": "Slow payer"}, headers={"If-Match": etag})
    _problem(lost, 412)
    assert api.get(url).get_json()["notes"] == "Pays on time"
    assert api.patch(url, json={"notes": None}).get_json()["notes"] is None


def test_cursor_pages_walk_every_row_once(api):
    for n in range(5):
        factories.client(f"Client {n}")
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/clients", query_string=query).get_json()
        seen += [c["name"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"Client {n}" for n in range(5)]


def _position(api, **extra):
    client_id = api.post("/api/v1/clients", json={"name": f"Client {clock.now().timestamp()}"})
    body = {"client_id": client_id.get_json()["id"], "title": "Data Engineer", **extra}
    response = api.post("/api/v1/positions", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_positions_are_the_owners_and_someone_elses_is_404(api, other_api, team):
    position = _position(api, location="Leeds")
    assert position["owner_id"] == team.owner.id and position["status"] == "open"
    url = f"/api/v1/positions/{position['id']}"
    assert api.get(url).status_code == 200
    _problem(other_api.get(url), 404)
    _problem(other_api.patch(url, json={"title": "Mine now"}), 404)
    assert other_api.get("/api/v1/positions").get_json()["data"] == []
    body = _problem(api.post("/api/v1/positions", json={"client_id": 2_000_000, "title": "X"}), 422)
    assert body["errors"][0]["field"] == "client_id"
    mine = api.get("/api/v1/positions", query_string={"status": "open"}).get_json()["data"]
    assert [p["id"] for p in mine] == [position["id"]]


def test_candidate_create_find_by_email_and_duplicate(api, other_api):
    made = api.post("/api/v1/candidates", json={"name": "Ada", "email": "ada@example.test"})
    assert made.status_code == 201, made.get_json()
    found = api.get("/api/v1/candidates", query_string={"email": "ADA@example.test"}).get_json()
    assert [c["name"] for c in found["data"]] == ["Ada"]
    assert (
        other_api.get("/api/v1/candidates", query_string={"email": "ada@example.test"}).get_json()[
            "data"
        ]
        == []
    )
    dup = _problem(
        other_api.post("/api/v1/candidates", json={"name": "A2", "email": "ada@example.test"}), 409
    )
    assert "Ada" not in dup["detail"] and dup["errors"][0]["field"] == "email"
    _problem(api.post("/api/v1/candidates", json={"name": "B", "timezone": "Mars/Olympus"}), 422)
    url = f"/api/v1/candidates/{made.get_json()['id']}"
    changed = api.patch(url, json={"phone": "+44 113 496 0001", "optional_updates": False})
    assert changed.status_code == 200 and changed.get_json()["optional_updates"] is False


def test_a_candidates_language_is_set_and_changed_through_the_api(api, app):
    """The same tags as the candidate form and the CSV import: kept in their usual spelling,
    refused with words (nothing written), null for the agency's default; the next email is
    in that language."""
    made = api.post("/api/v1/candidates", json={"name": "Jana", "language": "de-at"})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["language"] == "de-AT"
    url = f"/api/v1/candidates/{made.get_json()['id']}"
    assert api.get(url).get_json()["language"] == "de-AT"
    for bad in ("klingon!", "x" * 36, "zz-ZZ", 7):
        body = _problem(api.patch(url, json={"language": bad}), 422)
        assert body["errors"][0]["field"] == "language", body
    assert api.get(url).get_json()["language"] == "de-AT"
    body = _problem(api.post("/api/v1/candidates", json={"name": "X", "language": "german"}), 422)
    assert "language" in body["errors"][0]["message"]
    assert api.patch(url, json={"phone": "+49 30 1234"}).get_json()["language"] == "de-AT"
    assert api.patch(url, json={"language": "es"}).get_json()["language"] == "es"
    assert api.patch(url, json={"language": None}).get_json()["language"] is None
    assert api.post("/api/v1/candidates", json={"name": "N"}).get_json()["language"] is None
    from app.models import CandidateAction

    actions = db.session.scalars(sa.select(CandidateAction.detail).order_by(CandidateAction.id))
    assert list(actions) == [
        "language es (changed by staff)",
        "language agency default (changed by staff)",
    ]
    doc = api.client.get("/api/openapi.json").get_json()
    for schema in ("CandidateIn", "CandidatePatch", "CandidateOut"):
        assert "language" in doc["components"]["schemas"][schema]["properties"], schema


def test_the_readme_journey_interview_then_reject(api, app):
    """Create a position, add a candidate, record an interview, reject: the candidate is
    owed the interview message and then the rejection, readable back with their states."""
    position = _position(api)
    candidate = api.post("/api/v1/candidates", json={"name": "Cara", "email": "cara@example.test"})
    application = api.post(
        "/api/v1/applications",
        json={"candidate_id": candidate.get_json()["id"], "position_id": position["id"]},
    )
    assert application.status_code == 201
    app_id = application.get_json()["id"]
    again = api.post(
        "/api/v1/applications",
        json={"candidate_id": candidate.get_json()["id"], "position_id": position["id"]},
    )
    _problem(again, 409)
    now = clock.now()
    interview = api.post(
        f"/api/v1/applications/{app_id}/interview",
        json={
            "interview_at": (now + timedelta(days=2)).isoformat(),
            "promised_response_at": (now + timedelta(days=5)).isoformat(),
            "interviewers": "Grace Hopper",
            "client_contact": "Hal",
        },
    )
    assert interview.status_code == 200, interview.get_json()
    assert interview.get_json()["stage"] == "interview"
    body = _problem(
        api.post(f"/api/v1/applications/{app_id}/move", json={"to_stage": "rejected"}), 409
    )
    assert "reason" in body["detail"].lower()
    rejected = api.post(
        f"/api/v1/applications/{app_id}/move",
        json={"to_stage": "rejected", "reason": "client_declined", "note": "Strong second place."},
    )
    assert rejected.status_code == 200, rejected.get_json()
    messages = api.get("/api/v1/notifications", query_string={"application_id": app_id}).get_json()
    kinds = [m["kind"] for m in messages["data"]]
    assert "interview_scheduled" in kinds and kinds[-1] == "not_selected_client"
    one = api.get(f"/api/v1/notifications/{messages['data'][-1]['id']}").get_json()
    assert one["state_label"] and isinstance(one["events"], list)


def test_move_with_a_stale_etag_is_412_and_nothing_is_owed(api, app):
    position = _position(api)
    candidate = api.post("/api/v1/candidates", json={"name": "Dee", "email": "dee@example.test"})
    app_id = api.post(
        "/api/v1/applications",
        json={"candidate_id": candidate.get_json()["id"], "position_id": position["id"]},
    ).get_json()["id"]
    etag = api.get(f"/api/v1/applications/{app_id}").headers["ETag"]
    ok = api.post(
        f"/api/v1/applications/{app_id}/move",
        json={"to_stage": "submitted"},
        headers={"If-Match": etag},
    )
    assert ok.status_code == 200
    owed = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
    stale = api.post(
        f"/api/v1/applications/{app_id}/move",
        json={"to_stage": "rejected", "reason": "agency_decision"},
        headers={"If-Match": etag},
    )
    _problem(stale, 412)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == owed
    undo = api.post(f"/api/v1/applications/{app_id}/undo", json={})
    assert undo.status_code == 200 and undo.get_json()["stage"] == "sourced"


def test_hold_and_reopen_through_the_lifecycle(api):
    position = _position(api)
    url = f"/api/v1/positions/{position['id']}"
    held = api.post(url + "/lifecycle", json={"action": "hold", "reason": "Budget review"})
    assert held.status_code == 200 and held.get_json()["position"]["status"] == "on_hold"
    _problem(api.post(url + "/lifecycle", json={"action": "hold", "reason": "Again"}), 409)
    bad = _problem(api.post(url + "/lifecycle", json={"action": "cancel", "reason": "whim"}), 409)
    assert bad["errors"][0]["field"] == "reason"
    assert api.post(url + "/reopen", json={}).get_json()["position"]["status"] == "open"
    _problem(api.post(url + "/reopen", json={}), 409)


def test_contacts_and_tasks(api, other_api, app, team):
    from tests import world

    rec = world.records(team.owner)
    logged = api.post(
        "/api/v1/contacts",
        json={
            "candidate_id": rec.candidate_id,
            "application_id": rec.application_id,
            "channel": "phone",
            "summary": "Called about the role",
        },
    )
    assert logged.status_code == 201, logged.get_json()
    assert "settles" in logged.get_json()["settled"]
    _problem(
        other_api.post(
            "/api/v1/contacts",
            json={"candidate_id": rec.candidate_id, "channel": "phone", "summary": "x"},
        ),
        404,
    )
    listed = api.get("/api/v1/contacts", query_string={"candidate_id": rec.candidate_id}).get_json()
    assert [c["summary"] for c in listed["data"]] == ["Called about the role"]
    tasks = api.get("/api/v1/tasks", query_string={"open": "false"}).get_json()["data"]
    assert {t["kind"] for t in tasks} >= {"update_request"}
    assert other_api.get("/api/v1/tasks").get_json()["data"] == []
    _problem(
        other_api.post(f"/api/v1/tasks/{rec.update_task_id}/reply", json={"message": "Hi"}), 404
    )


def test_overdue_report_is_for_managers_with_the_pages_filters(api, client, team, app):
    from app.reports import overdue
    from tests import world

    world.records(team.owner)
    overdue.refresh()
    db.session.commit()
    _problem(api.get("/api/v1/reports/overdue"), 403)
    manager = Api(client, team.manager)
    everything = manager.get("/api/v1/reports/overdue").get_json()["data"]
    assert everything and all(row["reason_label"] for row in everything)
    reason = everything[0]["reason"]
    narrowed = manager.get("/api/v1/reports/overdue", query_string={"reason": reason}).get_json()
    assert {row["reason"] for row in narrowed["data"]} == {reason}
    nobody = manager.get(
        "/api/v1/reports/overdue", query_string={"recruiter_id": team.other.id}
    ).get_json()
    assert nobody["data"] == []
    _problem(manager.get("/api/v1/reports/overdue", query_string={"reason": "bogus"}), 422)


def test_openapi_document_and_docs_page_need_no_token_and_no_cdn(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    assert "/api/v1/applications/{application_id}/move" in doc["paths"]
    move = doc["paths"]["/api/v1/applications/{application_id}/move"]["post"]
    body = doc["components"]["schemas"][
        move["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    ]
    assert body["additionalProperties"] is False  # unknown fields refused, as documented
    assert {"409", "412", "422"} <= set(move["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in move["parameters"])
    page = client.get("/api/docs").get_data(as_text=True)
    assert "js/api_docs.js" in page and "openapi.json" in page
    assert "in English by design" in page and "stable code" in page
    assert "http" not in page.split("<body>")[1].replace("http-equiv", "")


def test_a_contact_settles_only_the_messages_it_lists(api, team):
    """As on the page (issue 17.2): a call leaves an owed outcome owed unless it is listed."""
    from app.models import NState, OutcomeReason, Stage
    from app.pipeline import services

    a = factories.application(position_=factories.position(owner=team.owner))
    owed = services.move_stage(
        a, Stage.REJECTED, actor=team.owner, reason=OutcomeReason.AGENCY_DECISION
    )
    other = services.move_stage(
        factories.application(position_=factories.position(owner=team.owner)),
        Stage.CLIENT_REVIEW,
        actor=team.owner,
    )
    db.session.commit()
    body = {
        "candidate_id": a.candidate_id,
        "application_id": a.id,
        "channel": "phone",
        "summary": "Talked it through",
    }
    assert api.post("/api/v1/contacts", json=body).status_code == 201
    db.session.expire_all()
    assert db.session.get(Notification, owed.id).state != NState.DISCHARGED.value
    refused = _problem(api.post("/api/v1/contacts", json={**body, "settle": [other.id]}), 422)
    assert refused["errors"][0]["field"] == "settle"
    assert api.post("/api/v1/contacts", json={**body, "settle": [owed.id]}).status_code == 201
    db.session.expire_all()
    assert db.session.get(Notification, owed.id).state == NState.DISCHARGED.value
