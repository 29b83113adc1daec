"""Staff accounts in the browser (issue 16.2): everyone's profile, the admins' user
management, and the recruiter's phone reaching their candidates' emails."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.models import AuditEntry, DigestSetting, Role, Stage, User
from app.notifications.send import deliver
from app.pipeline import services as pipeline
from devtools.sendgrid_stub import SendGridStub
from tests import factories as f
from tests.web import Web, sign_in

PASSWORD = "correct horse"


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


@pytest.fixture
def second(app, make_app):
    """Another browser."""
    return Web(make_app().test_client())


def text(response) -> str:
    return response.get_data(as_text=True)


def audit_actions(db, user) -> list[tuple[str, str | None]]:
    return [
        (e.action, e.detail)
        for e in db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.target.startswith(f"user {user.id} <"))
            .order_by(AuditEntry.id)
        )
    ]


def test_a_recruiter_sets_their_phone_and_the_next_email_carries_it(db, web, app):
    riley = f.user(name="Riley Chen")
    sign_in(web, riley)
    page = text(web.get("/profile"))
    assert "My profile" in page and riley.email in page
    assert 'href="/profile/tokens"' in page  # where an ATS gets its API token
    response = web.post(
        "/profile",
        data={"name": "Riley Chen", "phone": "+44 113 496 0123", "timezone": "Europe/Paris"},
    )
    assert response.status_code == 302
    assert "next emails carry your new phone number" in text(web.get("/profile"))
    db.session.expire_all()
    riley = db.session.get(User, riley.id)
    assert (riley.phone, riley.timezone) == ("+44 113 496 0123", "Europe/Paris")
    assert audit_actions(db, riley)[-1] == ("user.profile_changed", "phone, timezone")

    a = f.application(position_=f.position(owner=riley), stage=Stage.SUBMITTED)
    db.session.commit()
    n = pipeline.move_stage(a, Stage.CLIENT_REVIEW, actor=riley)
    with SendGridStub(api_key="test-key") as stub:
        app.config.update(
            EMAIL_BACKEND="sendgrid",
            SENDGRID_API_KEY="test-key",
            SENDGRID_API_HOST=stub.url,
            SENDGRID_TIMEOUT_SECONDS=5,
        )
        assert deliver([n.id])["sent"] == 1
        (sent,) = stub.messages(n.id)
    body = str(sent)
    assert "+44 113 496 0123" in body and "Riley Chen" in body and riley.email in body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "timezone": "Europe/London"}, "Enter your name."),
        ({"name": "Riley", "timezone": "Mars/Olympus"}, "Choose a time zone from the list"),
        ({"name": "Riley", "timezone": "UTC", "phone": "1" * 51}, "characters or fewer"),
    ],
)
def test_the_profile_refuses_bad_input_and_keeps_what_was_there(db, web, data, message):
    riley = f.user(name="Riley Chen")
    sign_in(web, riley)
    response = web.post("/profile", data=data)
    assert response.status_code == 400 and message in text(response)
    db.session.expire_all()
    assert db.session.get(User, riley.id).name == "Riley Chen"


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(db, web, second):
    riley = f.user()
    sign_in(web, riley)
    sign_in(second, riley)
    wrong = web.post(
        "/profile/password",
        data={
            "current_password": "guess",
            "new_password": "n3w-passw0rd",
            "confirm": "n3w-passw0rd",
        },
    )
    assert wrong.status_code == 400 and "not your current password" in text(wrong)
    differ = web.post(
        "/profile/password",
        data={"current_password": PASSWORD, "new_password": "n3w-passw0rd", "confirm": "other"},
    )
    assert differ.status_code == 400 and "The two new passwords differ." in text(differ)
    assert second.get("/profile").status_code == 200  # nothing changed yet
    ok = web.post(
        "/profile/password",
        data={
            "current_password": PASSWORD,
            "new_password": "n3w-passw0rd",
            "confirm": "n3w-passw0rd",
        },
    )
    assert ok.status_code == 302
    assert web.get("/profile").status_code == 200  # this browser stays signed in
    assert "/login" in second.get("/profile").headers["Location"]  # the other one does not
    db.session.expire_all()
    assert db.session.get(User, riley.id).check_password("n3w-passw0rd")
    assert audit_actions(db, riley)[-1][0] == "user.password_set"


def test_digest_settings_on_the_profile(db, web):
    riley = f.user()
    sign_in(web, riley)
    assert web.post("/profile/digest", data={"hour": "9"}).status_code == 302
    setting = db.session.get(DigestSetting, riley.id)
    assert (setting.enabled, setting.hour) == (False, 9)
    refused = web.post("/profile/digest", data={"enabled": "y", "hour": "25"})
    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.get(DigestSetting, riley.id).hour == 9


def test_only_admins_manage_users(db, web):
    sign_in(web, f.user("manager"))
    assert web.get("/admin/users").status_code == 403
    assert web.get("/admin/users/new").status_code == 403
    assert 'href="/admin/users"' not in text(web.get("/"))


def test_an_admin_creates_deactivates_reactivates_and_changes_roles(db, web, second):
    admin = f.user("admin", name="Dana Admin")
    sign_in(web, admin)
    page = text(web.get("/admin/users"))
    assert "Dana Admin" in page and 'href="/admin/users"' in page
    response = web.post(
        "/admin/users/new",
        data={
            "name": "Nina New",
            "email": "Nina.New@Agency.test",
            "phone": "+44 20 7946 0000",
            "role": "recruiter",
            "password": "first-password",
        },
    )
    assert response.status_code == 302
    nina = db.session.scalar(sa.select(User).where(User.name == "Nina New"))
    assert (nina.email, nina.phone, nina.role, nina.active) == (
        "Nina.New@agency.test",
        "+44 20 7946 0000",
        "recruiter",
        True,
    )
    again = web.post(
        "/admin/users/new",
        data={
            "name": "N",
            "email": "nina.new@agency.test",
            "role": "recruiter",
            "password": "first-password",
        },
    )
    assert again.status_code == 400 and "already exists" in text(again)

    sign_in(second, nina, "first-password")
    assert second.get("/queue").status_code == 200
    assert web.post(f"/admin/users/{nina.id}/deactivate").status_code == 302
    assert "/login" in second.get("/queue").headers["Location"]  # signed out everywhere
    assert (
        second.post("/login", data={"email": nina.email, "password": "first-password"}).status_code
        == 200
    )  # and cannot sign in again
    assert "Deactivated" in text(web.get("/admin/users"))
    assert web.post(f"/admin/users/{nina.id}/activate").status_code == 302
    sign_in(second, nina, "first-password")
    assert web.post(f"/admin/users/{nina.id}/role", data={"role": "manager"}).status_code == 302
    assert "/login" in second.get("/queue").headers["Location"]  # the new role applies at once
    db.session.expire_all()
    assert db.session.get(User, nina.id).role == "manager"
    assert [a for a, _ in audit_actions(db, nina)] == [
        "user.created",
        "user.deactivated",
        "user.activated",
        "user.role_changed",
    ]
    refused = web.post(f"/admin/users/{nina.id}/role", data={"role": "overlord"})
    assert refused.status_code == 400 and "Choose one of the roles" in text(refused)


def test_the_last_admin_cannot_deactivate_or_demote_themselves(db, web):
    admin = f.user("admin", name="Only Admin")
    sign_in(web, admin)
    for url, data in (
        (f"/admin/users/{admin.id}/deactivate", {}),
        (f"/admin/users/{admin.id}/role", {"role": "manager"}),
    ):
        web.post(url, data=data)
        assert "without an active admin" in text(web.get("/admin/users"))
    db.session.expire_all()
    assert (db.session.get(User, admin.id).role, db.session.get(User, admin.id).active) == (
        Role.ADMIN.value,
        True,
    )
    # With a second admin, stepping down is allowed (and ends their own session).
    f.user("admin")
    assert web.post(f"/admin/users/{admin.id}/role", data={"role": "manager"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, admin.id).role == "manager"


def test_flask_users_create_takes_a_phone(db, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--name",
            "Pat Phone",
            "--email",
            "pat@agency.test",
            "--role",
            "recruiter",
            "--password",
            "long-enough",
            "--phone",
            "+44 161 496 0000",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "(+44 161 496 0000)" in result.output
    pat = db.session.scalar(sa.select(User).where(User.email == "pat@agency.test"))
    assert pat.phone == "+44 161 496 0000"
    too_long = runner.invoke(
        args=[
            "users",
            "create",
            "--name",
            "X",
            "--email",
            "x@agency.test",
            "--role",
            "recruiter",
            "--password",
            "long-enough",
            "--phone",
            "9" * 51,
        ]
    )
    assert too_long.exit_code != 0 and "--phone" in too_long.output


def test_the_profile_has_a_place_for_further_sections(db, web, app, tmp_path):
    from app import staff

    assert re.search(r"add_profile_section", staff.__doc__)
    page = text(sign_in(web, f.user()).get("/profile"))
    assert 'id="details"' in page and 'id="password"' in page and 'id="digest"' in page
