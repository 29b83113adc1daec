"""A signed SendGrid batch is stored event by event (issue 12, item 7): an event that cannot
be stored as sent (a NUL, a lone surrogate, nesting 5,000 deep) no longer fails the whole
batch, which SendGrid would retry and then drop with every good event in it. And a
400-digit timestamp is refused before the signature is even checked."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.models import NState
from tests.test_webhook import (
    _public_key_b64,
    event,
    make_notification,
    post,
    reload,
    stored_events,
)


@pytest.fixture(scope="module")
def signing_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def hook(app, make_app, signing_key):
    return make_app(SENDGRID_WEBHOOK_PUBLIC_KEY=_public_key_b64(signing_key)).test_client()


def _batch_with(bad: str, good: list[dict]) -> str:
    """A JSON array whose first element is `bad` (raw JSON text), then the good events."""
    return "[" + ",".join([bad, *(json.dumps(e) for e in good)]) + "]"


@pytest.mark.parametrize(
    "bad",
    [
        # A NUL inside a string: PostgreSQL text and json cannot hold it.
        '{"event": "delivered", "sg_event_id": "nul-1", "reason": "a\\u0000b"}',
        # Half of a surrogate pair: not Unicode, cannot be encoded to UTF-8.
        '{"event": "delivered", "sg_event_id": "sur-1", "reason": "\\ud800"}',
        # Nested 5,000 deep: Python's JSON reader gives up (RecursionError).
        '{"event": "open", "sg_event_id": "deep-1", "x": ' + "[" * 5000 + "]" * 5000 + "}",
    ],
    ids=["NUL", "lone surrogate", "5000 deep"],
)
def test_one_event_that_cannot_be_stored_leaves_the_rest_of_the_batch_stored(
    db, hook, signing_key, bad
):
    delivered, _ = make_notification(db)
    bounced, _ = make_notification(db, name="Grace Hopper")
    good = [event(delivered.id, "delivered"), event(bounced.id, "bounce", reason="mailbox full")]
    response = post(hook, None, body=_batch_with(bad, good), key=signing_key)
    assert response.status_code == 200
    assert reload(db, delivered).state == NState.DELIVERED
    assert reload(db, bounced).state == NState.BOUNCED
    ids = {e.sg_event_id for e in stored_events(db)}
    assert {good[0]["sg_event_id"], good[1]["sg_event_id"]} <= ids


def test_text_the_database_cannot_hold_is_replaced_and_the_event_still_applies(
    db, hook, signing_key
):
    n, _ = make_notification(db)
    bad = event(n.id, "bounce", reason="550 \u0000 no such user")
    response = post(hook, None, body=json.dumps([bad]), key=signing_key)
    assert response.status_code == 200
    assert reload(db, n).state == NState.BOUNCED
    (stored,) = stored_events(db)
    assert "\x00" not in stored.reason and "no such user" in stored.reason


def test_an_event_nested_too_deeply_is_counted_as_ignored(db, hook, signing_key):
    n, _ = make_notification(db)
    deep = '{"event": "open", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    response = post(hook, None, body=_batch_with(deep, [event(n.id, "delivered")]), key=signing_key)
    assert response.json["stored"] == 1 and response.json["ignored"] == 1


@pytest.mark.parametrize("timestamp", ["9" * 400, "1" + "0" * 30, "-5", "1e9", "١٢٣"])
def test_an_absurd_timestamp_is_refused_before_the_signature(db, hook, signing_key, timestamp):
    response = post(hook, [], key=signing_key, timestamp=timestamp)
    assert response.status_code == 403
    assert "timestamp" in response.json["error"]
