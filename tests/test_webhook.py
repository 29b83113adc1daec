"""POST /webhooks/sendgrid: signed the way SendGrid signs, stored once, moving notifications."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app import clock
from app.models import DeliveryEvent, Notification, NState, Task
from app.notifications import events as events_module
from tests import factories

URL = "/webhooks/sendgrid"


def _public_key_b64(private_key) -> str:
    der = private_key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()  # as SendGrid's settings page shows it


@pytest.fixture(scope="module")
def signing_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def hook(app, make_app, signing_key):
    """A test client for an app holding SendGrid's public key, with CSRF protection on."""
    webhook_app = make_app(
        SENDGRID_WEBHOOK_PUBLIC_KEY=_public_key_b64(signing_key), WTF_CSRF_ENABLED=True
    )
    return webhook_app.test_client()


def sign(key, body: str, timestamp: str) -> str:
    return base64.b64encode(
        key.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    ).decode()


def post(
    client,
    payload,
    *,
    key,
    timestamp: int | None = None,
    body: str | None = None,
    signed_body: str | None = None,
):
    """Sign `signed_body` (default: the body) and send `body`, as SendGrid would."""
    from app.extensions import db

    db.session.commit()  # the test's own transaction must not hold SQLite's write lock
    body = json.dumps(payload) if body is None else body
    ts = str(int(clock.now().timestamp()) if timestamp is None else timestamp)
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": sign(key, signed_body or body, ts),
        "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        "Content-Type": "application/json",
    }
    return client.post(URL, data=body.encode(), headers=headers)


def make_notification(db, state: str = NState.SENT, *, name: str = "Ada Lovelace"):
    owner = factories.user()
    application = factories.application(
        position_=factories.position(owner=owner), candidate_=factories.candidate(name=name)
    )
    n = Notification(
        application_id=application.id,
        candidate_id=application.candidate_id,
        kind="rejection",
        state=str(state),
        app_version=application.version,
        idempotency_key=f"test:{uuid.uuid4().hex}",
        to_email=application.candidate.email,
    )
    db.session.add(n)
    db.session.commit()
    return n, owner


def event(notification_id, name: str, **extra) -> dict:
    return {
        "email": "candidate@example.test",
        "timestamp": 1_795_000_000,
        "event": name,
        "sg_event_id": uuid.uuid4().hex,
        "sg_message_id": "abc.filter0001",
        "notification_id": str(notification_id),
    } | extra


def reload(db, n: Notification) -> Notification:
    db.session.expire_all()
    return db.session.get(Notification, n.id)


def tasks(db) -> list[Task]:
    return list(db.session.scalars(sa.select(Task)))


def stored_events(db) -> list[DeliveryEvent]:
    return list(db.session.scalars(sa.select(DeliveryEvent).order_by(DeliveryEvent.id)))


# -- what events do -------------------------------------------------------------------------


def test_delivered_marks_the_notification_delivered(db, hook, signing_key):
    n, _ = make_notification(db)
    response = post(hook, [event(n.id, "delivered")], key=signing_key)

    assert response.status_code == 200
    assert response.json == {"stored": 1, "duplicates": 0, "unknown": 0, "updated": 1, "ignored": 0}
    n = reload(db, n)
    assert n.state == NState.DELIVERED and n.delivered_at is not None
    (stored,) = stored_events(db)
    assert stored.notification_id == n.id and stored.event == "delivered"
    assert stored.occurred_at == datetime.fromtimestamp(1_795_000_000, UTC)


def test_delivered_and_bounced_at_are_when_the_event_happened(db, hook, signing_key):
    """Issue 16.7: not when its webhook arrived (the provider batches and retries)."""
    happened = int(clock.now().timestamp()) - 3600
    delivered, _ = make_notification(db)
    bounced, _ = make_notification(db, name="Bea Bounce")
    ahead, _ = make_notification(db, name="Future Fay")
    post(
        hook,
        [
            event(delivered.id, "delivered", timestamp=happened),
            event(bounced.id, "bounce", type="bounce", timestamp=happened + 60),
            event(ahead.id, "delivered", timestamp=happened + 86_400),  # a clock ahead of ours
        ],
        key=signing_key,
    )
    at = datetime.fromtimestamp(happened, UTC)
    assert _aware(reload(db, delivered).delivered_at) == at
    assert _aware(reload(db, bounced).bounced_at) == at + timedelta(seconds=60)
    assert _aware(reload(db, ahead).delivered_at) <= clock.now()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_delivered_before_we_recorded_the_send_still_counts(db, hook, signing_key):
    n, _ = make_notification(db, NState.SENDING)
    post(hook, [event(n.id, "delivered")], key=signing_key)
    n = reload(db, n)
    assert n.state == NState.DELIVERED and n.sent_at is not None


