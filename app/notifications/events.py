"""What SendGrid tells us after it accepted a message: delivered, bounced, dropped, deferred.

Events arrive at least once, in batches, possibly out of order and for up to 24 hours. Each is
stored once (keyed on `sg_event_id`) and moves the notification it names through `custom_args`.
A bounce or drop means the candidate has not heard from us: a recruiter gets a task.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app import clock, stored_words
from app.extensions import db
from app.models import DeliveryEvent, Notification, NState, Task
from app.models.notifications import OWED
from app.orm import MAX_INT
from app.stored_words import words

# "delivered" may arrive before the worker recorded the provider's acceptance.
DELIVERABLE_FROM = (*OWED, NState.SENT.value)
# A bounce can follow "delivered" (the receiving server accepted, then bounced). Superseded
# and discharged rows are settled another way; failed ones already have a task.
UNDELIVERABLE_FROM = (*DELIVERABLE_FROM, NState.DELIVERED.value)
_MAX_ID = MAX_INT  # notifications.id is a 32-bit integer on PostgreSQL
_CHUNK = 500


def read_batch(body: str) -> tuple[list, int]:
    """The events of a webhook body (a JSON array), and how many elements could not be read.

    One element nested too deeply for Python's JSON reader must not cost the others: the
    array is then read element by element. ValueError: the body is not a JSON array."""
    try:
        batch = json.loads(body)
    except RecursionError:
        return _read_one_by_one(body)
    if not isinstance(batch, list):
        raise ValueError("not a JSON array")
    return batch, 0


def _read_one_by_one(body: str) -> tuple[list, int]:
    events, unreadable = [], 0
    for part in _array_elements(body):
        try:
            events.append(json.loads(part))
        except (RecursionError, ValueError):
            unreadable += 1
    return events, unreadable


def _array_elements(body: str):
    """The raw text of each element of a JSON array, split where nesting comes back to the
    array's own level (commas inside strings skipped); ValueError if it is not an array."""
    text = body.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError("not a JSON array")
    depth, start, in_string, escaped = 0, 1, False, False
    for i in range(1, len(text) - 1):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            yield text[start:i]
            start = i + 1
    if text[start:-1].strip():
        yield text[start:-1]


class _TooDeep(ValueError):
    pass


_MAX_DEPTH = 32  # SendGrid's events are two levels deep


def storable(event: dict) -> dict | None:
    """The event as the database can hold it, or None when it is nested deeper than any
    event SendGrid sends. Text PostgreSQL cannot store (NUL, half a surrogate pair) becomes
    U+FFFD, so the event is kept and still moves its notification."""
    try:
        return _clean(event, 0)
    except _TooDeep:
        return None


