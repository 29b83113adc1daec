"""`flask seed`: realistic demo data, created once, moved only through the services."""

from __future__ import annotations

import time

import pytest
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


def test_demo_data_is_realistic(worlds):
    worlds.load("seed_demo", seed_demo)
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


def test_outbox_holds_what_the_changes_owe(worlds):
    worlds.load("seed_demo", seed_demo)
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


def test_demo_users_can_log_in(worlds, make_app):
    worlds.load("seed_demo", seed_demo)
    db.session.commit()
    for name, email, _role in DEMO_USERS:
        web = make_app().test_client()
        response = web.post("/login", data={"email": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, email
        assert name in web.get("/").get_data(as_text=True)


@pytest.mark.app_config(QUIET_HOURS_ENFORCED=False, UNDO_WINDOW_SECONDS=20)
def test_the_seeded_history_is_delivered_to_the_mailbox_at_any_hour(app):
    """Issue 16.8: `make run` seeds with --deliver-history; at 21:41 London time nothing of
    the demo's past is left pending (quiet hours off, as make run sets them)."""
    from datetime import UTC, datetime

    from app import clock
    from app.models import MailboxMessage
    from app.models.notifications import WAITING
    from app.seed import deliver_history

    with clock.frozen(datetime(2026, 12, 2, 21, 41, tzinfo=UTC)):
        assert seed_demo() is True
        sent = deliver_history()
    waiting = sa.select(sa.func.count()).where(Notification.state.in_(WAITING))
    assert sent > 0 and db.session.scalar(waiting) == 0
    in_mailbox = sa.select(sa.func.count()).select_from(MailboxMessage)
    assert 0 < db.session.scalar(in_mailbox) <= sent  # a digest carries several in one


def test_the_mailbox_page_says_which_timing_is_in_force(app, make_app):
    from tests import factories as f
    from tests.web import Web, sign_in

    demo = make_app(DEV_MAILBOX_ENABLED=True, QUIET_HOURS_ENFORCED=False, UNDO_WINDOW_SECONDS=20)
    admin = f.user("admin")
    page = sign_in(Web(demo.test_client()), admin).get("/dev/mailbox/").get_data(as_text=True)
    assert "Demo timing:" in page and "within seconds, at any hour" in page
    assert "20 seconds undo window" in page
    production = make_app(DEV_MAILBOX_ENABLED=True, QUIET_HOURS_ENFORCED=True)
    page = sign_in(Web(production.test_client()), admin).get("/dev/mailbox/").get_data(as_text=True)
    assert "Production timing:" in page and "30 minutes undo window" in page
    assert "21:00–08:00" in page


def _analyzed_since(table: str, since) -> bool:
    last = db.session.scalar(
        sa.text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = :t"), {"t": table}
    )
    return last is not None and last >= since


def test_seeded_tables_have_statistics_before_the_first_page(app):
    """The planner must know the seeded rows at once: autovacuum may be off or late."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    since = db.session.scalar(sa.text("SELECT now()"))
    db.session.commit()
    assert seed_demo() is True
    tables = ("applications", "notifications", "candidates")
    for _ in range(50):  # the statistics view shows it once the ANALYZE's backend reports
        db.session.commit()
        if all(_analyzed_since(t, since) for t in tables):
            break
        time.sleep(0.1)
    assert all(_analyzed_since(t, since) for t in tables)
