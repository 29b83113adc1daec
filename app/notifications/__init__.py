"""THE GUARANTEE: no candidate is ever left without a response.

Read in this order:

1. `kinds.py`    – every message a candidate can be owed; terminal outcomes always owe one.
2. `outbox.py`   – owing: a `notifications` row written in the SAME transaction as the change
                   (see app/pipeline/services.py), keyed by its cause so it is owed once;
                   stale rows are superseded, never contradicted. `outbox.commit()` commits,
                   then dispatches.
3. `timing.py`   – when it may go: undo window, the candidate's business hours, the digest
                   window and their quiet hours.
4. `dispatch.py` – pending → queued: RQ jobs with ids derived from the rows (unique), in
                   batches. Redis is only the wake-up; losing it loses nothing.
5. `send.py`     – the job: claim (queued → sending, SKIP LOCKED, with a lease), take the
                   candidate's other waiting messages along (`pacing.py`), prepare one email
                   per candidate (`prepare.py`: opt-outs, quiet hours, daily cap — delayed,
                   never dropped; `render.py` with `links.py` and `expectations.py`), send through
                   `backends.py`, mark every message it answers sent. Errors are
                   classified: transient retries with backoff, permanent fails with a task
                   for a person, configuration pauses sending and alerts, ambiguous is
                   counted.
6. `reconcile.py`– the safety net on a schedule (workers/schedule.py): reclaim expired
                   leases, re-dispatch rows whose job vanished, repair the invariant,
                   escalate what is past its SLA.
7. `invariant.py`– the promise as a query: terminal applications without a response.
8. `events.py`   – what SendGrid tells us afterwards (delivered, bounced, dropped); for a
                   digest, about every message in it.
"""
