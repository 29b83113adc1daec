"""Job functions. Arguments are a versioned API: ids and plain values only; add keyword
arguments with defaults, never reorder."""

from __future__ import annotations

from app import collection_paused
from workers.context import job_context

# A send job goes on with batches waiting in the queue for this long (real seconds) of its
# own run, and starts none after; at most a quarter of its RQ timeout (SEND_LEASE_SECONDS
# - 15, 105 s by default), since each batch can add up to three provider timeouts
# (send.MAX_FAILED_REQUESTS x SENDGRID_TIMEOUT_SECONDS) and the job must end inside it.
TAKE_OVER_SECONDS = 10.0


def send_notifications(notification_ids: list[int]) -> dict:
    from app.notifications.dispatch import send_job_timeout
    from app.notifications.send import deliver

    # No cyclic collection while the batch is loaded and rendered: the objects it makes are
    # freed by reference counting (a collection after a 1,000-email batch finds some 30
    # unreachable ones), and the collector's passes over them while alive cost a quarter of
    # loading the batch (prepare._load, in-process on the worker's frozen heap). The job is
    # its batch and the ones it takes over within take_over seconds, so the garbage left
    # for the collector stays a few dozen objects a batch; a fork worker's child exits
    # after it and a simple worker collects again as usual afterwards.
    with job_context(), collection_paused():
        # A job of one also takes the messages waiting alone in other jobs (send.coalesce);
        # a job that is done goes on with the batches still waiting (send.take_waiting_batch).
        take_over = min(TAKE_OVER_SECONDS, send_job_timeout() / 4)
        return deliver(list(notification_ids), coalesce_waiting=True, take_over_seconds=take_over)


def send_staff_messages(staff_message_ids: list[int]) -> dict:
    """Staff mail (the morning digest), on the same queue as candidate mail."""
    from app.reports.digest import send_staff_messages as send

    with job_context():
        return send(list(staff_message_ids))


def run_periodic(func: str) -> object:
    """A SCHEDULE entry that runs on a worker ("module:function")."""
    import importlib

    module, _, name = func.partition(":")
    with job_context():
        return getattr(importlib.import_module(module), name)()


def send_status_link(email: str) -> int:
    """A candidate's "email me a new link" from the status pages (notifications queue)."""
    from app.status.services import request_link

    with job_context():
        return request_link(email)


def run_import(import_id: int) -> str:
    """A confirmed CSV import of candidates, written in one transaction (maintenance queue)."""
    from app.imports.running import execute

    with job_context():
        return execute(import_id)


def deliver_webhook(delivery_id: int) -> str:
    """One outbound webhook delivery (maintenance queue); retries are the sweep's."""
    from app.outbound.services import deliver

    with job_context():
        return deliver(delivery_id)
