"""Signing in and out, roles, open redirects and CSRF."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask_login import login_required

from app.auth.decorators import role_required
from app.auth.routes import GENERIC_LOGIN_ERROR, safe_next_url
from app.config import load as load_config
from app.extensions import db
from app.models import User
from tests import factories

PASSWORD = "correct horse"


@pytest.fixture
def web(app, make_app):
    """A client of a second app: each request gets its own app context, as in production.

    (The `client` fixture's requests share the test's app context, so `g`, and with it
    Flask-Login's cached user, would carry over from one request to the next.)
    """
    return make_app().test_client()


def login(client, email, password=PASSWORD, **kwargs):
    return client.post("/login", data={"email": email, "password": password}, **kwargs)


def committed_user(role="recruiter", **kwargs) -> str:
    """A user other apps and threads can see; returns the email."""
    user = factories.user(role, **kwargs)
    email = user.email
    db.session.commit()
    return email


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_login_page_renders(web):
    response = web.get("/login")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Sign in" in page
    assert 'name="password"' in page


def test_login_and_logout(web):
    email = committed_user(name="Robin Example")
    response = login(web, email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/queue"  # recruiters land on their queue
    dashboard = web.get("/")
    assert dashboard.status_code == 200
    assert "Robin Example" in dashboard.get_data(as_text=True)

    response = web.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "You have been signed out." in web.get("/login").get_data(as_text=True)
    assert web.get("/").status_code == 302


def test_logout_is_post_only(web):
    committed_user()
    assert web.get("/logout").status_code == 405


def test_wrong_password_and_unknown_email_look_identical(web):
    email = committed_user()
    wrong_password = login(web, email, "not the password")
    unknown_email = login(web, "nobody@agency.test", PASSWORD)
    assert wrong_password.status_code == unknown_email.status_code == 200
    a = wrong_password.get_data(as_text=True).replace(email, "EMAIL")
    b = unknown_email.get_data(as_text=True).replace("nobody@agency.test", "EMAIL")
    assert a == b
    assert str(GENERIC_LOGIN_ERROR) in a
    assert web.get("/").status_code == 302


def test_production_hashes_passwords_with_scrypt(app, make_app):
    """The suite hashes with a cheap method (tests/conftest.py); what runs in production
    keeps Werkzeug's scrypt at its full cost, and signing in works against it."""
    production_method = load_config(app.instance_path)["PASSWORD_HASH_METHOD"]
    assert production_method == "scrypt:32768:8:1"
    assert app.config["PASSWORD_HASH_METHOD"] != production_method  # the cheap one
    production = make_app(PASSWORD_HASH_METHOD=production_method)
    with production.app_context():
        email = committed_user()
        stored = db.session.scalar(sa.select(User.password_hash).where(User.email == email))
    assert stored.startswith("scrypt:32768:8:1$")
    web = production.test_client()
    assert str(GENERIC_LOGIN_ERROR) in login(web, email, "not the password").get_data(as_text=True)
    assert str(GENERIC_LOGIN_ERROR) in login(web, "nobody@agency.test").get_data(as_text=True)
    assert login(web, email).status_code == 302
    # A hash made under another setting still verifies: the method is stored with it.
    assert login(make_app().test_client(), email).status_code == 302


@pytest.mark.parametrize(
    "data",
    [{"email": "", "password": ""}, {"email": "x@agency.test"}, {"password": "something"}],
)
def test_incomplete_form_gets_the_generic_message(web, data):
    response = web.post("/login", data=data)
    assert response.status_code == 200
    assert str(GENERIC_LOGIN_ERROR) in response.get_data(as_text=True)


def test_inactive_user_cannot_log_in(web):
    email = committed_user(active=False)
    response = login(web, email)
    assert response.status_code == 200
    assert str(GENERIC_LOGIN_ERROR) in response.get_data(as_text=True)
    assert web.get("/").status_code == 302


def test_deactivated_user_is_signed_out_on_next_request(web):
    email = committed_user()
    assert login(web, email).status_code == 302
    assert web.get("/").status_code == 200
    db.session.execute(sa.update(User).where(User.email == email).values(active=False))
    db.session.commit()
    response = web.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    "typed", ["mixed.case@agency.test", "MIXED.CASE@AGENCY.TEST", " Mixed.Case@Agency.test "]
)
def test_email_is_case_insensitive(web, typed):
    committed_user(email="Mixed.Case@Agency.test")
    assert login(web, typed).status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "//evil.test",
        "//evil.test/path",
        "https://evil.test/",
        "http:evil.test",
        "/\\evil.test",
        "\\\\evil.test",
        "/\tevil",
        "javascript:alert(1)",
        "evil.test",
    ],
)
def test_next_refuses_other_sites(web, target):
    email = committed_user()
    response = web.post(
        "/login", query_string={"next": target}, data={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/queue"  # recruiters land on their queue
    assert safe_next_url(target) is None


def test_managers_land_on_the_dashboard(web):
    response = login(web, committed_user("manager"))
    assert response.headers["Location"] == "/"


def test_next_follows_paths_on_this_site(web):
    email = committed_user()
    response = web.post(
        "/login",
        query_string={"next": "/candidates?q=amelia"},
        data={"email": email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/candidates?q=amelia"


def test_login_form_drops_a_foreign_next(web):
    page = web.get("/login?next=//evil.test").get_data(as_text=True)
    assert "evil.test" not in page


def test_protected_pages_send_anonymous_users_to_login(web):
    for path in ("/", "/queue", "/templates"):
        response = web.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path


def test_signed_in_user_visiting_login_goes_to_dashboard(web):
    login(web, committed_user())
    response = web.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/queue"  # recruiters land on their queue


def test_another_client_is_not_signed_in(web, make_app):
    login(web, committed_user())
    assert web.get("/").status_code == 200
    assert make_app().test_client().get("/").status_code == 302


def test_session_from_another_browser_is_dropped(web):
    # Strong session protection: a stolen cookie replayed with another user agent is void.
    login(web, committed_user())
    assert web.get("/").status_code == 200
    assert web.get("/", headers={"User-Agent": "curl/8.0"}).status_code == 302


class TestCsrf:
    @pytest.fixture
    def csrf_client(self, app, make_app):
        return make_app(WTF_CSRF_ENABLED=True).test_client()

    def test_login_without_token_is_rejected(self, csrf_client):
        email = committed_user()
        response = login(csrf_client, email)
        assert response.status_code == 400
        assert "This form has expired" in response.get_data(as_text=True)
        assert csrf_client.get("/").status_code == 302

    def test_login_with_token_from_page_succeeds(self, csrf_client):
        email = committed_user()
        token = csrf_token(csrf_client.get("/login").get_data(as_text=True))
        response = csrf_client.post(
            "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302
        assert csrf_client.get("/").status_code == 200

    def test_logout_needs_the_token(self, csrf_client):
        email = committed_user()
        token = csrf_token(csrf_client.get("/login").get_data(as_text=True))
        csrf_client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})

        assert csrf_client.post("/logout").status_code == 400
        assert csrf_client.get("/").status_code == 200  # still signed in

        token = csrf_token(csrf_client.get("/").get_data(as_text=True))
        response = csrf_client.post("/logout", data={"csrf_token": token})
        assert response.status_code == 302
        assert csrf_client.get("/").status_code == 302


class TestRoleRequired:
    @pytest.fixture
    def role_app(self, app, make_app):
        role_app = make_app(fresh=True)  # routes of its own: not an app other tests share

        @role_app.route("/_test/managers-only")
        @role_required("manager")
        def managers_only():
            return "managers welcome"

        @role_app.route("/_test/admins-only")
        @login_required
        @role_required("admin")
        def admins_only():
            return "admins welcome"

        return role_app

    @pytest.mark.parametrize(
        ("role", "managers", "admins"),
        [("recruiter", 403, 403), ("manager", 200, 403), ("admin", 200, 200)],
    )
    def test_ranked_roles(self, role_app, role, managers, admins):
        email = committed_user(role)
        client = role_app.test_client()
        assert login(client, email).status_code == 302
        assert client.get("/_test/managers-only").status_code == managers
        assert client.get("/_test/admins-only").status_code == admins

    def test_forbidden_page_explains_the_role(self, role_app):
        client = role_app.test_client()
        login(client, committed_user("recruiter"))
        page = client.get("/_test/managers-only").get_data(as_text=True)
        assert "have access" in page
        assert "role" in page

    def test_anonymous_goes_to_login(self, role_app):
        response = role_app.test_client().get("/_test/managers-only")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")

    def test_unknown_role_fails_at_decoration(self):
        with pytest.raises(ValueError):
            role_required("superuser")
