"""Reply addresses: with INBOUND_DOMAIN set, every candidate email's Reply-To is
`reply+<token>@<INBOUND_DOMAIN>`, the token naming the message it answers (and so the
candidate and the application). Without it, Reply-To is the recruiter's own address.

The token is `<message id>.<day issued>.<signature>`, in lower-case base 36 and base 32:
mail systems may change the case of an address's local part, and it must fit in its 64
characters. The signature is an HMAC-SHA256 under a key derived from SECRET_KEY (truncated
to 120 bits, compared in constant time); a token expires REPLY_TOKEN_MAX_AGE_DAYS after the
day it was issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app

from app import clock

PREFIX = "reply+"
_SALT = b"closeloop.reply-address.v1"
_TOKEN = re.compile(r"^([0-9a-z]{1,13})\.([0-9a-z]{1,6})\.([a-z2-7]{24})$")
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


class TokenError(Exception):
    """`reason`: forged (no valid signature) or expired."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ReplyToken:
    notification_id: int
    issued_on: datetime


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _mac(body: str) -> str:
    key = hmac.new(_SALT, str(current_app.config["SECRET_KEY"]).encode(), hashlib.sha256)
    digest = hmac.new(key.digest(), body.encode(), hashlib.sha256).digest()[:15]
    return base64.b32encode(digest).decode().lower()


def make_token(notification_id: int, now: datetime | None = None) -> str:
    day = ((now or clock.now()) - _EPOCH).days
    body = f"{_b36(notification_id)}.{_b36(max(day, 0))}"
    return f"{body}.{_mac(body)}"


def read_token(token: str, now: datetime | None = None) -> ReplyToken:
    """The message a token names, or TokenError (forged, expired)."""
    m = _TOKEN.match((token or "").strip().lower())
    if m is None:
        raise TokenError("forged")
    body = f"{m.group(1)}.{m.group(2)}"
    if not hmac.compare_digest(_mac(body), m.group(3)):
        raise TokenError("forged")
    issued = _EPOCH + timedelta(days=int(m.group(2), 36))
    max_age = timedelta(days=current_app.config["REPLY_TOKEN_MAX_AGE_DAYS"] + 1)
    if (now or clock.now()) - issued > max_age:
        raise TokenError("expired")
    return ReplyToken(int(m.group(1), 36), issued)


def token_in(address: str) -> str | None:
    """The token of a `reply+<token>@<INBOUND_DOMAIN>` address (None: not one of ours)."""
    local, _, domain = (address or "").strip().strip("<>").rpartition("@")
    inbound = (current_app.config.get("INBOUND_DOMAIN") or "").strip().lower()
    if not inbound or domain.lower() != inbound or not local.lower().startswith(PREFIX):
        return None
    return local[len(PREFIX) :]


def reply_to(notification_id: int, recruiter_email: str | None) -> str | None:
    """The Reply-To of a candidate email about this message."""
    inbound = (current_app.config.get("INBOUND_DOMAIN") or "").strip()
    if not inbound:
        return recruiter_email or None
    return f"{PREFIX}{make_token(notification_id)}@{inbound}"
