"""Prometheus metrics. This module defines what processes count as it happens (sends and
their outcome, SendGrid's latency, webhook events and refusals; the engine counts through
app/notifications/telemetry.py); `state.py` reads what the database and Redis say at scrape
time; `exposition.py` serves both.

Under gunicorn and RQ several processes count, so with PROMETHEUS_MULTIPROC_DIR set each one
writes its values to files in that directory, which every scrape adds up (prometheus-client's
multiprocess mode). RQ's fork worker runs each job in a new work horse; counting under the
horse's own pid would leave a file per job behind, so the horses of one worker share one
file (they never run two at a time): see `mark_rq_worker`.
"""

from __future__ import annotations

import logging
import os

from prometheus_client import Counter, Histogram, values

log = logging.getLogger(__name__)

_rq_worker_pid: int | None = None


def _process_identifier() -> str:
    pid = os.getpid()
    if _rq_worker_pid is not None and pid != _rq_worker_pid:
        return f"{_rq_worker_pid}_horse"
    return str(pid)


def mark_rq_worker() -> None:
    """Called by the RQ worker before it forks: its work horses count in one shared file."""
    global _rq_worker_pid
    _rq_worker_pid = os.getpid()


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    # Before any metric below is created: each reads the value class when it is made.
    values.ValueClass = values.MultiProcessValue(_process_identifier)

# How a send ended, in words the alert rules and dashboards use.
OUTCOMES = ("accepted", "transient", "permanent", "ambiguous", "configuration")
WEBHOOK_EVENTS = ("processed", "delivered", "deferred", "bounce", "dropped", "other")
WEBHOOK_REFUSALS = (
    "not_configured",
    "invalid_key",
    "unsigned",
    "stale_timestamp",
    "invalid_signature",
    "invalid_body",
)
_KNOWN_EVENTS = set(WEBHOOK_EVENTS) | {
    "open",
    "click",
    "spamreport",
    "unsubscribe",
    "group_unsubscribe",
    "group_resubscribe",
}

SENDS = Counter(
    "closeloop_sends",
    "Emails handed to the provider, by the outcome of the request that carried them "
    "(each attempt counts)",
    ["outcome"],
)
PROVIDER_LATENCY = Histogram(
    "closeloop_sendgrid_request_duration_seconds",
    "Time SendGrid took to answer a mail send request (or to fail)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WEBHOOK_EVENTS_RECEIVED = Counter(
    "closeloop_webhook_events",
    "SendGrid delivery events received in verified webhook posts, by event type",
    ["event"],
)
WEBHOOK_REFUSED = Counter(
    "closeloop_webhook_refusals",
    "SendGrid webhook posts refused, by reason",
    ["reason"],
)
# Every series exists from the start, so rates and alerts see a zero, not nothing.
for _outcome in OUTCOMES:
    SENDS.labels(_outcome)
for _event in WEBHOOK_EVENTS:
    WEBHOOK_EVENTS_RECEIVED.labels(_event)
for _reason in WEBHOOK_REFUSALS:
    WEBHOOK_REFUSED.labels(_reason)


def webhook_event_label(event: object) -> str:
    return event if isinstance(event, str) and event in _KNOWN_EVENTS else "other"