def _clean(value, depth: int):
    if depth > _MAX_DEPTH:
        raise _TooDeep
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, dict):
        return {_clean_text(str(k)): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    return value


def _clean_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text.replace("\x00", "\ufffd")


def apply_events(events: list) -> dict:
    """Store new events and apply them, in one transaction (committed here)."""
    counts = {"stored": 0, "duplicates": 0, "unknown": 0, "updated": 0, "ignored": 0}
    try:
        fresh = _unique_events(events, counts)
        known = _existing_event_ids([eid for eid, _ in fresh])
        counts["duplicates"] += sum(1 for eid, _ in fresh if eid in known)
        fresh = [(eid, e) for eid, e in fresh if eid not in known]
        wanted = {_notification_id(e) for _, e in fresh}
        wanted.update(m for _, e in fresh for m in _digest_ids(e))
        notifications = _lock_notifications(wanted)
        rows = _insert(fresh, notifications, counts)
        now = clock.now()
        for row in sorted(rows, key=lambda r: r.occurred_at):
            notification = notifications.get(row.notification_id)
            if notification is None:
                counts["unknown"] += 1
                continue
            if _apply(notification, row, now):
                counts["updated"] += 1
            # A digest answers several notifications; what happened to the email happened
            # to each of them (only ever the same candidate's).
            for member_id in _digest_ids(row.payload):
                member = notifications.get(member_id)
                if member is not None and member.candidate_id == notification.candidate_id:
                    counts["updated"] += _apply(member, row, now)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return counts


def _unique_events(events: list, counts: dict) -> list[tuple[str, dict]]:
    seen: dict[str, dict] = {}
    for event in events:
        event = storable(event) if isinstance(event, dict) else None
        if event is None:
            counts["ignored"] += 1
            continue
        eid = event_id(event)
        if eid in seen:
            counts["duplicates"] += 1
        else:
            seen[eid] = event
    return list(seen.items())


def event_id(event: dict) -> str:
    """SendGrid's sg_event_id; a stable hash of the event when it has none (or a huge one)."""
    eid = event.get("sg_event_id")
    if isinstance(eid, str) and 0 < len(eid) <= 200:
        return eid
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _notification_id(event: dict) -> int | None:
    # custom_args come back flattened into the event, as strings.
    raw = event.get("notification_id")
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and raw.strip().isdigit() and raw.strip().isascii():
        raw = int(raw.strip())
    if isinstance(raw, int) and 0 < raw <= _MAX_ID:
        return raw
    return None


def _digest_ids(event: dict) -> list[int]:
    raw = event.get("digest_ids") if isinstance(event, dict) else None
    if not isinstance(raw, str):
        return []
    ids = []
    for part in raw.split(",")[:1000]:
        part = part.strip()
        if part.isascii() and part.isdigit() and 0 < int(part) <= _MAX_ID:
            ids.append(int(part))
    return ids


def _existing_event_ids(ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found.update(
            db.session.scalars(
                sa.select(DeliveryEvent.sg_event_id).where(DeliveryEvent.sg_event_id.in_(chunk))
            )
        )
    return found


def _lock_notifications(ids: set[int | None]) -> dict[int, Notification]:
    wanted = sorted(i for i in ids if i is not None)
    found: dict[int, Notification] = {}
    for start in range(0, len(wanted), _CHUNK):
        # In id order, so two webhook deliveries touching the same rows cannot deadlock.
        query = (
            sa.select(Notification)
            .where(Notification.id.in_(wanted[start : start + _CHUNK]))
            .order_by(Notification.id)
            .with_for_update()
        )
        found.update((n.id, n) for n in db.session.scalars(query))
    return found


def _occurred_at(event: dict) -> datetime:
    try:
        return datetime.fromtimestamp(int(event["timestamp"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return clock.now()


def _text(value, limit: int | None = None) -> str | None:
    if value is None:
        return None
    value = value if isinstance(value, str) else str(value)
    return value[:limit] if limit else value


def _row(eid: str, event: dict, notifications: dict) -> DeliveryEvent:
    nid = _notification_id(event)
    return DeliveryEvent(
        sg_event_id=eid,
        notification_id=nid if nid in notifications else None,
        event=_text(event.get("event"), 40) or "unknown",
        event_type=_text(event.get("type"), 40),
        reason=_text(event.get("reason") or event.get("response")),
        occurred_at=_occurred_at(event),
        received_at=clock.now(),
        payload=event,
    )


def _insert(fresh: list[tuple[str, dict]], notifications: dict, counts: dict):
    """Insert all at once; if another request stored some meanwhile, fall back to one by one."""
    try:
        with db.session.begin_nested():
            rows = [_row(eid, e, notifications) for eid, e in fresh]
            db.session.add_all(rows)
        counts["stored"] += len(rows)
        return rows
    except IntegrityError:
        pass
    rows = []
    for eid, e in fresh:
        row = _row(eid, e, notifications)
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:
            counts["duplicates"] += 1
            continue
        counts["stored"] += 1
        rows.append(row)
    return rows


# -- what each event does to its notification ----------------------------------------------


def _went_out_after_all(n: Notification) -> bool:
    """An ambiguous send superseded before we knew: the provider says it went, so the
    record must say so too (the candidate did get it)."""
    return n.state == NState.SUPERSEDED and n.ambiguous_sends > 0


def _when(row: DeliveryEvent, now: datetime) -> datetime:
    """When the event happened (the provider's timestamp), not when its webhook reached us
    (batched, retried for up to a day); never later than now (a clock ahead of ours)."""
    occurred = row.occurred_at
    if occurred is None:
        return now
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=now.tzinfo)
    return min(occurred, now)


def _apply(n: Notification, row: DeliveryEvent, now: datetime) -> bool:
    if row.event == "delivered":
        if n.state not in DELIVERABLE_FROM and not _went_out_after_all(n):
            return False
        n.state = NState.DELIVERED.value
        n.delivered_at = _when(row, now)
        n.sent_at = n.sent_at or n.delivered_at
        n.error_kind = None  # e.g. an earlier "deferred" no longer matters
        stored_words.put(n, "last_error", None)
        return True
    if row.event in ("bounce", "dropped"):
        if n.state not in UNDELIVERABLE_FROM:
            return False
        _undeliverable(n, row, now)
        return True
    if row.event == "deferred":
        if n.state not in DELIVERABLE_FROM:
            return False
        # The provider's reason is its own words: quoted data after our marked prefix.
        stored_words.put(n, "last_error", words("error.deferred", reason=row.reason or None))
        n.error_kind = "deferred"
        return True
    if row.event == "processed":
        # The provider has it. This settles an ambiguous send (timeout after the request
        # left, worker killed mid-send) before the retry goes out: no duplicate.
        # Also while `sending`: it arrives within a second, usually before the worker
        # hears back; a timeout then finds the row settled and does not send it again.
        if n.state not in OWED and not _went_out_after_all(n):
            return False
        n.state = NState.SENT.value
        n.sent_at = n.sent_at or now
        n.lease_expires_at = None
        n.error_kind = None
        stored_words.put(n, "last_error", None)
        return True
    return False  # open, click, spamreport …: kept for the audit trail only


def _undeliverable(n: Notification, row: DeliveryEvent, now: datetime) -> None:
    reason = row.reason or None  # the provider's words; None reads "no reason given"
    when = _when(row, now)
    if row.event == "dropped":
        n.state, n.dropped_at, what = NState.DROPPED.value, when, "dropped"
        n.error_kind = "dropped"
    else:
        label = "blocked" if row.event_type == "blocked" else "bounce"
        n.state, n.bounced_at = NState.BOUNCED.value, when
        what = "blocked" if label == "blocked" else "bounced"
        n.error_kind = label
    stored_words.put(n, "last_error", words(f"error.{what}", reason=reason))
    _ensure_task(n, what, reason, now)


def _ensure_task(n: Notification, what: str, reason: str | None, now: datetime) -> None:
    """`what`: bounced, blocked or dropped (the codes task.<what> and detail.<what>)."""
    key = f"undeliverable:{n.id}"
    if db.session.scalar(sa.select(Task.id).where(Task.dedupe_key == key)) is not None:
        return
    name = (n.candidate.name if n.candidate else None) or None  # None: "the candidate"
    task = Task(
        kind="undeliverable",
        **stored_words.columns("title", words(f"task.{what}", name=name and name[:200]), limit=300),
        **stored_words.columns(
            "detail",
            words(f"detail.{what}", kind=n.kind, address=n.to_email or None, reason=reason),
        ),
        candidate_id=n.candidate_id,
        application_id=n.application_id,
        notification_id=n.id,
        assignee_id=n.application.position.owner_id,
        dedupe_key=key,
        due_at=now,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(task)
    except IntegrityError:
        pass  # a concurrent webhook delivery created it first
