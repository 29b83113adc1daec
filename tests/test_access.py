"""One access rule per record kind (app/access.py): someone else's position, application,
candidate, task or import answers exactly as a record that does not exist (404) on every
page that takes its id, and no contact path settles an application its author cannot open.

The pages are found from the URL map, so a new route taking one of these ids is checked
without anyone adding it here."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.imports import services as imports
from app.models import (
    Contact,
    Notification,
    NState,
    OutcomeReason,
    Stage,
    StageEvent,
    Task,
)
from app.notifications import links, outbox
from app.pipeline import fanout, services
from tests import factories as f
from tests.web import Web, sign_in

RECORD_KEYS = ("position_id", "application_id", "candidate_id", "task_id", "import_id")
MISSING = 987_654
# Admin pages see every record by design; candidates reach theirs through a signed link, and
# so do clients' hiring managers (their decision page). The REST API takes a bearer token,
# never a session: its 404 for someone else's record is tested in tests/test_api.py and the
# matrix's "another recruiter" column.
OTHER_PRINCIPALS = ("/admin/", "/status/", "/decide/", "/api/")


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


@pytest.fixture
def world(db):
    """Riley's records, Sam (another recruiter) and a manager."""
    riley, sam, manager = f.user(), f.user(), f.user("manager")
    position = f.position(owner=riley)
    candidate = f.candidate(name="Amelia Hart")
    candidate.owner_id = riley.id
    application = f.application(position_=position, candidate_=candidate, stage=Stage.INTERVIEW)
    tasks = [  # the queue's task pages each take their own kind
        outbox.open_task(
            kind=kind,
            title=f"Amelia: {kind}",
            dedupe_key=f"t-{kind}",
            candidate_id=candidate.id,
            application_id=application.id,
            assignee_id=riley.id,
        )
        for kind in ("update_request", "undeliverable", "reply_owed", "client_decision")
    ]
    db.session.commit()
    upload = imports.create_preview(
        riley, filename="people.csv", data=b"name,email\nBo Diaz,bo@example.com\n", position=None
    )
    return {
        "riley": riley,
        "sam": sam,
        "manager": manager,
        "ids": {
            "position_id": position.id,
            "application_id": application.id,
            "candidate_id": candidate.id,
            "task_id": tuple(t.id for t in tasks),
            "import_id": upload.id,
        },
    }


def _record_rules(app):
    """(rule, method, the record key it takes) for every staff page that takes a record id."""
    found = []
    for rule in app.url_map.iter_rules():
        keys = [k for k in RECORD_KEYS if k in rule.arguments]
        if not keys or rule.rule.startswith(OTHER_PRINCIPALS):
            continue
        assert len(keys) == 1, rule.rule
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule, method, keys[0]))
    return found


def _url(rule, key: str, value: int, query: dict | None = None) -> str:
    values = {key: value}
    if "action" in rule.arguments:
        values["action"] = next(iter(fanout.ACTIONS))
    missing = rule.arguments - set(values)
    assert not missing, f"{rule.rule}: give a value for {missing}"
    return rule.build(values | (query or {}), append_unknown=True)[1]


def _writes(db) -> dict:
    db.session.expire_all()
    return {
        model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Contact, Notification, StageEvent, Task)
    } | {
        "resolved tasks": db.session.scalar(
            sa.select(sa.func.count()).select_from(Task).where(Task.resolved_at.is_not(None))
        )
    }


def test_someone_elses_record_answers_404_on_every_page_that_takes_its_id(app, db, web, world):
    rules = _record_rules(app)
    assert {key for _, _, key in rules} == set(RECORD_KEYS)  # every kind has pages to check
    sign_in(web, world["sam"])
    before = _writes(db)
    checked = []
    for rule, method, key in rules:
        ids = world["ids"][key]
        for record_id in ids if isinstance(ids, tuple) else (ids,):
            call = web.get if method == "GET" else web.post
            theirs = call(_url(rule, key, record_id))
            missing = call(_url(rule, key, MISSING))
            where = f"{method} {rule.rule} ({key}={record_id})"
            # Pages a recruiter may use answer 404; manager-only pages refuse the role
            # (403) whatever the id. Either way the answer cannot tell the two apart.
            assert missing.status_code in (404, 403), where
            assert theirs.status_code == missing.status_code, where
            checked.append((where, theirs.status_code))
    assert _writes(db) == before  # and nothing was written on the way
    assert sum(1 for _, status in checked if status == 404) >= 20, checked


