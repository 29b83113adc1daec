"""Demo data for a laptop or a sales demo: `flask seed`.

Applications start at `sourced` and move on only through the pipeline services, so the
outbox holds exactly what a real agency's would. Running it twice creates nothing new.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app import clock
from app.bulk_sql import analyze
from app.demo_logins import DEMO_PASSWORD, DEMO_USERS, MARKER_EMAIL
from app.extensions import db
from app.models import (
    Application,
    Candidate,
    Client,
    ContactChannel,
    OutcomeReason,
    Position,
    PositionStatus,
    Stage,
    User,
)
from app.pipeline import services

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "MARKER_EMAIL", "deliver_history", "seed_demo"]

CLIENTS = [
    ("Northwind Logistics", "Hannah Cole", "hannah.cole@northwind.example.com"),
    ("Brightwave Health", "Dr. Imran Qureshi", "i.qureshi@brightwave.example.org"),
    ("Helix Analytics", "Petra Novak", "petra@helix.example.net"),
]

# key: (client, title, location, owner email)
POSITIONS = {
    "backend": (
        "Northwind Logistics",
        "Senior Backend Engineer",
        "Leeds (hybrid)",
        "recruiter@closeloop.test",
    ),
    "warehouse": (
        "Northwind Logistics",
        "Warehouse Operations Lead",
        "Manchester",
        "sofia@closeloop.test",
    ),
    "analyst": (
        "Brightwave Health",
        "Clinical Data Analyst",
        "Remote, UK",
        "recruiter@closeloop.test",
    ),
    "nurse": (
        "Brightwave Health",
        "Registered Nurse (Night Shift)",
        "Bristol",
        "sofia@closeloop.test",
    ),
    "platform": ("Helix Analytics", "Data Platform Engineer", "London", "recruiter@closeloop.test"),
}

# (name, email or None, phone, time zone)
CANDIDATES = [
    ("Amelia Hart", "amelia.hart@example.com", "+44 7700 900101", "Europe/London"),
    ("Oliver Bennett", "oliver.bennett@example.com", "+44 7700 900102", "Europe/London"),
    ("Priya Raman", "priya.raman@example.org", "+91 98450 00103", "Asia/Kolkata"),
    ("Marcus Johnson", "marcus.johnson@example.net", "+1 212 555 0104", "America/New_York"),
    ("Zoë Łukasiewicz", "zoe.lukasiewicz@example.com", "+48 500 000 105", "Europe/Warsaw"),
    ("Tom Fletcher", None, "+44 7700 900106", "Europe/London"),
    ("Aisha Bello", "aisha.bello@example.com", "+44 7700 900107", "Europe/London"),
    ("Daniel Kim", "daniel.kim@example.net", "+1 646 555 0108", "America/New_York"),
    ("Hannah Schmidt", "hannah.schmidt@example.org", "+49 151 0000109", "Europe/Berlin"),
    ("Rahul Mehta", "rahul.mehta@example.com", "+91 98200 00110", "Asia/Kolkata"),
    ("Grace O'Connor", "grace.oconnor@example.com", "+353 85 000 0111", "Europe/Dublin"),
    ("Liam Walsh", None, "+44 7700 900112", "Europe/London"),
    ("Sophie Turner", "sophie.turner@example.com", "+44 7700 900113", "Europe/London"),
    ("Ethan Brooks", "ethan.brooks@example.net", "+1 917 555 0114", "America/New_York"),
    ("Meera Iyer", "meera.iyer@example.org", "+91 99860 00115", "Asia/Kolkata"),
    ("Jack Robinson", "jack.robinson@example.com", "+44 7700 900116", "Europe/London"),
    ("Chloé Martin", "chloe.martin@example.org", "+33 6 00 00 01 17", "Europe/Paris"),
    ("Samuel Adeyemi", "samuel.adeyemi@example.com", "+44 7700 900118", "Europe/London"),
    ("Isabella Rossi", "isabella.rossi@example.net", "+39 320 000 0119", "Europe/Rome"),
    ("Noah Patel", "noah.patel@example.com", "+44 7700 900120", "Europe/London"),
    ("Emily Carter", "emily.carter@example.com", "+1 212 555 0121", "America/New_York"),
    ("Kwame Mensah", None, "+44 7700 900122", "Europe/London"),
    ("Lucy Evans", "lucy.evans@example.com", "+44 7700 900123", "Europe/London"),
    ("Arjun Nair", "arjun.nair@example.org", "+91 98860 00124", "Asia/Kolkata"),
    ("Freya Lindqvist", "freya.lindqvist@example.net", "+46 70 000 01 25", "Europe/Stockholm"),
]

# (candidate, position key, the steps after `sourced`). "interview" goes through
# record_interview; "rejected:<reason>" and "withdrawn" end the application.
JOURNEYS = [
    ("Amelia Hart", "backend", ["submitted", "client_review", "interview"]),
    ("Oliver Bennett", "backend", ["submitted", "client_review", "rejected:client_declined"]),
    ("Priya Raman", "backend", ["submitted", "client_review"]),
    ("Marcus Johnson", "backend", ["submitted"]),
    ("Zoë Łukasiewicz", "backend", ["submitted", "client_review", "interview"]),
    ("Daniel Kim", "backend", []),
    ("Rahul Mehta", "backend", []),
    ("Tom Fletcher", "warehouse", ["submitted", "client_review", "interview"]),
    ("Jack Robinson", "warehouse", ["submitted", "client_review", "interview", "offer"]),
    ("Samuel Adeyemi", "warehouse", ["submitted", "withdrawn"]),
    ("Noah Patel", "warehouse", ["submitted"]),
    ("Liam Walsh", "warehouse", []),
    ("Meera Iyer", "analyst", ["submitted", "client_review", "interview", "offer", "hired"]),
    ("Hannah Schmidt", "analyst", ["submitted", "client_review", "interview"]),
    ("Arjun Nair", "analyst", ["submitted", "client_review"]),
    ("Priya Raman", "analyst", ["submitted"]),
    ("Ethan Brooks", "analyst", ["rejected:agency_decision"]),
    ("Aisha Bello", "nurse", ["submitted", "client_review", "interview"]),
    ("Grace O'Connor", "nurse", ["submitted", "client_review"]),
    ("Lucy Evans", "nurse", ["submitted"]),
    ("Kwame Mensah", "nurse", []),
    ("Isabella Rossi", "nurse", ["submitted", "client_review", "rejected:client_declined"]),
    ("Chloé Martin", "platform", ["submitted", "client_review"]),
    ("Emily Carter", "platform", ["submitted"]),
    ("Freya Lindqvist", "platform", []),
    ("Sophie Turner", "platform", ["submitted", "client_review", "interview"]),
]

# Helix lost its budget: everyone still in the platform pipeline is told.
CANCELLED_POSITION = "platform"

PHONE_CONTACTS = [
    (
        "Tom Fletcher",
        "warehouse",
        "Called to confirm the interview time; Tom will bring his forklift licence.",
    ),
    (
        "Liam Walsh",
        "warehouse",
        "Phoned about the role; Liam is interested and sending his CV by post.",
    ),
]

# Asked for an update from their status page: a first item in each recruiter's queue.
UPDATE_REQUESTS = [("Amelia Hart", "backend"), ("Aisha Bello", "nurse")]


def seed_demo() -> bool:
    """Load the demo agency; False if an earlier run already did."""
    if _user_by_email(MARKER_EMAIL) is not None:
        return False
    users = {
        email: _get_or_create_user(name, email, role)
        for name, email, role in DEMO_USERS
        if email != MARKER_EMAIL
    }
    clients = {row[0]: _get_or_create_client(*row) for row in CLIENTS}
    positions = {
        key: _get_or_create_position(clients[client], title, location, users[owner])
        for key, (client, title, location, owner) in POSITIONS.items()
    }
    owners = {name: positions[key].owner_id for name, key, _ in reversed(JOURNEYS)}
    candidates = {
        row[0]: _get_or_create_candidate(*row, owner_id=owners.get(row[0])) for row in CANDIDATES
    }
    db.session.commit()

    manager = users["manager@closeloop.test"]
    for name, key, steps in JOURNEYS:
        position = positions[key]
        actor = db.session.get(User, position.owner_id)
        _run_journey(candidates[name], position, steps, actor, manager)
    for name, key, summary in PHONE_CONTACTS:
        _log_phone_call(candidates[name], positions[key], summary)
    for name, key in UPDATE_REQUESTS:
        _request_update(candidates[name], positions[key])
    platform = positions[CANCELLED_POSITION]
    if platform.status == PositionStatus.OPEN:
        services.close_position(
            platform,
            actor=manager,
            status=PositionStatus.CANCELLED,
            reason=OutcomeReason.BUDGET_CUT,
        )

    name, email, role = next(u for u in DEMO_USERS if u[1] == MARKER_EMAIL)
    _get_or_create_user(name, email, role)
    db.session.commit()
    analyze(db.session)  # the planner knows the new rows before the first page asks
    db.session.commit()
    return True


def deliver_history() -> int:
    """The demo's past, delivered: what seeding owed goes to the mailbox now, through the
    same send path a worker runs, instead of waiting out the undo and digest windows (or
    the night). Only into the development mailbox, never through a real provider."""
    from flask import current_app

    from app.models import Notification
    from app.models.notifications import WAITING
    from app.notifications.send import deliver

    if current_app.config["EMAIL_BACKEND"] != "mailbox":
        return 0
    now = clock.now()
    waiting = sa.select(Notification.id).where(Notification.state.in_(WAITING))
    ids = list(db.session.scalars(waiting.order_by(Notification.id)))
    if not ids:
        return 0
    db.session.execute(
        sa.update(Notification)
        .where(Notification.id.in_(ids), Notification.due_at > now)
        .values(due_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    sent = 0
    for start in range(0, len(ids), 500):
        sent += deliver(ids[start : start + 500]).get("sent", 0)
    return sent


def _run_journey(candidate, position, steps, actor, manager) -> None:
    if _application(candidate, position) is not None:
        return  # an interrupted earlier run got this far
    application = services.add_to_position(candidate, position, actor=actor)
    for step in steps:
        stage, _, reason = step.partition(":")
        if stage == "interview":
            _record_interview(application, actor)
        elif stage == "withdrawn":
            services.move_stage(
                application,
                Stage.WITHDRAWN,
                actor=actor,
                reason=OutcomeReason.CANDIDATE_WITHDREW,
                note="Accepted a counter-offer from their current employer.",
            )
        elif stage == "hired":
            services.move_stage(application, Stage.HIRED, actor=manager, reason=OutcomeReason.HIRED)
        elif stage == "rejected":
            services.move_stage(
                application, Stage.REJECTED, actor=actor, reason=OutcomeReason(reason)
            )
        else:
            services.move_stage(application, Stage(stage), actor=actor)


def _record_interview(application: Application, actor: User) -> None:
    client = application.position.client
    day = clock.now().replace(hour=10, minute=0, second=0, microsecond=0)
    interview_at = day + timedelta(days=2 + application.id % 5)
    services.record_interview(
        application,
        actor=actor,
        interview_at=interview_at,
        interviewers=f"{client.contact_name} and a senior team member",
        promised_response_at=interview_at + timedelta(days=3),
        client_contact=client.contact_name,
        next_step="A 60-minute conversation on video, including a short practical exercise.",
    )


def _log_phone_call(candidate: Candidate, position: Position, summary: str) -> None:
    application = _application(candidate, position)
    if application is None or application.last_candidate_contact_at is not None:
        return
    actor = db.session.get(User, position.owner_id)
    services.log_contact(
        candidate,
        actor=actor,
        channel=ContactChannel.PHONE,
        summary=summary,
        application=application,
    )


def _request_update(candidate: Candidate, position: Position) -> None:
    from app.status import services as status_services

    application = _application(candidate, position)
    if application is None or application.is_terminal:
        return
    try:
        status_services.request_update(candidate, application.id)
    except status_services.StatusError:
        pass  # already asked (an interrupted earlier run)


def _user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.lower()))


def _get_or_create_user(name: str, email: str, role: str) -> User:
    user = _user_by_email(email)
    if user is None:
        user = User(name=name, email=email, role=role, active=True, timezone="Europe/London")
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
        db.session.flush()
    return user


def _get_or_create_client(name: str, contact_name: str, contact_email: str) -> Client:
    client = db.session.scalar(sa.select(Client).where(Client.name == name))
    if client is None:
        client = Client(name=name, contact_name=contact_name, contact_email=contact_email)
        db.session.add(client)
        db.session.flush()
    return client


def _get_or_create_position(client: Client, title: str, location: str, owner: User) -> Position:
    position = db.session.scalar(
        sa.select(Position).where(Position.client_id == client.id, Position.title == title)
    )
    if position is None:
        position = Position(client=client, title=title, location=location, owner_id=owner.id)
        db.session.add(position)
        db.session.flush()
    return position


def _get_or_create_candidate(name, email, phone, timezone, *, owner_id) -> Candidate:
    candidate = db.session.scalar(sa.select(Candidate).where(Candidate.name == name))
    if candidate is None:
        candidate = Candidate(
            name=name,
            email=email,
            phone=phone,
            timezone=timezone,
            owner_id=owner_id,
            preferred_channel="email" if email else "phone",
        )
        db.session.add(candidate)
        db.session.flush()
    return candidate


def _application(candidate: Candidate, position: Position) -> Application | None:
    return db.session.scalar(
        sa.select(Application).where(
            Application.candidate_id == candidate.id, Application.position_id == position.id
        )
    )
