"""`flask seed`: realistic demo data, created once, moved only through the services."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    TERMINAL_STAGES,
    Application,
    Candidate,
    Client,
    Contact,
    Notification,
    NState,
    Position,
    StageEvent,
    Task,
    User,
)
from app.seed import DEMO_PASSWORD, DEMO_USERS, seed_demo

COUNTED = (User, Client, Position, Candidate, Application, StageEvent, Notification, Contact, Task)


def counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in COUNTED
    }


def test_seed_twice_creates_nothing_new(app):
    assert seed_demo() is True
    first = counts()
    assert seed_demo() is False
    assert counts() == first
    assert first["User"] == len(DEMO_USERS) == 4
    assert first["Client"] == 3
    assert first["Position"] == 5
    assert first["Candidate"] == 25


def test_seed_command(runner):
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "Demo data loaded" in result.output
    assert "manager@closeloop.test" in result.output
    again = runner.invoke(args=["seed"])
    assert again.exit_code == 0
    assert "already loaded" in again.output


def test_demo_data_is_realistic(app):
    seed_demo()
    candidates = db.session.scalars(sa.select(Candidate)).all()
    assert sum(c.email is None for c in candidates) >= 2
    assert any(not c.name.isascii() for c in candidates)
    assert {"Europe/London", "America/New_York", "Asia/Kolkata"} <= {c.timezone for c in candidates}
    stages = set(db.session.scalars(sa.select(Application.stage).distinct()))
    assert {"sourced", "submitted", "client_review", "interview", "offer"} <= stages
    assert {"hired", "rejected", "withdrawn", "position_closed"} <= stages
    roles = {role for _, _, role in DEMO_USERS}
    assert roles == {"recruiter", "manager", "admin"}
    owners = set(db.session.scalars(sa.select(Position.owner_id).distinct()))
    assert len(owners) == 2  # both recruiters own positions


def test_outbox_holds_what_the_changes_owe(app):
    seed_demo()
    states = dict(
        db.session.execute(
            sa.select(Notification.state, sa.func.count()).group_by(Notification.state)
        ).all()
    )
    assert states.get(NState.PENDING.value, 0) + states.get(NState.QUEUED.value, 0) > 0
    # The guarantee, in the demo too: every ended application owes its outcome message.
    ended = db.session.scalars(
        sa.select(Application).where(Application.stage.in_([s.value for s in TERMINAL_STAGES]))
    ).all()
    assert ended
    for application in ended:
        owed = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(
                Notification.application_id == application.id,
                Notification.app_version == application.version,
            )
        )
        assert owed == 1, application.id
    # Every stage change went through the services, which keep the history.
    moved = db.session.scalar(
        sa.select(sa.func.count()).select_from(StageEvent).where(StageEvent.from_stage.is_not(None))
    )
    assert moved > 25
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) >= 1


def test_demo_users_can_log_in(app, make_app):
    seed_demo()
    db.session.commit()
    for name, email, _role in DEMO_USERS:
        web = make_app().test_client()
        response = web.post("/login", data={"email": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, email
        assert name in web.get("/").get_data(as_text=True)
