"""Candidates: list and search, create and edit with validation (duplicate email, time
zone), adding to a position, and who may see whom."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.models import Application, Candidate, CandidateAction, PositionStatus, Stage
from tests import factories as f
from tests.web import Web, sign_in

PASSWORD = "correct horse"


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


def form(**overrides) -> dict:
    data = {
        "name": "Amelia Hart",
        "email": "amelia.hart@example.com",
        "phone": "+44 7700 900123",
        "timezone": "Europe/Berlin",
        "optional_updates": "y",
    }
    return {k: v for k, v in (data | overrides).items() if v is not None}


def text(response) -> str:
    return response.get_data(as_text=True)


# -- create and edit ----------------------------------------------------------------------


def test_create_candidate_then_profile_shows_it(db, web):
    riley = f.user(name="Riley Chen")
    response = sign_in(web, riley).post("/candidates/new", data=form())
    assert response.status_code == 302
    c = db.session.scalar(sa.select(Candidate).where(Candidate.name == "Amelia Hart"))
    assert response.headers["Location"] == f"/candidates/{c.id}"
    assert (c.email, c.phone, c.timezone, c.optional_updates, c.owner_id) == (
        "amelia.hart@example.com",
        "+44 7700 900123",
        "Europe/Berlin",
        True,
        riley.id,
    )
    page = text(web.get(response.headers["Location"]))
    assert "Amelia Hart added." in page and "Europe/Berlin" in page


def test_a_phone_only_candidate_is_shown_as_reached_by_phone(db, web):
    """Issue 16.7: not "Prefers: Email" when there is no address."""
    riley = f.user()
    pat = f.candidate(name="Phone Pat", email=None)
    f.application(candidate_=pat, position_=f.position(owner=riley))
    page = text(sign_in(web, riley).get(f"/candidates/{pat.id}"))
    assert re.search(r'data-testid="prefers">Phone <span[^>]*>\(no email address\)', page)
    emailed = f.candidate(name="Mail Mo")
    f.application(candidate_=emailed, position_=f.position(owner=riley))
    assert 'data-testid="prefers">Email<' in text(web.get(f"/candidates/{emailed.id}"))


def test_new_form_defaults_to_the_agencys_time_zone(app, db, web):
    app_zone = app.config["AGENCY_TIMEZONE"]
    page = text(sign_in(web, f.user()).get("/candidates/new"))
    assert f'<option selected value="{app_zone}">' in page


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"name": "  "}, "Enter the name."),
        ({"email": "not-an-email"}, "Enter a valid email address"),
        ({"timezone": "Mars/Olympus_Mons"}, "Choose a time zone from the list"),
        ({"timezone": ""}, "Choose a time zone."),
    ],
)
def test_bad_input_re_renders_with_messages_and_keeps_what_was_typed(db, web, overrides, message):
    response = sign_in(web, f.user()).post("/candidates/new", data=form(**overrides))
    page = text(response)
    assert response.status_code == 400
    assert message in page
    assert "+44 7700 900123" in page  # what the user typed is still there
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 0


def test_duplicate_email_case_insensitive_links_to_the_existing_candidate(db, web):
    riley = f.user()
    existing = f.candidate(name="Amelia Original", email="Amelia.Hart@Example.com")
    existing.owner_id = riley.id
    response = sign_in(web, riley).post(
        "/candidates/new", data=form(email="amelia.hart@EXAMPLE.com")
    )
    page = text(response)
    assert response.status_code == 400
    assert "already belongs to a candidate" in page
    assert f'href="/candidates/{existing.id}"' in page and "Amelia Original" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 1


def test_duplicate_of_someone_elses_candidate_is_refused_without_a_link(db, web):
    f.candidate(name="Hidden Person", email="hidden@example.com")
    page = text(
        sign_in(web, f.user()).post("/candidates/new", data=form(email="hidden@example.com"))
    )
    assert "another recruiter’s candidate" in page
    assert "Hidden Person" not in page


def test_edit_saves_and_records_a_preference_change(db, web):
    riley = f.user()
    c = f.candidate(name="Old Name", email="old@example.com")
    c.owner_id = riley.id
    response = sign_in(web, riley).post(
        f"/candidates/{c.id}/edit",
        data=form(name="New Name", email="new@example.com", optional_updates=None),
    )
    assert response.status_code == 302
    _db.session.expire_all()
    assert (c.name, c.email, c.optional_updates) == ("New Name", "new@example.com", False)
    action = db.session.scalar(sa.select(CandidateAction))
    assert action.action == "preferences_changed" and action.actor_id == riley.id


def test_edit_may_keep_its_own_email(db, web):
    riley = f.user()
    c = f.candidate(email="same@example.com")
    c.owner_id = riley.id
    response = sign_in(web, riley).post(
        f"/candidates/{c.id}/edit", data=form(email="SAME@example.com")
    )
    assert response.status_code == 302


# -- list and search ----------------------------------------------------------------------


def _mine(owner, **kwargs):
    c = f.candidate(**kwargs)
    c.owner_id = owner.id
    return c


def test_search_by_name_email_and_phone(db, web):
    riley = f.user()
    _mine(riley, name="Amelia Hart", email="amelia@example.com", phone="+44 7700 900123")
    _mine(riley, name="Bruno Diaz", email="bruno@sample.org", phone="+1 212 555 0100")
    sign_in(web, riley)
    for query, found, missing in [
        ("amel", "Amelia Hart", "Bruno Diaz"),
        ("SAMPLE.org", "Bruno Diaz", "Amelia Hart"),
        ("07700 900123", "Amelia Hart", "Bruno Diaz"),
        ("555 0100", "Bruno Diaz", "Amelia Hart"),
    ]:
        page = text(web.get("/candidates", query_string={"q": query}))
        assert found in page and missing not in page, query
    page = text(web.get("/candidates", query_string={"q": "zzz"}))
    assert "No candidate matches" in page


def test_list_pages_through_candidates(db, web):
    riley = f.user()
    for i in range(30):
        _mine(riley, name=f"Person {i:02d}")
    sign_in(web, riley)
    first = text(web.get("/candidates"))
    second = text(web.get("/candidates?page=2"))
    assert "Person 00" in first and "Person 24" in first and "Person 25" not in first
    assert "Person 25" in second and "Person 29" in second and "Person 00" not in second
    assert "30 candidates" in first and "Page 1 of 2" in first


def test_recruiters_see_their_own_and_their_positions_candidates_managers_see_all(
    db, web, make_app
):
    riley, sofia, marcus = f.user(), f.user(), f.user("manager")
    own = _mine(riley, name="Riley Own")
    in_position = f.candidate(name="In Rileys Position")
    f.application(candidate_=in_position, position_=f.position(owner=riley))
    other = _mine(sofia, name="Sofia Only")
    page = text(sign_in(web, riley).get("/candidates"))
    assert "Riley Own" in page and "In Rileys Position" in page and "Sofia Only" not in page
    assert web.get(f"/candidates/{other.id}").status_code == 404
    assert web.get(f"/candidates/{other.id}/edit").status_code == 404
    assert web.post(f"/candidates/{other.id}/edit", data=form()).status_code == 404
    assert web.post(f"/candidates/{other.id}/contacts", data={}).status_code == 404
    assert web.get(f"/candidates/{own.id}").status_code == 200

    manager = sign_in(Web(make_app().test_client()), marcus)
    page = text(manager.get("/candidates"))
    assert "Riley Own" in page and "Sofia Only" in page
    assert manager.get(f"/candidates/{other.id}").status_code == 200


def test_anonymous_users_go_to_login(web):
    for path in ("/candidates", "/candidates/new", "/candidates/1", "/queue"):
        response = web.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_csrf_is_required(db, make_app):
    csrf_web = Web(make_app(WTF_CSRF_ENABLED=True).test_client())
    riley = f.user()
    _db.session.commit()
    login_page = text(csrf_web.get("/login"))
    token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    csrf_web.post("/login", data={"email": riley.email, "password": PASSWORD, "csrf_token": token})
    response = csrf_web.post("/candidates/new", data=form())
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 0


# -- add to a position --------------------------------------------------------------------


def test_add_to_position_lists_only_open_visible_positions_and_adds(db, web):
    riley, sofia = f.user(), f.user()
    c = _mine(riley, name="Amelia Hart")
    mine = f.position(owner=riley, title="Data Engineer")
    f.position(owner=sofia, title="Secret Role")
    closed = f.position(owner=riley, title="Closed Role")
    closed.status = PositionStatus.CANCELLED.value
    sign_in(web, riley)
    page = text(web.get(f"/candidates/{c.id}"))
    assert "Data Engineer" in page and "Secret Role" not in page and "Closed Role" not in page

    response = web.post(f"/candidates/{c.id}/applications", data={"position_id": mine.id})
    assert response.status_code == 302
    application = db.session.scalar(sa.select(Application).where(Application.candidate_id == c.id))
    assert application.position_id == mine.id and application.stage == Stage.SOURCED
    page = text(web.get(f"/candidates/{c.id}"))
    assert "added to Data Engineer" in page
    assert "Added to the pipeline at" in page  # the stage event on the timeline


def test_add_to_position_errors_are_shown_on_the_form(db, web):
    riley, sofia = f.user(), f.user()
    c = _mine(riley)
    theirs = f.position(owner=sofia)
    sign_in(web, riley)
    response = web.post(f"/candidates/{c.id}/applications", data={"position_id": theirs.id})
    assert response.status_code == 400 and "Not a valid choice" in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Application)) == 0


def test_pipeline_error_is_shown_as_a_form_error(db, web, monkeypatch):
    """A position that closes between showing the form and submitting it."""
    riley = f.user()
    c = _mine(riley)
    position = f.position(owner=riley, title="Racing Role")
    pid = position.id
    sign_in(web, riley)
    from app.candidates import queries

    # The form was shown while the position was open.
    monkeypatch.setattr(queries, "addable_positions", lambda user, cand: [(pid, "Racing Role")])
    position.status = PositionStatus.ON_HOLD.value
    response = web.post(f"/candidates/{c.id}/applications", data={"position_id": pid})
    assert response.status_code == 400
    assert "Racing Role is on hold." in text(response)


def test_two_requests_giving_out_one_address_at_once_get_one_refused(db):
    """The check finds no one; before our commit another request takes the address. The
    database's unique index refuses ours, and the user is told who has it."""
    from app.candidates.services import DuplicateEmail, save_candidate

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes its write lock at the first statement: no request slips in")
    recruiter = f.user("recruiter")
    db.session.commit()
    taken = {}

    def other_request_commits_first(session, flush_context, instances):
        if not taken:
            with db.engine.begin() as conn:
                taken["id"] = conn.execute(
                    sa.insert(Candidate)
                    .values(name="Quick Quinn", email="QUINN@example.test", token_secret="x")
                    .returning(Candidate.id)
                ).scalar_one()

    sa.event.listen(db.session, "before_flush", other_request_commits_first)
    try:
        data = {
            "name": "Slow Sam",
            "email": "quinn@example.test",
            "phone": "",
            "timezone": "Europe/London",
            "optional_updates": True,
        }
        with pytest.raises(DuplicateEmail) as refused:
            save_candidate(None, actor=recruiter, data=data)
    finally:
        sa.event.remove(db.session, "before_flush", other_request_commits_first)
    assert refused.value.existing.id == taken["id"]
    # The exception names nobody: who may learn the name depends on who asks.
    assert str(refused.value) == "Another candidate already has this email address."
    names = db.session.scalars(sa.select(Candidate.name)).all()
    assert names == ["Quick Quinn"]
