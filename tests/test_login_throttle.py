"""Sign-in throttling: the probe got in after 50 wrong passwords in 14 seconds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import clock
from app.auth.routes import GENERIC_LOGIN_ERROR
from tests import factories as f
from tests.web import Web

PASSWORD = "correct horse"


@pytest.fixture
def web(client):
    return Web(client)


def attempt(web, email, password="wrong guess", address="203.0.113.7"):
    return web.post(
        "/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def throttled(response) -> bool:
    page = response.get_data(as_text=True)
    return response.status_code == 429 and "Too many sign-in attempts" in page


def test_an_account_is_throttled_after_repeated_failures(db, web, app):
    email = f.user().email
    db.session.commit()
    limit = app.config["LOGIN_FAILURES_PER_ACCOUNT"]
    for _ in range(limit):
        page = attempt(web, email).get_data(as_text=True)
        assert str(GENERIC_LOGIN_ERROR) in page
    refused = attempt(web, email, PASSWORD)  # even the right password, now
    assert throttled(refused)
    window = app.config["LOGIN_THROTTLE_WINDOW_SECONDS"]
    assert 0 < int(refused.headers["Retry-After"]) <= window
    assert "Try again in" in refused.get_data(as_text=True)
    assert web.get("/").status_code == 302  # not signed in


def test_the_account_limit_holds_across_addresses(db, web, app):
    email = f.user().email
    db.session.commit()
    for n in range(app.config["LOGIN_FAILURES_PER_ACCOUNT"]):
        attempt(web, email, address=f"198.51.100.{n}")
    assert throttled(attempt(web, email, PASSWORD, address="192.0.2.200"))


def test_unknown_accounts_are_throttled_the_same_way(db, web, app):
    for _ in range(app.config["LOGIN_FAILURES_PER_ACCOUNT"]):
        attempt(web, "nobody@agency.test")
    assert throttled(attempt(web, "NOBODY@agency.test "))


@pytest.mark.app_config(LOGIN_FAILURES_PER_ADDRESS=5)
def test_spraying_from_one_address_is_throttled_and_a_success_does_not_reset_it(db, web):
    mine = f.user(email="attacker@agency.test").email
    victims = [f.user().email for _ in range(6)]
    db.session.commit()
    for email in victims[:4]:
        assert not throttled(attempt(web, email))
    # Signing in to their own account does not wipe the address's failures.
    assert attempt(web, mine, PASSWORD).status_code == 302
    web.post("/logout")
    assert not throttled(attempt(web, victims[4]))  # the fifth failure: at the limit
    assert throttled(attempt(web, victims[5]))
    # Another address is not affected.
    assert attempt(web, victims[5], PASSWORD, address="192.0.2.99").status_code == 302


def test_a_success_clears_the_accounts_own_failures(db, web, app):
    email = f.user().email
    db.session.commit()
    limit = app.config["LOGIN_FAILURES_PER_ACCOUNT"]
    for _ in range(limit - 1):
        attempt(web, email)
    assert attempt(web, email, PASSWORD).status_code == 302
    web.post("/logout")
    for _ in range(limit - 1):
        assert not throttled(attempt(web, email))


def test_the_throttle_lifts_when_the_window_ends(db, web, app):
    email = f.user().email
    db.session.commit()
    for _ in range(app.config["LOGIN_FAILURES_PER_ACCOUNT"]):
        attempt(web, email)
    assert throttled(attempt(web, email, PASSWORD))
    later = clock.now() + timedelta(seconds=app.config["LOGIN_THROTTLE_WINDOW_SECONDS"])
    with clock.frozen(later):
        assert attempt(web, email, PASSWORD).status_code == 302
