"""A small world for the route-wide tests (the authorization matrix and the bad-input
sweep): four members of staff, and sets of records owned by one of them, each with every
kind of row a URL can point at (client, position, candidate, application, tasks, import,
message, mailbox copy, RQ job, status and unsubscribe links).

`records()` makes a fresh set each time it is called, so a request that changes or erases
its records (a POST) cannot change what the next request finds.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app import clock
from app.extensions import db
from app.models import (
    Application,
    Candidate,
    Client,
    MailboxMessage,
    Position,
    Stage,
    User,
)
from app.imports.services import create_preview
from app.notifications import links, outbox
from app.notifications.dispatch import MAINTENANCE_QUEUE, queue
from app.status import services as status_services
from tests.web import Web

PASSWORD = "correct horse"
# Config under which every route exists and answers for real: the dev mailbox mounted, and
# the SendGrid webhook holding a public key (so it checks signatures instead of answering
# "not configured").
ALL_ROUTES = {
    "DEV_MAILBOX_ENABLED": True,
    "SENDGRID_WEBHOOK_PUBLIC_KEY": base64.b64encode(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).decode(),
}
STAFF_ROLES = ("owner", "other", "manager", "admin")
ROLES = ("anon", "link", *STAFF_ROLES)


@dataclass(frozen=True)
class Staff:
    owner: User
    other: User
    manager: User
    admin: User

    def user(self, role: str) -> User:
        return getattr(self, role)


@dataclass(frozen=True)
class Records:
    client_id: int
    position_id: int
    candidate_id: int
    application_id: int
    update_task_id: int  # the candidate asked for an update
    undeliverable_task_id: int  # a message bounced
    notification_id: int  # a message still owed (may be exempted)
    import_id: int
    mailbox_id: int
    job_id: str
    token: str  # the candidate's status link
    unsubscribe_token: str


def _name(base: str, size: int | None) -> str:
    """`base`, or a name of exactly `size` characters that mixes right-to-left text and
    emoji (lengths are characters on PostgreSQL, so this fills the column exactly)."""
    if size is None:
        return base
    filler = "שלום 👩🏽‍💻 مرحبا "
    return (base + " " + filler * size)[:size]


def _user(role: str, name: str) -> User:
    u = User(
        name=name,
        email=f"{name.split()[0].lower()}-{uuid.uuid4().hex[:8]}@agency.test",
        role=role,
        active=True,
        timezone="Europe/London",
    )
    u.set_password(PASSWORD)
    db.session.add(u)
    return u


def staff() -> Staff:
    team = Staff(
        owner=_user("recruiter", "Owen Owner"),
        other=_user("recruiter", "Olive Other"),
        manager=_user("manager", "Mona Manager"),
        admin=_user("admin", "Adam Admin"),
    )
    db.session.commit()
    return team


def records(owner: User, *, long: bool = False) -> Records:
    """A fresh set of records owned by `owner` (committed); `long`: every name as long as its column
    allows, so pages, emails and task titles are built from the longest values there are."""
    size = (lambda n: n) if long else (lambda n: None)  # noqa: E731
    now = clock.now()
    tag = uuid.uuid4().hex[:8]
    client = Client(name=_name(f"Client {tag}", size(200)), contact_name=_name("Cleo", size(200)))
    position = Position(
        client=client,
        title=_name("Backend Engineer", size(200)),
        location=_name("Leeds", size(200)),
        owner_id=owner.id,
    )
    candidate = Candidate(
        name=_name(f"Cara {tag}", size(200)),
        email=f"cara-{tag}@example.test",
        phone="+44 113 496 0000",
        timezone="Europe/London",
        owner_id=owner.id,
    )
    application = Application(position=position, candidate=candidate, stage=Stage.SUBMITTED.value)
    db.session.add_all([client, position, candidate, application])
    db.session.flush()
    owed = outbox.owe(application, "submitted", now=now)
    bounced = outbox.owe(application, "submitted", key_extra="bounced", now=now)
    bounced.state = "bounced"
    undeliverable = outbox.open_task(
        kind="undeliverable",
        title=f"Email to {candidate.name} bounced",
        dedupe_key=outbox.undeliverable_task_key(bounced.id),
        candidate_id=candidate.id,
        application_id=application.id,
        notification_id=bounced.id,
        assignee_id=owner.id,
        due_at=now,
    )
    upload = create_preview(
        owner,
        filename=f"candidates-{tag}.csv",
        data=f"name,email\nIvy Import,ivy-{tag}@example.test\n".encode(),
        position=None,
    )
    mail = MailboxMessage(
        message_id=f"<{tag}@closeloop.test>",
        to_email=candidate.email,
        from_email="updates@closeloop.example",
        subject="Your application",
        body_text="Hello",
    )
    db.session.add_all([upload, mail])
    outbox.commit()
    update_task = status_services.request_update(candidate, application.id)
    job = queue(MAINTENANCE_QUEUE).enqueue("workers.jobs.reconcile", job_id=f"matrix-{tag}")
    return Records(
        client_id=client.id,
        position_id=position.id,
        candidate_id=candidate.id,
        application_id=application.id,
        update_task_id=update_task.id,
        undeliverable_task_id=undeliverable.id,
        notification_id=owed.id,
        import_id=upload.id,
        mailbox_id=mail.id,
        job_id=job.id,
        token=links.status_token(candidate),
        unsubscribe_token=links.unsubscribe_token(candidate),
    )


def sign_in(client, user: User):
    """Sign in through the login form, as a person would."""
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def clients(make_app, team: Staff, **config) -> dict:
    """One test client per role, staff signed in (anonymous and link holders are not).
    Errors are answered as a user would see them (500), not raised into the test."""
    app = make_app(PROPAGATE_EXCEPTIONS=False, **config)
    out = {}
    for role in ROLES:
        client = Web(app.test_client())
        if role in STAFF_ROLES:
            sign_in(client, team.user(role))
        out[role] = client
    return out
