"""A small world for the route-wide tests (the authorization matrix and the bad-input
sweep): four members of staff, and sets of records owned by one of them, each with every
kind of row a URL can point at (client, position, candidate, application, tasks, import,
message, mailbox copy, RQ job, status and unsubscribe links).

`records()` makes a fresh set each time it is called, so a request that changes or erases
its records (a POST) cannot change what the next request finds.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app import clock
from app.api import tokens as api_tokens
from app.decisions import links as decision_links
from app.extensions import db
from app.imports.services import create_preview
from app.models import (
    Application,
    Candidate,
    Client,
    ClientDecision,
    MailboxMessage,
    Position,
    Stage,
    User,
    WebhookEndpoint,
)
from app.notifications import links, outbox
from app.notifications.dispatch import MAINTENANCE_QUEUE, queue
from app.outbound.signing import new_secret
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
    "INBOUND_DOMAIN": "reply.agency.test",
    "INBOUND_PARSE_SECRET": "inbound-parse-secret",
}
# For the sweeps' apps, which ask thousands of questions one after another of a server that
# never drops a connection: no liveness ping (a round trip on PostgreSQL) when a request
# takes its connection from the pool. No answer depends on it; production keeps the ping.
NO_PING = {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False}}
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
    chase_task_id: int  # "chase the client for a decision" (marked done on My queue)
    user_id: int  # a member of staff for the admins' user management to act on
    reply_task_id: int  # the candidate replied to an email: an answer is owed
    decision_task_id: int  # the client declined on their decision page: to confirm
    decision_token: str  # the client's decision link for the position
    notification_id: int  # a message still owed (may be exempted)
    import_id: int
    mailbox_id: int
    job_id: str
    token: str  # the candidate's status link
    unsubscribe_token: str
    api_token_id: int  # the owner's API token (the tokens page revokes it)
    webhook_endpoint_id: int


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
    allows, so pages, emails and task titles are built from the longest values there are.

    Made without expiring what each commit wrote: the objects hold what was just written,
    and reloading them after each of the services' commits was a third of the cost (the
    suite calls this a few hundred times). The caller's session expires as usual after."""
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        return _records(owner, long=long)
    finally:
        session.expire_on_commit = expire
        session.expire_all()


