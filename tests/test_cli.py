"""`flask users …` through the CLI runner, against the real database."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import User


def _user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.lower()))


def create(runner, *extra, email="pat@agency.test", role="recruiter", name="Pat Doe", **kwargs):
    args = ["users", "create", "--name", name, "--email", email, "--role", role, *extra]
    return runner.invoke(args=args, **kwargs)


def test_create_with_password_option(runner):
    result = create(runner, "--password", "long enough secret", role="manager")
    assert result.exit_code == 0, result.output
    assert "Created manager Pat Doe <pat@agency.test>" in result.output
    user = _user("pat@agency.test")
    assert user.role == "manager"
    assert user.active is True
    assert user.check_password("long enough secret")
    assert "long enough secret" not in user.password_hash


def test_create_prompts_for_password_twice(runner):
    result = create(runner, input="prompted secret\nprompted secret\n")
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert "prompted secret" not in result.output  # hidden input
    assert _user("pat@agency.test").check_password("prompted secret")


def test_create_refuses_mismatched_confirmation(runner):
    result = create(runner, input="first secret\nsecond secret\n")
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert _user("pat@agency.test") is None


def test_create_refuses_duplicate_email_case_insensitively(runner):
    assert create(runner, "--password", "long enough secret").exit_code == 0
    result = create(runner, "--password", "another secret", email="PAT@Agency.TEST", name="Other")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_create_validates_email(runner):
    result = create(runner, "--password", "long enough secret", email="not-an-email")
    assert result.exit_code == 2
    assert "--email" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_create_normalizes_the_domain(runner):
    assert (
        create(runner, "--password", "long enough secret", email="Pat@AGENCY.test").exit_code == 0
    )
    assert _user("pat@agency.test").email == "Pat@agency.test"


def test_create_rejects_unknown_role_and_short_password(runner):
    assert create(runner, "--password", "long enough secret", role="owner").exit_code == 2
    result = create(runner, "--password", "short")
    assert result.exit_code == 2
    assert "at least 8 characters" in result.output
    assert _user("pat@agency.test") is None


def test_list_users(runner):
    assert runner.invoke(args=["users", "list"]).output.startswith("No users yet")
    create(runner, "--password", "long enough secret")
    create(runner, "--password", "long enough secret", email="ada@agency.test", name="Ada Ng",
           role="admin")  # fmt: skip
    runner.invoke(args=["users", "deactivate", "ada@agency.test"])
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "NAME", "EMAIL", "ROLE", "STATUS"]
    assert "pat@agency.test" in lines[1] and "recruiter" in lines[1] and "active" in lines[1]
    assert "ada@agency.test" in lines[2] and "admin" in lines[2] and "deactivated" in lines[2]


def test_deactivate(runner, make_app):
    create(runner, "--password", "long enough secret")
    result = runner.invoke(args=["users", "deactivate", "PAT@agency.test"])
    assert result.exit_code == 0, result.output
    assert "Deactivated Pat Doe" in result.output
    assert _user("pat@agency.test").active is False
    db.session.commit()

    web = make_app().test_client()
    response = web.post(
        "/login", data={"email": "pat@agency.test", "password": "long enough secret"}
    )
    assert response.status_code == 200
    assert "Invalid email or password." in response.get_data(as_text=True)

    again = runner.invoke(args=["users", "deactivate", "pat@agency.test"])
    assert again.exit_code == 0
    assert "already deactivated" in again.output


def test_deactivate_unknown_email(runner):
    result = runner.invoke(args=["users", "deactivate", "ghost@agency.test"])
    assert result.exit_code == 1
    assert "No user with email ghost@agency.test" in result.output
