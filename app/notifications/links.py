"""Signed links in candidate emails: the status page and one-click unsubscribe.

A status token is itsdangerous-signed with the app's SECRET_KEY and carries only the
candidate's id and token version (never an email address). It expires after
STATUS_LINK_MAX_AGE_DAYS, and bumping `Candidate.token_version` revokes every link issued so
far. Unsubscribe tokens are signed under another salt, so neither can stand in for the
other; they outlive status links (an old email's unsubscribe must keep working) and are not
revoked by a version bump, because all they can do is switch optional updates off.
Timestamps come from app.clock, like every other time in Closeloop.
"""

from __future__ import annotations

import functools
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes
from itsdangerous.signer import HMACAlgorithm
from itsdangerous.timed import TimestampSigner

from app import clock
from app.extensions import db
from app.models import Candidate

STATUS_SALT = "closeloop.status-link.v1"
UNSUBSCRIBE_SALT = "closeloop.unsubscribe.v1"
UNSUBSCRIBE_MAX_AGE = timedelta(days=400)


class LinkError(Exception):
    """The link cannot be used; `reason` is expired, invalid or revoked."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Access:
    candidate: Candidate
    issued_at: datetime


class _ClockSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        # itsdangerous derives the key again for every signature; a fan-out signs thousands.
        if secret_key is not None:
            return super().derive_key(secret_key)
        derived = self.__dict__.get("_derived_key")
        if derived is None:
            derived = self._derived_key = super().derive_key()
        return derived


class _HMACSHA1(HMACAlgorithm):
    """itsdangerous' default signature (HMAC with SHA-1) from OpenSSL's one-shot
    hmac.digest: the same bytes, without building a Python HMAC object per signature
    (itsdangerous' lazy sha1 is not one of the digests hmac.new hands to OpenSSL)."""

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, "sha1")


class _CompactJSON:
    """itsdangerous' own JSON (compact, not ASCII-escaped), with its encoder built once
    instead of once per token: the same bytes."""

    _encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def loads(payload: str | bytes):
        return json.loads(payload)

    @classmethod
    def dumps(cls, obj, **_kwargs) -> str:
        return cls._encoder.encode(obj)


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return _signing(current_app.config["SECRET_KEY"], salt)[0]


@functools.lru_cache(maxsize=16)
def _signing(secret_key, salt: str) -> tuple[URLSafeTimedSerializer, TimestampSigner]:
    # Both are stateless once built (the timestamp comes from the clock at each signature);
    # a fan-out signs one link per candidate, so they are built once, not once per link.
    serializer = URLSafeTimedSerializer(
        secret_key,
        salt=salt,
        serializer=_CompactJSON,
        signer=_ClockSigner,
        signer_kwargs={"algorithm": _HMACSHA1()},
    )
    return serializer, serializer.make_signer(salt)


def _dumps(salt: str, payload: dict) -> str:
    """`_serializer(salt).dumps(payload)`, with the signer made once."""
    serializer, signer = _signing(current_app.config["SECRET_KEY"], salt)
    token = _dumps_ints(signer, payload)
    if token is not None:
        return token
    return signer.sign(serializer.dump_payload(payload)).decode("utf-8")


_PLAIN_KEY = re.compile(r"[a-z]{1,8}")


def _dumps_ints(signer: TimestampSigner, payload: dict) -> str | None:
    """The token itsdangerous makes for a payload of whole numbers (every link we sign: a
    candidate's id and token version), put together directly instead of through its general
    serializer, and never compressed: itsdangerous compresses a payload only when that
    saves two bytes or more, which takes long runs of repeated digits (no candidate id or
    version has them), and reads a token either way. Byte for byte what it would sign
    otherwise. Trying the compression cost each link some 6 µs of a send job's time (zlib
    sets up its whole state for 20 bytes), more than the rest of the token. None for any
    other payload: itsdangerous' own path then makes the token."""
    parts = []
    for key, value in payload.items():
        if type(value) is not int or not _PLAIN_KEY.fullmatch(key):
            return None
        parts.append(f'"{key}":{value}')
    body = ("{" + ",".join(parts) + "}").encode("ascii")
    value = base64_encode(body) + b"." + base64_encode(int_to_bytes(signer.get_timestamp()))
    signature = signer.algorithm.get_signature(signer.derive_key(), value)
    return (value + b"." + base64_encode(signature)).decode("ascii")


def status_max_age() -> timedelta:
    return timedelta(days=current_app.config["STATUS_LINK_MAX_AGE_DAYS"])


def status_token(candidate: Candidate) -> str:
    return _dumps(STATUS_SALT, {"c": candidate.id, "v": candidate.token_version})


def unsubscribe_token(candidate: Candidate) -> str:
    return _dumps(UNSUBSCRIBE_SALT, {"c": candidate.id})


def read_status_token(token: str) -> Access:
    """The candidate this link belongs to, or LinkError."""
    payload, issued = _load(STATUS_SALT, token, status_max_age())
    candidate = _candidate(payload)
    if candidate.anonymised_at is not None or payload.get("v") != candidate.token_version:
        raise LinkError("revoked")
    return Access(candidate, issued)


def read_unsubscribe_token(token: str) -> Candidate:
    payload, _ = _load(UNSUBSCRIBE_SALT, token, UNSUBSCRIBE_MAX_AGE)
    return _candidate(payload)


def revoke_links(candidate: Candidate) -> None:
    """Every status link issued so far stops working (in the caller's transaction)."""
    candidate.token_version = (candidate.token_version or 1) + 1


def _load(salt: str, token: str, max_age: timedelta) -> tuple[dict, datetime]:
    if not token or len(token) > 500:
        raise LinkError("invalid")
    try:
        payload, issued = _serializer(salt).loads(
            token, max_age=int(max_age.total_seconds()), return_timestamp=True
        )
    except SignatureExpired:
        raise LinkError("expired") from None
    except BadSignature:
        raise LinkError("invalid") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("c"), int):
        raise LinkError("invalid")
    return payload, issued


def _candidate(payload: dict) -> Candidate:
    candidate = db.session.get(Candidate, payload["c"])
    if candidate is None:
        raise LinkError("invalid")
    return candidate


def external_url(endpoint: str, **values) -> str:
    """An absolute URL under PUBLIC_BASE_URL; works without a request (in workers)."""
    public = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    adapters = current_app.extensions.setdefault("closeloop_url_adapters", {})
    adapter = adapters.get(public)
    if adapter is None:
        base = urlsplit(public)
        adapter = adapters[public] = current_app.url_map.bind(
            base.netloc, url_scheme=base.scheme or "https", script_name=base.path or "/"
        )
    return adapter.build(endpoint, values, force_external=True)


# Tokens are URL-safe base64 and dots: a URL path segment exactly as they are.
_URL_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_.-]+")


def status_url(candidate: Candidate) -> str:
    token = status_token(candidate)
    if not _URL_SAFE_TOKEN.fullmatch(token):
        return external_url("status.page", token=token)
    # The route is built once per base URL (a fan-out writes one link per candidate).
    prefixes = current_app.extensions.setdefault("closeloop_status_url_prefix", {})
    public = current_app.config["PUBLIC_BASE_URL"]
    prefix = prefixes.get(public)
    if prefix is None:
        probe = external_url("status.page", token="t")  # noqa: S106 - a placeholder
        prefix = prefixes[public] = probe[:-1] if probe.endswith("/t") else ""
    return prefix + token if prefix else external_url("status.page", token=token)


def unsubscribe_url(candidate: Candidate) -> str:
    return external_url("status.unsubscribe", token=unsubscribe_token(candidate))
