"""Clients and positions: lists, search, create, edit, validation and who may see what."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.models import Client, Position
from tests import factories as f
from tests.web import Web, sign_in

PASSWORD = "correct horse"


@pytest.fixture
def web(client):
    return Web(client)


def text(response) -> str:
    return response.get_data(as_text=True)


# -- clients --------------------------------------------------------------------------------


def test_client_list_searches_by_name(web):
    f.client("Acme Robotics")
    f.client("Globex")
    sign_in(web, f.user())
    page = text(web.get("/clients?q=acme"))
    assert "Acme Robotics" in page and "Globex" not in page
    assert "No client matches" in text(web.get("/clients?q=zzz"))


def test_create_client_then_edit_it(web, db):
    sign_in(web, f.user())
    response = web.post(
        "/clients/new",
        data={"name": " Initech ", "contact_name": "Bill", "contact_email": "bill@initech.test"},
    )
    assert response.status_code == 302
    client = db.session.scalar(sa.select(Client).where(Client.name == "Initech"))
    assert client.contact_email == "bill@initech.test"
    assert "Bill" in text(web.get(response.headers["Location"]))

    response = web.post(
        f"/clients/{client.id}/edit",
        data={"name": "Initech Ltd", "contact_name": "", "notes": "VIP"},
    )
    assert response.status_code == 302
    db.session.refresh(client)
    assert (client.name, client.notes, client.contact_name) == ("Initech Ltd", "VIP", None)


def test_client_name_must_be_unique_whatever_the_case(web, db):
    f.client("Acme")
    sign_in(web, f.user())
    response = web.post("/clients/new", data={"name": "ACME", "contact_name": "Typed by me"})
    page = text(response)
    assert response.status_code == 200
    assert "A client with this name already exists." in page
    assert 'value="Typed by me"' in page  # what the user typed is kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Client)) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "Ok", "contact_email": "not-an-email"}, "Enter a valid email address"),
    ],
)
def test_client_form_validation(web, data, message):
    sign_in(web, f.user())
    response = web.post("/clients/new", data=data)
    assert response.status_code == 200 and message in text(response)


def test_client_page_lists_only_positions_the_user_may_see(web):
    acme = f.client("Acme")
    me, other = f.user(), f.user()
    f.position(owner=me, client_=acme, title="Mine")
    f.position(owner=other, client_=acme, title="Theirs")
    sign_in(web, me)
    page = text(web.get(f"/clients/{acme.id}"))
    assert "Mine" in page and "Theirs" not in page


# -- positions ------------------------------------------------------------------------------


def test_recruiter_creates_a_position_they_own(web, db):
    me, other = f.user(), f.user()
    acme = f.client("Acme")
    sign_in(web, me)
    # Even a forged owner field cannot hand the position to someone else.
    response = web.post(
        "/positions/new",
        data={
            "client_id": acme.id,
            "title": "Data Engineer",
            "location": "York",
            "owner_id": other.id,
        },
    )
    assert response.status_code == 200 and "Not a valid choice" in text(response)
    response = web.post(
        "/positions/new",
        data={
            "client_id": acme.id,
            "title": "Data Engineer",
            "location": "York",
            "owner_id": me.id,
        },
    )
    position = db.session.scalar(sa.select(Position).where(Position.title == "Data Engineer"))
    assert response.headers["Location"] == f"/positions/{position.id}"
    assert (position.owner_id, position.location, position.status) == (me.id, "York", "open")


def test_new_position_form_defaults_to_the_current_user(web):
    me = f.user(name="Rita Recruiter")
    f.user(name="Other Person")
    sign_in(web, me)
    page = text(web.get("/positions/new"))
    assert f'<option selected value="{me.id}">Rita Recruiter</option>' in page
    assert "Other Person" not in page


def test_manager_may_assign_any_active_recruiter(web, db):
    manager = f.user("manager")
    sofia = f.user(name="Sofia")
    f.user(name="Gone", active=False)
    acme = f.client()
    sign_in(web, manager)
    page = text(web.get("/positions/new"))
    assert "Sofia" in page and "Gone" not in page
    web.post("/positions/new", data={"client_id": acme.id, "title": "QA", "owner_id": sofia.id})
    assert db.session.scalar(sa.select(Position.owner_id).where(Position.title == "QA")) == sofia.id


def test_position_validation_keeps_input(web):
    sign_in(web, f.user())
    response = web.post("/positions/new", data={"client_id": 0, "title": "Typed title"})
    page = text(response)
    assert "Choose a client." in page and 'value="Typed title"' in page


def test_edit_position(web, db):
    me = f.user()
    position = f.position(owner=me)
    sign_in(web, me)
    response = web.post(
        f"/positions/{position.id}/edit",
        data={
            "client_id": position.client_id,
            "title": "Staff Engineer",
            "location": "",
            "owner_id": me.id,
        },
    )
    assert response.status_code == 302
    db.session.refresh(position)
    assert position.title == "Staff Engineer" and position.location is None


def test_positions_search_and_status_filter(web):
    me = f.user()
    acme, globex = f.client("Acme"), f.client("Globex")
    f.position(owner=me, client_=acme, title="Welder")
    held = f.position(owner=me, client_=globex, title="Painter")
    held.status = "on_hold"
    sign_in(web, me)
    assert "Painter" in text(web.get("/positions?q=globex"))
    assert "Welder" not in text(web.get("/positions?q=globex"))
    assert "Welder" in text(web.get("/positions?q=leeds"))  # location
    page = text(web.get("/positions?status=on_hold"))
    assert "Painter" in page and "Welder" not in page


def test_recruiter_sees_only_their_positions_and_others_are_404(web):
    me, other = f.user(), f.user()
    mine = f.position(owner=me, title="Mine")
    theirs = f.position(owner=other, title="Theirs")
    sign_in(web, me)
    page = text(web.get("/positions"))
    assert "Mine" in page and "Theirs" not in page
    assert web.get(f"/positions/{theirs.id}").status_code == 404
    assert web.get(f"/positions/{theirs.id}/edit").status_code == 404
    assert web.get(f"/positions/{mine.id}").status_code == 200


def test_manager_sees_all_positions(web):
    f.position(title="Alpha")
    beta = f.position(title="Beta")
    sign_in(web, f.user("manager"))
    page = text(web.get("/positions"))
    assert "Alpha" in page and "Beta" in page
    assert web.get(f"/positions/{beta.id}").status_code == 200


@pytest.mark.parametrize(
    "url", ["/clients", "/clients/new", "/positions", "/positions/new", "/positions/1"]
)
def test_anonymous_is_sent_to_login(web, url):
    response = web.get(url)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_navbar_has_positions_and_clients(web):
    sign_in(web, f.user())
    page = text(web.get("/positions"))
    assert 'href="/positions"' in page and 'href="/clients"' in page


def test_forms_need_a_csrf_token(make_app, app):
    me = f.user()
    f.client("Acme")
    web = Web(make_app(WTF_CSRF_ENABLED=True).test_client())
    page = text(web.get("/login"))
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    web.post("/login", data={"email": me.email, "password": PASSWORD, "csrf_token": token})
    response = web.post("/clients/new", data={"name": "NoToken"})
    assert response.status_code == 400


# -- the services the pages call (and an API will) -----------------------------------------


def test_client_service_saves_and_refuses_with_the_field_at_fault(db):
    from app.positions import services

    acme = services.save_client(None, name="  Acme  ", contact_email="ops@acme.example")
    db.session.expire_all()
    assert db.session.get(Client, acme.id).name == "Acme"  # committed, trimmed
    for kwargs, field in (
        ({"name": "ACME"}, "name"),  # taken, whatever the case
        ({"name": " "}, "name"),
        ({"name": "x" * 201}, "name"),  # longer than the column, on any database
        ({"name": "Globex", "contact_email": "a@" + "b" * 320}, "contact_email"),
    ):
        with pytest.raises(services.Refused) as refused:
            services.save_client(None, **kwargs)
        assert refused.value.field == field, kwargs
        db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Client)) == 1
    # Renaming to its own name in another case is not a clash with itself.
    services.save_client(acme, name="ACME", notes="Key account")
    db.session.expire_all()
    assert (db.session.get(Client, acme.id).name, acme.notes) == ("ACME", "Key account")


def test_position_service_enforces_who_may_own_a_position(db):
    from app.positions import services

    rita, sofia, manager = f.user(name="Rita"), f.user(name="Sofia"), f.user("manager")
    gone = f.user(name="Gone", active=False)
    acme = f.client("Acme")
    db.session.commit()
    mine = services.save_position(None, actor=rita, client_id=acme.id, title=" Data Engineer ")
    db.session.expire_all()
    mine = db.session.get(Position, mine.id)
    assert (mine.title, mine.owner_id, mine.status, mine.location) == (
        "Data Engineer",
        rita.id,
        "open",
        None,
    )
    refusals = (
        (rita, {"owner_id": sofia.id}, "owner_id"),  # a recruiter's positions are their own
        (manager, {"owner_id": gone.id}, "owner_id"),  # nobody inactive
        (manager, {"client_id": 987654}, "client_id"),
        (manager, {"client_id": None}, "client_id"),
        (manager, {"title": ""}, "title"),
        (manager, {"location": "L" * 201}, "location"),
    )
    for actor, change, field in refusals:
        data = {"client_id": acme.id, "title": "QA", "owner_id": sofia.id} | change
        with pytest.raises(services.Refused) as refused:
            services.save_position(None, actor=actor, **data)
        assert refused.value.field == field, change
        db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Position)) == 1
    handed = services.save_position(
        mine, actor=manager, client_id=acme.id, title="Data Engineer", owner_id=sofia.id
    )
    assert db.session.get(Position, handed.id).owner_id == sofia.id
    # An owner who has left stays a valid choice for the positions still theirs.
    rita.active = False
    kept = f.position(owner=rita)
    assert rita.id in services.owner_choices(manager, kept)
    assert rita.id not in services.owner_choices(manager)
