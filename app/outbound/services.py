"""Outbound webhooks: what is owed to whom (collect), and sending it (deliver).

The record of an event is its own row, committed with the change: a stage event, a task, a
message's state and time (sent_at, delivered_at, bounced_at, failed_at). `collect()` runs on
the scheduler and turns the last COLLECT_WINDOW of those rows into `webhook_deliveries` rows
(the outbox), one per subscribed endpoint, each with a message id derived from the event row,
so collecting twice owes nothing twice (unique endpoint + message id) and an event committed
late (a long transaction) is still found on the next pass. Every path that changes those rows
(pages, API, jobs, Core bulk updates in the engine) is covered without any of them calling
this module: the engine stays unaware of webhooks.

Deliveries due are sent by RQ jobs (`deliver`); a failure is retried on the BACKOFF schedule
(about 30 hours in all), then the delivery is `failed`. An endpoint that fails
WEBHOOK_DISABLE_AFTER_FAILURES times in a row is disabled with an alert for the admins; its
deliveries wait (nothing is dropped) and go out when an admin enables it again.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app import clock, stored_words
from app.extensions import db
from app.models import (
    WEBHOOK_EVENTS,
    Notification,
    StageEvent,
    Task,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.models.notifications import Alert
from app.models.replies import InboundReply, ReplyStatus
from app.orm import max_length
from app.outbound import signing
from app.stored_words import words

log = logging.getLogger(__name__)

COLLECT_WINDOW = timedelta(hours=1)
# Seconds to wait before each retry (Standard Webhooks' suggested schedule).
BACKOFF = (5, 300, 1800, 7200, 18000, 36000, 36000)
NOTIFICATION_EVENTS = {
    "notification.sent": Notification.sent_at,
    "notification.delivered": Notification.delivered_at,
    "notification.bounced": Notification.bounced_at,
    "notification.failed": Notification.failed_at,
}


# Replies that open a "reply owed" task (the others are recorded and owe nothing).
ANSWERED_REPLIES = (ReplyStatus.ACCEPTED.value, ReplyStatus.OTHER_SENDER.value)


class EndpointRefused(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# -- endpoints ------------------------------------------------------------------------------


def create_endpoint(*, url: str, events: list[str], description: str | None, actor: User):
    url = (url or "").strip()
    if not url.startswith(("https://", "http://")) or len(url) > max_length(WebhookEndpoint.url):
        raise EndpointRefused("url", _("Give the full address, starting with https://."))
    chosen = [e for e in WEBHOOK_EVENTS if e in set(events or [])]
    if not chosen:
        raise EndpointRefused("events", _("Choose at least one event."))
    endpoint = WebhookEndpoint(
        url=url,
        description=(description or "").strip()[: max_length(WebhookEndpoint.description)] or None,
        secret=signing.new_secret(),
        event_types=chosen,
        enabled=True,
        consecutive_failures=0,
        created_by_id=actor.id,
        created_at=clock.now(),
    )
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def set_enabled(endpoint: WebhookEndpoint, enabled: bool) -> None:
    """Enabling again sends what waited; the alert is resolved."""
    now = clock.now()
    endpoint.enabled = enabled
    if enabled:
        endpoint.disabled_at = None
        stored_words.put(endpoint, "disabled_reason", None)
        endpoint.consecutive_failures = 0
        db.session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.state == "pending")
            .values(next_attempt_at=now)
        )
        db.session.execute(
            sa.update(Alert)
            .where(Alert.dedupe_key == _alert_key(endpoint), Alert.resolved_at.is_(None))
            .values(resolved_at=now)
        )
    else:
        endpoint.disabled_at = now
        stored_words.put(endpoint, "disabled_reason", words("endpoint.disabled_by_admin"))
    db.session.commit()


def _alert_key(endpoint: WebhookEndpoint) -> str:
    return f"webhook_disabled:{endpoint.id}"


# -- collecting what is owed ----------------------------------------------------------------


def _events_since(since: datetime):
    """(event type, message id, occurred at, data) for the event rows since `since`."""
    for event in db.session.scalars(sa.select(StageEvent).where(StageEvent.occurred_at >= since)):
        application = event.application_id
        yield (
            "application.stage_changed",
            f"msg_stage_{event.id}",
            event.occurred_at,
            {
                "application_id": application,
                "from_stage": event.from_stage,
                "to_stage": event.to_stage,
                "reason": event.reason,
                "version": event.version,
            },
        )
    for task in db.session.scalars(sa.select(Task).where(Task.created_at >= since)):
        yield (
            "task.opened",
            f"msg_task_{task.id}",
            task.created_at,
            {
                "task_id": task.id,
                "kind": task.kind,
                "application_id": task.application_id,
                "candidate_id": task.candidate_id,
                "assignee_id": task.assignee_id,
                "due_at": task.due_at.isoformat() if task.due_at else None,
            },
        )
    # A candidate's email reply that is owed an answer (app/replies/); auto-replies, bounces
    # and replies with a bad token owe nothing and are not pushed. The text stays here: an
    # ATS reads it from the candidate's timeline, not from a webhook body.
    replies = db.session.execute(
        sa.select(
            InboundReply.id,
            InboundReply.candidate_id,
            InboundReply.application_id,
            InboundReply.notification_id,
            InboundReply.task_id,
            InboundReply.status,
            InboundReply.received_at,
        ).where(InboundReply.received_at >= since, InboundReply.status.in_(ANSWERED_REPLIES))
    )
    for rid, candidate_id, application_id, nid, task_id, status, at in replies:
        yield (
            "candidate.replied",
            f"msg_reply_{rid}",
            at,
            {
                "reply_id": rid,
                "candidate_id": candidate_id,
                "application_id": application_id,
                "in_reply_to_notification_id": nid,
                "task_id": task_id,
                "from_candidate": status == ReplyStatus.ACCEPTED.value,
            },
        )
    for event_type, column in NOTIFICATION_EVENTS.items():
        rows = db.session.execute(
            sa.select(
                Notification.id,
                Notification.application_id,
                Notification.candidate_id,
                Notification.kind,
                Notification.state,
                column,
            ).where(column >= since)
        )
        for nid, application_id, candidate_id, kind, state, at in rows:
            yield (
                event_type,
                f"msg_ntf_{nid}_{event_type.split('.')[1]}",
                at,
                {
                    "notification_id": nid,
                    "application_id": application_id,
                    "candidate_id": candidate_id,
                    "kind": kind,
                    "state": state,
                },
            )


def collect(now: datetime | None = None) -> int:
    """Owe each subscribed endpoint the events of the last COLLECT_WINDOW it has not been
    owed yet. Returns how many deliveries were added."""
    now = now or clock.now()
    endpoints = list(db.session.scalars(sa.select(WebhookEndpoint)))
    if not endpoints:
        return 0
    since = now - COLLECT_WINDOW
    events = list(_events_since(since))
    added = 0
    for endpoint in endpoints:
        wanted = [e for e in events if e[0] in endpoint.event_types and e[2] >= endpoint.created_at]
        if not wanted:
            continue
        known = set(
            db.session.scalars(
                sa.select(WebhookDelivery.message_id).where(
                    WebhookDelivery.endpoint_id == endpoint.id,
                    WebhookDelivery.created_at >= since - COLLECT_WINDOW,
                )
            )
        )
        for event_type, message_id, at, data in wanted:
            if message_id in known:
                continue
            payload = {"type": event_type, "timestamp": at.isoformat(), "data": data}
            db.session.add(
                WebhookDelivery(
                    endpoint_id=endpoint.id,
                    message_id=message_id,
                    event_type=event_type,
                    payload=payload,
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            added += 1
    try:
        db.session.commit()
    except sa.exc.IntegrityError:  # another collector got there first: it owes them
        db.session.rollback()
        return 0
    return added


def due(now: datetime | None = None, limit: int = 500) -> list[int]:
    now = now or clock.now()
    return list(
        db.session.scalars(
            sa.select(WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.state == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.enabled.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )


def sweep() -> dict:
    """The scheduler's pass: collect new events, enqueue the deliveries that are due (one RQ
    job each; the job id keeps one queued per delivery)."""
    from app.notifications.dispatch import MAINTENANCE_QUEUE, queue

    added = collect()
    ids = due()
    q = queue(MAINTENANCE_QUEUE)
    for delivery_id in ids:
        try:
            q.enqueue(
                "workers.jobs.deliver_webhook",
                delivery_id,
                job_id=f"webhook-{delivery_id}-{_attempt(delivery_id)}",
                unique=True,
            )
        except Exception as exc:  # noqa: BLE001 - a duplicate job id: it is queued already
            log.debug("webhook delivery %s not enqueued: %s", delivery_id, exc)
    return {"collected": added, "enqueued": len(ids)}


def _attempt(delivery_id: int) -> int:
    return (
        db.session.scalar(
            sa.select(WebhookDelivery.attempts).where(WebhookDelivery.id == delivery_id)
        )
        or 0
    )


# -- sending --------------------------------------------------------------------------------


def deliver(delivery_id: int) -> str:
    """Send one delivery now (an RQ job calls this); returns its state afterwards."""
    delivery = db.session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.state != "pending":
        db.session.rollback()
        return "gone" if delivery is None else delivery.state
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        db.session.rollback()
        return "waiting"
    now = clock.now()
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = signing.headers(endpoint.secret, delivery.message_id, int(now.timestamp()), body)
    status, error = _post(endpoint.url, body, headers)
    delivery.attempts += 1
    delivery.last_status = status
    if status is not None and 200 <= status < 300:
        delivery.state, delivery.delivered_at, delivery.last_error = "delivered", now, None
        endpoint.consecutive_failures = 0
    else:
        delivery.last_error = (error or f"answered {status}")[:500]
        _failed(delivery, endpoint, now)
    db.session.commit()
    return delivery.state


def _failed(delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime) -> None:
    if delivery.attempts > len(BACKOFF):
        delivery.state = "failed"
    else:
        delivery.next_attempt_at = now + timedelta(seconds=BACKOFF[delivery.attempts - 1])
    endpoint.consecutive_failures += 1
    limit = current_app.config["WEBHOOK_DISABLE_AFTER_FAILURES"]
    if endpoint.enabled and endpoint.consecutive_failures >= limit:
        from app.notifications.send import raise_alert

        endpoint.enabled = False
        endpoint.disabled_at = now
        # The receiver's answer is its own words: quoted data in ours.
        last = (delivery.last_error or "")[:200]
        stored_words.put(
            endpoint,
            "disabled_reason",
            words("endpoint.failed_in_a_row", limit=limit, last=last),
            limit=300,
        )
        raise_alert(
            "webhook_disabled",
            _alert_key(endpoint),
            words("alert.webhook_disabled", url=endpoint.url[:200], limit=limit),
        )


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str | None]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    timeout = current_app.config["WEBHOOK_TIMEOUT_SECONDS"]
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"answered {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"could not connect: {exc}"
