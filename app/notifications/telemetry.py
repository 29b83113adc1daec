"""What the send path reports about itself: counters for /metrics and the log line that ties
a notification to the provider's message id. The engine calls these and nothing else of
app.metrics, so counting never changes what is sent.

A SendGrid X-Message-Id covers one request (up to 1,000 personalizations): the line names
every notification it answers, so grepping a notification id finds its provider id, and its
request id (in the same line, from the job's context) leads back to the click that owed it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from app import metrics
from app.logs import mask_email
from app.notifications.errors import (
    AmbiguousSendError,
    ConfigurationError,
    PermanentSendError,
    SendError,
)

log = logging.getLogger("closeloop.sends")


def outcome_of(exc: BaseException | None) -> str:
    if exc is None:
        return "accepted"
    if isinstance(exc, ConfigurationError):
        return "configuration"
    if isinstance(exc, AmbiguousSendError):
        return "ambiguous"
    if isinstance(exc, PermanentSendError):
        return "permanent"
    return "transient"


def send_result(ready: list, provider_ids: list[str] | None, exc: SendError | None = None):
    """After one `send_batch`: `ready` are the Prepared emails handed over; on success
    `provider_ids` holds one id each. On a SendError, the emails it accepted before failing
    count as accepted, those of the failed request by the error's outcome, and untried ones
    not at all."""
    if exc is None:
        _accepted(ready, provider_ids or [])
        return
    accepted = getattr(exc, "accepted", None) or {}
    done = [p for p in ready if p.id in accepted]
    if done:
        _accepted(done, [accepted[p.id] for p in done])
    attempted = getattr(exc, "attempted", None)
    failed = [p for p in ready if p.id not in accepted and (attempted is None or p.id in attempted)]
    if failed:
        outcome = outcome_of(exc)
        metrics.SENDS.labels(outcome).inc(len(failed))
        log.warning(
            "send %s for %d email(s) (notifications %s): %s",
            outcome,
            len(failed),
            _ids(failed),
            exc.reason,
        )


def _accepted(ready: list, provider_ids: list[str]) -> None:
    metrics.SENDS.labels("accepted").inc(len(ready))
    by_provider_id: dict[str, list] = {}
    for p, provider_id in zip(ready, provider_ids, strict=True):
        by_provider_id.setdefault(provider_id, []).append(p)
    for provider_id, emails in by_provider_id.items():
        first = emails[0].message
        log.info(
            "provider accepted %d email(s), X-Message-Id %s: notifications %s (%s, to %s%s)",
            len(emails),
            provider_id,
            _ids(emails),
            first.category,
            mask_email(first.to_email),
            f" and {len(emails) - 1} more" if len(emails) > 1 else "",
        )


def _ids(emails: list) -> str:
    return ",".join(str(i) for p in emails for i in p.ids)


@contextlib.contextmanager
def provider_request() -> Iterator[None]:
    """Times one request to the provider, whatever its end."""
    started = time.perf_counter()
    try:
        yield
    finally:
        metrics.PROVIDER_LATENCY.observe(time.perf_counter() - started)