def test_the_records_are_real_pages_for_those_who_may_open_them(app, web, world):
    # The same ids open for their owner and a manager: the 404s above are about access.
    for who in ("riley", "manager"):
        sign_in(web, world[who])
        for rule, method, key in _record_rules(app):
            if method != "GET":
                continue
            ids = world["ids"][key]
            # The bulk result page shows the applications it names.
            query = {"stage": "interview", "application_ids": world["ids"]["application_id"]}
            if isinstance(ids, tuple):  # the task of the kind this page takes
                ids = ids[3] if rule.rule.startswith("/queue/decisions/") else ids[0]
            url = _url(rule, key, ids, query)
            response = web.get(url)
            assert response.status_code in (200, 302), (who, rule.rule, response.status_code)
        web.post("/logout")


def test_a_candidate_link_opens_only_that_candidates_applications(db, web):
    mine = f.application(stage=Stage.INTERVIEW)
    theirs = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    token = links.status_token(mine.candidate)
    for method, path in (("get", "withdraw"), ("post", "withdraw"), ("post", "update")):
        call = getattr(web, method)
        other = call(f"/status/{token}/applications/{theirs.id}/{path}")
        missing = call(f"/status/{token}/applications/{MISSING}/{path}")
        # The withdraw page is a 404; the update button says "we could not find it".
        assert other.status_code == missing.status_code, path
        page = (other.headers.get("Location") or "").partition("#")[0]
        assert page == (missing.headers.get("Location") or "").partition("#")[0], path
    db.session.expire_all()
    assert theirs.stage == Stage.INTERVIEW
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


# -- contacts: one rule for every path that logs one ------------------------------------------


@pytest.fixture
def shared_candidate(db):
    """Amelia is Riley's candidate, and also in Sam's position, where she is owed a message."""
    riley, sam = f.user(), f.user()
    amelia = f.candidate(name="Amelia Hart")
    amelia.owner_id = riley.id
    mine = f.application(position_=f.position(owner=riley, title="Backend"), candidate_=amelia)
    samples = f.application(
        position_=f.position(owner=sam, title="Night Nurse"),
        candidate_=amelia,
        stage=Stage.INTERVIEW,
    )
    db.session.commit()
    owed = services.move_stage(
        samples, Stage.REJECTED, actor=sam, reason=OutcomeReason.CLIENT_DECLINED
    )
    return riley, sam, amelia, mine, samples, owed


def test_a_recruiter_cannot_settle_an_application_in_a_position_they_cannot_open(
    db, web, shared_candidate
):
    riley, _, amelia, mine, samples, owed = shared_candidate
    sign_in(web, riley)
    profile = web.get(f"/candidates/{amelia.id}").get_data(as_text=True)
    # She is on Riley's list, and the profile shows the whole picture...
    assert "Night Nurse" in profile
    # ...but links only to the board Riley may open, and the contact form offers only what
    # Riley may settle.
    assert f'href="/positions/{mine.position_id}"' in profile
    assert f'href="/positions/{samples.position_id}"' not in profile
    assert f'value="{mine.id}">Backend' in profile
    assert f'value="{samples.id}">Night Nurse' not in profile
    # Posted anyway: the profile's form refuses the choice, the report's page is a 404.
    refused = web.post(
        f"/candidates/{amelia.id}/contacts",
        data={"channel": "phone", "summary": "Told her", "application_id": samples.id},
    )
    assert refused.status_code == 400
    assert "Not a valid choice" in refused.get_data(as_text=True)
    refused = web.post(
        f"/reports/applications/{samples.id}/contact", data={"channel": "phone", "summary": "x"}
    )
    assert refused.status_code == 404
    db.session.expire_all()
    assert db.session.get(Notification, owed.id).state != NState.DISCHARGED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_the_contact_service_refuses_an_application_its_author_cannot_open(db, shared_candidate):
    riley, sam, amelia, mine, samples, owed = shared_candidate
    with pytest.raises(PermissionError):
        services.log_contact(
            amelia, actor=riley, channel="phone", summary="Told her", application=samples
        )
    db.session.rollback()
    with pytest.raises(PermissionError):  # an application of someone else entirely
        services.log_contact(
            amelia, actor=sam, channel="phone", summary="x", application=f.application()
        )
    db.session.rollback()
    assert db.session.get(Notification, owed.id).state != NState.DISCHARGED
    services.log_contact(
        amelia,
        actor=sam,
        channel="phone",
        summary="Told her",
        application=samples,
        settle=[owed.id],
    )
    assert db.session.get(Notification, owed.id).state == NState.DISCHARGED