@pytest.mark.parametrize("bounce_type,words", [("bounce", "bounced"), ("blocked", "was blocked")])
def test_bounce_creates_one_task_even_when_replayed(db, hook, signing_key, bounce_type, words):
    n, owner = make_notification(db, name="Grace Hopper")
    bounce = event(n.id, "bounce", type=bounce_type, reason="550 5.1.1 user unknown")

    first = post(hook, [bounce], key=signing_key)
    replay = post(hook, [bounce], key=signing_key)
    # A later, different event for the same message must not add a second task either.
    post(hook, [event(n.id, "dropped", reason="Bounced Address")], key=signing_key)

    assert first.json["updated"] == 1
    assert replay.json == {"stored": 0, "duplicates": 1, "unknown": 0, "updated": 0, "ignored": 0}
    n = reload(db, n)
    assert n.state == NState.BOUNCED and n.bounced_at is not None
    assert "550 5.1.1 user unknown" in n.last_error
    (task,) = tasks(db)
    assert task.kind == "undeliverable"
    assert task.title == f"Email to Grace Hopper {words} — reach them another way"
    assert task.assignee_id == owner.id
    assert task.dedupe_key == f"undeliverable:{n.id}"
    assert (task.candidate_id, task.application_id, task.notification_id) == (
        n.candidate_id,
        n.application_id,
        n.id,
    )


def test_dropped_marks_dropped_and_creates_a_task(db, hook, signing_key):
    n, _ = make_notification(db, NState.DELIVERED)
    post(hook, [event(n.id, "dropped", reason="Unsubscribed Address")], key=signing_key)

    n = reload(db, n)
    assert n.state == NState.DROPPED and n.dropped_at is not None
    assert n.last_error == "dropped: Unsubscribed Address"
    assert [t.title for t in tasks(db)] == [
        "Email to Ada Lovelace was dropped — reach them another way"
    ]


def test_deferred_records_the_reason_only(db, hook, signing_key):
    n, _ = make_notification(db)
    post(
        hook,
        [event(n.id, "deferred", response="421 try again later", attempt="1")],
        key=signing_key,
    )
    n = reload(db, n)
    assert n.state == NState.SENT
    assert n.last_error == "deferred: 421 try again later"

    post(hook, [event(n.id, "delivered")], key=signing_key)
    n = reload(db, n)
    assert n.state == NState.DELIVERED and n.last_error is None


def test_engagement_events_are_stored_only(db, hook, signing_key):
    n, _ = make_notification(db)
    response = post(hook, [event(n.id, "processed"), event(n.id, "open")], key=signing_key)
    assert response.json["stored"] == 2 and response.json["updated"] == 0
    assert reload(db, n).state == NState.SENT


@pytest.mark.parametrize("state", [NState.SUPERSEDED, NState.DISCHARGED, NState.BOUNCED])
def test_settled_notifications_are_not_moved(db, hook, signing_key, state):
    n, _ = make_notification(db, state)
    response = post(
        hook, [event(n.id, "delivered"), event(n.id, "bounce", type="bounce")], key=signing_key
    )

    assert response.json["stored"] == 2 and response.json["updated"] == 0
    assert reload(db, n).state == state
    assert tasks(db) == []


def test_events_in_one_post_apply_in_time_order(db, hook, signing_key):
    n, _ = make_notification(db)
    late_bounce = event(n.id, "bounce", type="bounce", timestamp=1_795_000_100)
    early_delivered = event(n.id, "delivered", timestamp=1_795_000_000)
    post(hook, [late_bounce, early_delivered], key=signing_key)
    assert reload(db, n).state == NState.BOUNCED


def test_duplicate_event_ids_are_stored_once(db, hook, signing_key):
    n, _ = make_notification(db)
    delivered = event(n.id, "delivered")
    first = post(hook, [delivered, dict(delivered), event(n.id, "open")], key=signing_key)
    later = post(hook, [delivered, event(n.id, "click")], key=signing_key)

    assert first.json == {"stored": 2, "duplicates": 1, "unknown": 0, "updated": 1, "ignored": 0}
    assert later.json == {"stored": 1, "duplicates": 1, "unknown": 0, "updated": 0, "ignored": 0}
    assert [e.event for e in stored_events(db)] == ["delivered", "open", "click"]