def _records(owner: User, *, long: bool) -> Records:
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
    chase = outbox.open_task(
        kind="promised_date_due",
        title=f"Chase {client.name} for a decision on {candidate.name}",
        dedupe_key=f"matrix-chase:{tag}",
        candidate_id=candidate.id,
        application_id=application.id,
        assignee_id=owner.id,
        due_at=now,
    )
    reply_task = outbox.open_task(
        kind="reply_owed",
        title=f"{candidate.name} replied",
        dedupe_key=f"reply_owed:world-{tag}",
        candidate_id=candidate.id,
        application_id=application.id,
        assignee_id=owner.id,
        due_at=now,
    )
    colleague = _user("recruiter", _name(f"Colin {tag}", size(200)))
    decision_task = outbox.open_task(
        kind="client_decision",
        title=f"The client declined {candidate.name}",
        dedupe_key=f"client_decision:world-{tag}",
        candidate_id=candidate.id,
        application_id=application.id,
        assignee_id=owner.id,
        due_at=now,
    )
    db.session.flush()
    db.session.add(
        ClientDecision(
            application_id=application.id,
            position_id=position.id,
            client_id=client.id,
            decision="decline",
            state="prepared",
            task_id=decision_task.id,
            decided_at=now,
        )
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
    db.session.commit()
    update_task = status_services.request_update(candidate, application.id)
    job = queue(MAINTENANCE_QUEUE).enqueue("workers.jobs.reconcile", job_id=f"matrix-{tag}")
    api_token, _ = api_tokens.create(owner, f"matrix {tag}", actor=owner)
    endpoint = WebhookEndpoint(
        url=f"https://ats.example.test/{tag}",
        secret=new_secret(),
        event_types=["task.opened"],
        enabled=True,
        consecutive_failures=0,
    )
    db.session.add(endpoint)
    db.session.commit()
    return Records(
        client_id=client.id,
        position_id=position.id,
        candidate_id=candidate.id,
        application_id=application.id,
        update_task_id=update_task.id,
        undeliverable_task_id=undeliverable.id,
        chase_task_id=chase.id,
        user_id=colleague.id,
        reply_task_id=reply_task.id,
        decision_task_id=decision_task.id,
        decision_token=decision_links.token(position),
        notification_id=owed.id,
        import_id=upload.id,
        mailbox_id=mail.id,
        job_id=job.id,
        token=links.status_token(candidate),
        unsubscribe_token=links.unsubscribe_token(candidate),
        api_token_id=api_token.id,
        webhook_endpoint_id=endpoint.id,
    )


def sign_in(client, user: User):
    """Sign in through the login form, as a person would."""
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def give_api_token(web, user: User) -> None:
    """The REST API takes a bearer token, not the session: every request of `web` sends one
    of `user`'s."""
    _, raw = api_tokens.create(user, "matrix", actor=None)
    web.client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {raw}"


def clients(make_app, team: Staff, **config) -> dict:
    """One test client per role, staff signed in (anonymous and link holders are not).
    Errors are answered as a user would see them (500), not raised into the test."""
    app = make_app(PROPAGATE_EXCEPTIONS=False, **config)
    out = {}
    for role in ROLES:
        client = Web(app.test_client())
        if role in STAFF_ROLES:
            sign_in(client, team.user(role))
            give_api_token(client, team.user(role))
        out[role] = client
    return out


# -- addressing every route ----------------------------------------------------------------

# What each kind of URL variable is filled with (see path_values).
STATIC_FILES = {
    "static": "closeloop.css",
    "bootstrap.static": "css/bootstrap.min.css",
    "rq_dashboard.static": "js/jquery-3.5.1.min.js",
}
# What some rows send (a function of the records), so that the owner's answer is the page
# itself rather than a redirect or 404 for a missing parameter.
EXTRA = {
    "GET /applications/<int:application_id>/move": lambda r: {"query": {"to": "client_review"}},
    "POST /applications/<int:application_id>/move": lambda r: {"query": {"to": "client_review"}},
    "GET /positions/<int:position_id>/lifecycle/<action>": lambda r: {
        "query": {"hold_reason": "budget"}
    },
    "GET /positions/<int:position_id>/bulk": lambda r: {"query": _bulk(r)},
    "GET /positions/<int:position_id>/cards": lambda r: {"query": {"stage": "submitted"}},
    "POST /positions/<int:position_id>/bulk": lambda r: {"data": _bulk(r)},
    "GET /positions/<int:position_id>/bulk/result": lambda r: {"query": _bulk(r)},
    "POST /positions/<int:position_id>/bulk/undo": lambda r: {"data": _bulk(r)},
    "POST /status/<token>/language": lambda r: {"data": {"language": "de"}},
    "POST /templates/<kind>/preview": lambda r: {
        "json": {"subject": "Hello", "text_happened": "It happened.", "html_happened": "<p>It</p>"}
    },
    **{
        f"{method} /api/v1{rule}": body
        for method, rule, body in [
            ("POST", "/clients", lambda r: {"json": {"name": f"Client {uuid.uuid4().hex}"}}),
            ("PATCH", "/clients/<int:client_id>", lambda r: {"json": {"notes": "Pays on time"}}),
            (
                "POST",
                "/positions",
                lambda r: {"json": {"client_id": r.client_id, "title": "Analyst"}},
            ),
            ("PATCH", "/positions/<int:position_id>", lambda r: {"json": {"title": "Analyst"}}),
            (
                "POST",
                "/positions/<int:position_id>/lifecycle",
                lambda r: {"json": {"action": "hold", "reason": "Budget review"}},
            ),
            ("POST", "/candidates", lambda r: {"json": {"name": "Ivy"}}),
            ("PATCH", "/candidates/<int:candidate_id>", lambda r: {"json": {"phone": "+44 1"}}),
            (
                "POST",
                "/applications",
                lambda r: {"json": {"candidate_id": r.candidate_id, "position_id": r.position_id}},
            ),
            (
                "POST",
                "/applications/<int:application_id>/move",
                lambda r: {"json": {"to_stage": "client_review"}},
            ),
            (
                "POST",
                "/applications/<int:application_id>/interview",
                lambda r: {
                    "json": {
                        "interview_at": (clock.now() + timedelta(days=2)).isoformat(),
                        "promised_response_at": (clock.now() + timedelta(days=5)).isoformat(),
                    }
                },
            ),
            (
                "POST",
                "/contacts",
                lambda r: {
                    "json": {
                        "candidate_id": r.candidate_id,
                        "channel": "phone",
                        "summary": "Called them",
                    }
                },
            ),
            ("POST", "/tasks/<int:task_id>/reply", lambda r: {"json": {"message": "Soon"}}),
            (
                "POST",
                "/tasks/<int:task_id>/retry",
                lambda r: {"json": {"email": f"fixed-{uuid.uuid4().hex[:8]}@example.test"}},
            ),
        ]
    },
}


def _bulk(rec: Records) -> dict:
    return {"action": "move", "stage": "client_review", "application_ids": rec.application_id}


FORGED_TOKEN = "forged.token.value"
VARIABLE = re.compile(r"<(?:(?P<converter>[a-z]+):)?(?P<name>\w+)>")


def rows(app) -> dict[str, object]:
    """Every (method, rule) of the app, keyed like MATRIX."""
    out = {}
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out[f"{method} {rule.rule}"] = rule
    return out


def path_values(rule, rec: Records, role: str) -> dict[str, object]:
    values = {}
    for name in rule.arguments:
        if name == "token":
            if role != "link":
                values[name] = FORGED_TOKEN
            elif rule.rule.startswith("/decide/"):
                values[name] = rec.decision_token
            elif "unsubscribe" in rule.rule:
                values[name] = rec.unsubscribe_token
            else:
                values[name] = rec.token
        elif name == "secret":
            values[name] = ALL_ROUTES["INBOUND_PARSE_SECRET"] if role == "link" else FORGED_TOKEN
        elif name == "task_id":
            if rule.endpoint.endswith(".retry"):
                values[name] = rec.undeliverable_task_id
            elif rule.endpoint.endswith(".done"):
                values[name] = rec.chase_task_id
            elif rule.endpoint.endswith(".answer_reply"):
                values[name] = rec.reply_task_id
            elif "/queue/decisions/" in rule.rule:
                values[name] = rec.decision_task_id
            else:
                values[name] = rec.update_task_id
        elif name == "filename":
            values[name] = STATIC_FILES[rule.endpoint]
        else:
            values[name] = {
                "candidate_id": rec.candidate_id,
                "application_id": rec.application_id,
                "position_id": rec.position_id,
                "client_id": rec.client_id,
                "notification_id": rec.notification_id,
                "token_id": rec.api_token_id,
                "endpoint_id": rec.webhook_endpoint_id,
                "import_id": rec.import_id,
                "message_id": rec.mailbox_id,
                "user_id": rec.user_id,
                "kind": "submitted",
                "action": "hold",
                "instance_number": 0,
                "job_id": rec.job_id,
                "queue_name": "maintenance",
                "registry_name": "queued",
                "per_page": 10,
                "order": "asc",
                "page": 1,
            }[name]
    return values


def url_for_rule(rule, values: dict) -> str:
    """The rule's path with `values` filled in (escaped, so any text can be sent)."""

    def fill(m) -> str:
        safe = "/" if m.group("converter") == "path" else ""
        return quote(str(values[m.group("name")]), safe=safe)

    return VARIABLE.sub(fill, rule.rule)
