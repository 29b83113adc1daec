"""Standard Webhooks signatures (https://www.standardwebhooks.com): the headers
`webhook-id`, `webhook-timestamp` (epoch seconds) and `webhook-signature` = `v1,` + base64 of
HMAC-SHA256 over `id.timestamp.body`, keyed with the secret's bytes (the base64 after
`whsec_`). Own code, a dozen lines: the receiver example in the README verifies with the same
steps, and the `standardwebhooks` package would verify these too."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
TOLERANCE_SECONDS = 5 * 60


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
        "Content-Type": "application/json",
    }


def verify(secret: str, received: dict, body: bytes, now: int) -> bool:
    """What a receiver does: a fresh timestamp and one matching v1 signature."""
    try:
        timestamp = int(received["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = sign(secret, received.get("webhook-id", ""), timestamp, body)
    offered = received.get("webhook-signature", "").split(" ")
    return any(hmac.compare_digest(expected, sig) for sig in offered)
