"""SendGrid's Event Webhook: signed batches of delivery events.

Anything but a 2xx makes SendGrid retry for up to 24 hours, so our own misconfiguration
answers 503 (events wait for the fix) while forged or replayed requests answer 403.
"""

from __future__ import annotations

import binascii
import functools

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app, jsonify, request
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from app import clock, metrics
from app.extensions import csrf
from app.input_guard import raw_body
from app.notifications.events import apply_events, read_batch
from app.webhooks import bp


@functools.lru_cache(maxsize=4)
def _verifier(public_key: str) -> EventWebhook:
    verifier = EventWebhook(public_key)
    if not isinstance(verifier.public_key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic curve key")
    return verifier


def _refuse(status: int, message: str, reason: str):
    metrics.WEBHOOK_REFUSED.labels(reason).inc()
    return jsonify(error=message), status


@bp.post("/sendgrid")
@csrf.exempt
@raw_body  # signed bytes: checked here, event by event (app.notifications.events)
def sendgrid_events():
    public_key = (current_app.config.get("SENDGRID_WEBHOOK_PUBLIC_KEY") or "").strip()
    if not public_key:
        return _refuse(
            503,
            "Event webhook verification key is not configured: set SENDGRID_WEBHOOK_PUBLIC_KEY",
            "not_configured",
        )
    try:
        verifier = _verifier(public_key)
    except (ValueError, UnsupportedAlgorithm):
        return _refuse(
            503, "SENDGRID_WEBHOOK_PUBLIC_KEY is not a valid ECDSA public key", "invalid_key"
        )

    signature = request.headers.get(EventWebhookHeader.SIGNATURE, "")
    timestamp = request.headers.get(EventWebhookHeader.TIMESTAMP, "")
    if not signature or not timestamp:
        return _refuse(403, "missing signature headers", "unsigned")
    if not _fresh(timestamp):
        return _refuse(403, "timestamp is missing, stale or in the future", "stale_timestamp")
    raw = request.get_data(cache=False)
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _refuse(400, "body is not UTF-8", "invalid_body")
    if not _verified(verifier, body, signature, timestamp):
        return _refuse(403, "invalid signature", "invalid_signature")

    try:
        events, unreadable = read_batch(body)
    except ValueError:
        return _refuse(400, "body must be a JSON array of events", "invalid_body")
    counts = apply_events(events)
    counts["ignored"] += unreadable  # an element too deeply nested to read
    for event in events:
        kind = event.get("event") if isinstance(event, dict) else None
        metrics.WEBHOOK_EVENTS_RECEIVED.labels(metrics.webhook_event_label(kind)).inc()
    return jsonify(counts), 200


def _fresh(timestamp: str) -> bool:
    # The signature covers the timestamp; checking its age is what stops replays. Epoch
    # seconds have ten digits: anything longer (or not digits) is refused before arithmetic.
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    max_age = current_app.config["SENDGRID_WEBHOOK_MAX_AGE_SECONDS"]
    return abs(clock.now().timestamp() - int(timestamp)) <= max_age


def _verified(verifier: EventWebhook, body: str, signature: str, timestamp: str) -> bool:
    try:
        return verifier.verify_signature(body, signature, timestamp)
    except (binascii.Error, ValueError, TypeError):
        return False  # not even base64 / not a DER signature
