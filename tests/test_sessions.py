"""Sessions end when they should: the probe's copied session cookie kept working after logout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_login import login_user
from flask_login.utils import encode_cookie

from app import clock
from app.cli import users_cli
from app.extensions import db
from app.models import User
from tests import factories as f
from tests.web import Web, sign_in


@pytest.fixture
def user(db):
    u = f.user("manager")
    db.session.commit()
    return u


@pytest.fixture
def two_devices(user, make_app):
    laptop = sign_in(Web(make_app().test_client()), user)
    phone = sign_in(Web(make_app().test_client()), user)
    assert laptop.get("/").status_code == 200 and phone.get("/").status_code == 200
    return laptop, phone


def signed_out(web) -> bool:
    response = web.get("/")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_logout_ends_every_session_of_the_user(two_devices, make_app, user):
    laptop, phone = two_devices
    # A copy of the laptop's cookie, as someone could have taken it.
    stolen = Web(make_app().test_client())
    stolen.client.set_cookie("session", laptop.client.get_cookie("session").value)
    assert stolen.get("/").status_code == 200
    laptop.post("/logout")
    assert signed_out(laptop) and signed_out(phone) and signed_out(stolen)


def test_a_new_password_ends_every_session(two_devices, runner, user):
    laptop, phone = two_devices
    result = runner.invoke(
        users_cli, ["set-password", user.email], input="a brand new one\na brand new one\n"
    )
    assert result.exit_code == 0, result.output
    assert "their sessions have ended" in result.output
    assert signed_out(laptop) and signed_out(phone)
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password("a brand new one")


def test_deactivation_ends_every_session(two_devices, runner, user):
    laptop, phone = two_devices
    assert runner.invoke(users_cli, ["deactivate", user.email]).exit_code == 0
    assert signed_out(laptop) and signed_out(phone)


def test_a_session_ends_after_its_absolute_lifetime_however_busy(user, make_app, app):
    web = sign_in(Web(make_app().test_client()), user)
    hours = app.config["SESSION_MAX_AGE_HOURS"]
    start = clock.now()
    for minutes in range(0, hours * 60, 90):  # in use all day long
        with clock.frozen(start + timedelta(minutes=minutes)):
            assert web.get("/").status_code == 200, minutes
    with clock.frozen(start + timedelta(hours=hours, minutes=1)):
        assert signed_out(web)


def test_a_remember_me_cookie_honours_the_session_version(user, app, make_app):
    with app.test_request_context():
        login_user(user, remember=True)
        from flask import session

        remembered = encode_cookie(session["_user_id"])
    web = Web(make_app().test_client())
    web.client.set_cookie("remember_token", remembered)
    assert web.get("/").status_code == 200  # the cookie alone signs in

    user.end_sessions()
    db.session.commit()
    fresh = Web(make_app().test_client())
    fresh.client.set_cookie("remember_token", remembered)
    assert signed_out(fresh)


def test_a_session_from_before_versions_asks_to_sign_in_again(user, make_app):
    web = Web(make_app().test_client())
    with web.client.session_transaction() as session:
        session["_user_id"] = str(user.id)  # what sessions held before this change
        session["_fresh"] = True
    assert signed_out(web)
