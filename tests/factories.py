"""Small factories for test data; each adds to the session and flushes, never commits."""

from __future__ import annotations

import itertools

from app.extensions import db
from app.models import Application, Candidate, Client, Position, Stage, User

_seq = itertools.count(1)


def user(
    role: str = "recruiter",
    *,
    email: str | None = None,
    password: str = "correct horse",
    name: str | None = None,
    active: bool = True,
) -> User:
    n = next(_seq)
    u = User(
        name=name or f"Staff {n}",
        email=email or f"staff{n}@agency.test",
        role=role,
        active=active,
        timezone="Europe/London",
    )
    u.set_password(password)
    db.session.add(u)
    db.session.flush()
    return u


def client(name: str | None = None) -> Client:
    c = Client(name=name or f"Client {next(_seq)}")
    db.session.add(c)
    db.session.flush()
    return c


def position(
    *, owner: User | None = None, client_: Client | None = None, title: str = "Backend Engineer"
) -> Position:
    p = Position(
        client=client_ or client(), title=title, location="Leeds", owner_id=(owner or user()).id
    )
    db.session.add(p)
    db.session.flush()
    return p


def candidate(
    *,
    name: str | None = None,
    email: str | None = "default",
    timezone: str | None = "Europe/London",
    phone: str | None = "+44 113 496 0000",
) -> Candidate:
    n = next(_seq)
    c = Candidate(
        name=name or f"Candidate {n}",
        email=f"candidate{n}@example.test" if email == "default" else email,
        timezone=timezone,
        phone=phone,
    )
    db.session.add(c)
    db.session.flush()
    return c


def application(
    *,
    position_: Position | None = None,
    candidate_: Candidate | None = None,
    stage: Stage = Stage.SUBMITTED,
) -> Application:
    a = Application(
        position=position_ or position(), candidate=candidate_ or candidate(), stage=stage.value
    )
    db.session.add(a)
    db.session.flush()
    return a
