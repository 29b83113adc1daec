"""Idempotency-Key on every POST and PATCH (the IETF draft's semantics, as Stripe's):

- the first request with a key is handled and its answer stored with the key;
- a retry with the same key and the same request gets that answer again (header
  `Idempotent-Replayed: true`) and nothing is done twice: an ATS retrying after a timeout
  never owes a candidate a second message;
- the same key with a different request (method, path, query or body) is 422;
- the same key while the first request is still being handled is 409 (retry later);
- keys are kept API_IDEMPOTENCY_HOURS (24) hours, per user.

The key is claimed (a row with no answer yet) in a transaction of its own before the work
starts: two requests at once both try to insert it and the unique (user, key) constraint
lets exactly one through. A server error is not stored: the key is freed so a retry can try
again (the work rolled back, so nothing was done).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import Response, current_app, g, request

from app import clock
from app.api.problems import ApiProblem, field_error, from_exception
from app.extensions import db
from app.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY = 200
# Answer headers worth replaying (the body's type, where the new record is, its version).
KEPT_HEADERS = ("Content-Type", "Location", "ETag")


def fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _checked_key() -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise ApiProblem(
            400,
            f"{HEADER} must be 1 to {MAX_KEY} printable characters.",
            errors=[field_error(HEADER, "Not a usable key.")],
            code="idempotency_key_invalid",
        )
    return key


def run(call: Callable[[], Response]) -> Response:
    key = _checked_key()
    if key is None:
        return call()
    user_id = g.api_user.id
    print_ = fingerprint()
    record, first = claim(user_id, key, print_)
    if not first:
        return _replay(record, print_)
    try:
        response = call()
    except ApiProblem as problem:
        db.session.rollback()
        response = from_exception(problem)
    except Exception:
        db.session.rollback()
        release(record.id)
        raise
    if response.status_code >= 500:
        release(record.id)
    else:
        store(record.id, response)
    return response


def claim(user_id: int, key: str, print_: str) -> tuple[IdempotencyKey, bool]:
    """(the key's row, True if this request claimed it now)."""
    now = clock.now()
    hours = current_app.config.get("API_IDEMPOTENCY_HOURS", 24)
    db.session.rollback()
    db.session.execute(
        sa.delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.key == key,
            IdempotencyKey.expires_at <= now,
        )
    )
    record = IdempotencyKey(
        user_id=user_id,
        key=key,
        fingerprint=print_,
        status=None,
        headers={},
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    db.session.add(record)
    try:
        db.session.commit()
        return record, True
    except sa.exc.IntegrityError:
        db.session.rollback()
    existing = db.session.scalar(
        sa.select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
        )
    )
    if existing is None:  # expired and removed by another request in between
        raise ApiProblem(
            409,
            "This Idempotency-Key is being used by another request; retry.",
            code="idempotency_key_busy",
        )
    return existing, False


def _replay(record: IdempotencyKey, print_: str) -> Response:
    if record.fingerprint != print_:
        raise ApiProblem(
            422,
            "This Idempotency-Key was used with a different request. Use a new key for a "
            "new request.",
            errors=[field_error(HEADER, "Used before with another method, path or body.")],
            code="idempotency_key_reused",
        )
    if record.status is None:
        raise ApiProblem(
            409,
            "A request with this Idempotency-Key is still being handled; retry shortly.",
            headers={"Retry-After": "1"},
            code="idempotency_key_busy",
        )
    response = Response(record.body or "", status=record.status)
    for name, value in (record.headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def store(record_id: int, response: Response) -> None:
    db.session.rollback()
    record = db.session.get(IdempotencyKey, record_id)
    if record is None:
        return
    record.status = response.status_code
    record.body = response.get_data(as_text=True)
    record.headers = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
    db.session.commit()


def release(record_id: int) -> None:
    db.session.rollback()
    db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.id == record_id))
    db.session.commit()


def purge(now=None) -> int:
    """Forget expired keys (the maintenance schedule runs this)."""
    result = db.session.execute(
        sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or clock.now()))
    )
    db.session.commit()
    return result.rowcount or 0