def test_an_insert_racing_ours_counts_as_duplicate(db, hook, signing_key, monkeypatch):
    # Another delivery committed the same event after we looked: the unique index decides.
    n, _ = make_notification(db)
    delivered = event(n.id, "delivered")
    post(hook, [delivered], key=signing_key)
    monkeypatch.setattr(events_module, "_existing_event_ids", lambda ids: set())

    response = post(hook, [delivered, event(n.id, "bounce", type="bounce")], key=signing_key)

    assert response.json == {"stored": 1, "duplicates": 1, "unknown": 0, "updated": 1, "ignored": 0}
    assert reload(db, n).state == NState.BOUNCED
    assert len(stored_events(db)) == 2 and len(tasks(db)) == 1


def test_unknown_notifications_are_stored_without_one(db, hook, signing_key):
    no_id = event(1, "delivered")
    del no_id["notification_id"]
    response = post(
        hook,
        [
            event(999_999, "delivered"),
            event("abc", "bounce"),
            event(99_999_999_999, "delivered"),
            no_id,
            "not an event",
        ],
        key=signing_key,
    )

    assert response.json == {"stored": 4, "duplicates": 0, "unknown": 4, "updated": 0, "ignored": 1}
    assert [e.notification_id for e in stored_events(db)] == [None] * 4
    assert tasks(db) == []


# -- who may post ---------------------------------------------------------------------------


def test_forged_signature_is_refused(db, hook):
    n, _ = make_notification(db)
    forger = ec.generate_private_key(ec.SECP256R1())
    response = post(hook, [event(n.id, "delivered")], key=forger)
    assert response.status_code == 403
    assert stored_events(db) == [] and reload(db, n).state == NState.SENT


def test_altered_body_is_refused(db, hook, signing_key):
    n, _ = make_notification(db)
    signed = json.dumps([event(n.id, "delivered")])
    altered = signed.replace("delivered", "bounce")
    response = post(hook, None, key=signing_key, body=altered, signed_body=signed)
    assert response.status_code == 403
    assert stored_events(db) == []


@pytest.mark.parametrize("offset", [-601, 601])
def test_stale_or_future_timestamp_is_refused(db, hook, signing_key, offset):
    start = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    with clock.frozen(start):
        ts = int(start.timestamp())
        ok = post(hook, [event(1, "open")], key=signing_key, timestamp=ts - 600)
        refused = post(hook, [event(1, "open")], key=signing_key, timestamp=ts + offset)
    assert ok.status_code == 200
    assert refused.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Twilio-Email-Event-Webhook-Timestamp": "1795000000"},
        {
            "X-Twilio-Email-Event-Webhook-Signature": "bm90LWEtc2lnbmF0dXJl",
            "X-Twilio-Email-Event-Webhook-Timestamp": "now",
        },
    ],
)
def test_missing_or_malformed_headers_are_refused(db, hook, headers):
    assert hook.post(URL, data=b"[]", headers=headers).status_code == 403


def test_garbage_signature_is_refused(db, hook):
    ts = str(int(clock.now().timestamp()))
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": "%%%not base64%%%",
        "X-Twilio-Email-Event-Webhook-Timestamp": ts,
    }
    assert hook.post(URL, data=b"[]", headers=headers).status_code == 403


def test_no_key_configured_is_503(db, make_app, signing_key):
    client = make_app(SENDGRID_WEBHOOK_PUBLIC_KEY="").test_client()
    response = post(client, [event(1, "delivered")], key=signing_key)
    assert response.status_code == 503
    assert "SENDGRID_WEBHOOK_PUBLIC_KEY" in response.json["error"]


def test_unusable_key_is_503(db, make_app, signing_key):
    client = make_app(SENDGRID_WEBHOOK_PUBLIC_KEY="bm90IGEga2V5").test_client()
    response = post(client, [event(1, "delivered")], key=signing_key)
    assert response.status_code == 503


@pytest.mark.parametrize("body", ["{not json", '{"event": "delivered"}'])
def test_signed_but_not_a_json_list_is_400(db, hook, signing_key, body):
    response = post(hook, None, key=signing_key, body=body)
    assert response.status_code == 400
    assert stored_events(db) == []
