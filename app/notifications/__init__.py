"""THE GUARANTEE: no candidate is ever left without a response.

A change that owes a candidate news writes a `notifications` row in the same transaction as
the change; after the commit Redis only wakes a worker up; the reconciler keeps sweeping the
table for whatever is still owed. Every module of this folder, in reading order:

Owing
  kinds.py            every message a candidate can be owed; terminal outcomes always owe one.
  outbox.py           owe(): a row written in the caller's transaction (app/pipeline/), keyed
                      by its cause so it is owed once; stale rows are superseded, never
                      contradicted; discharge() settles one without an email. Dispatch after
                      commit is a session event: any commit that owed something hands it to
                      the queue; a rollback, or a preview's savepoint (trial()), forgets it.
  timing.py           when it may go: undo window, business hours on business days
                      (app/business_days.py), digest window, quiet hours.
Sending
  dispatch.py         pending -> queued: RQ jobs with ids derived from their rows, in batches.
  send.py             the job: claim (SKIP LOCKED, under a lease), prepare, send, record;
                      then, for a few seconds, the batches still waiting in the queue.
  errors.py           how a failure is classified: transient retries with backoff, permanent
                      fails with a task for a person, configuration pauses sending and alerts
                      an admin, ambiguous (a timeout after the request left) waits for the
                      provider's word before sending again.
  pacing.py           the digest, quiet hours, the daily cap: delayed, never dropped.
  prepare.py          claimed rows -> one email per candidate; opted-out updates settled.
  render.py           the email: what happened, what happens next, when they will hear from
                      us, whom to contact. Wording from templates/email/kinds/, or
  custom_templates.py the agency's edits, rendered in a sandbox; dates from
  expectations.py     what the candidate was told to expect next (shared with the status page);
  links.py            signed status-page and unsubscribe links.
  stencils.py         a fan-out's layout rendered once per shape and filled per candidate. The
                      riskiest module here: one candidate's data must never reach another's
                      email; its docstring lists what keeps them apart.
  backends.py         the email interface: the development mailbox, or
  sendgrid_backend.py SendGrid, many candidates per request, each seeing only their own.
Keeping the promise
  reconcile.py        the safety net (workers/schedule.py): reclaim expired leases, dispatch
                      what lost its job, repair the invariant, escalate what is past its SLA.
  invariant.py        the promise as a query: terminal applications without a response.
  events.py           what SendGrid says afterwards (delivered, bounced, dropped), for every
                      message of a digest.
  cli.py              `flask notifications status | reconcile | retry-failed | resume`.

The states of a message (NState, TRANSITIONS and its named sets: app/models/notifications.py)

   owe()     dispatch          claim              accepted
  ──────► pending ──────► queued ──────► sending ──────────► sent ────► delivered
           ▲  ▲ ◄─ job lost ─┘  ▲          │  │  │             │            │
           │  │                 └─ retry ──┘  │  │ rejected    └─────┬──────┘
           │  └─ paced, worker died, opt-out ─┘  ▼                   ▼ bounce, drop
           └──────────── sent again ───────── failed          bounced, dropped

  pending, queued ─────────── newer news ─────────────────────► superseded
  pending, queued, failed ─── contact, exemption, opt-out ─────► discharged
  A claim takes pending rows too (a digest takes the candidate's other waiting messages). A
  superseded message becomes sent or delivered only when an ambiguous send turns out to have
  gone after all. The provider's events may overtake our own record (provider news).

  Every move, exactly (a test holds this list, TRANSITIONS and the code to each other):
    pending    → queued, sending, superseded, discharged  + provider news
    queued     → pending, sending, superseded, discharged  + provider news
    sending    → pending, queued, failed  + provider news
    sent       → delivered, bounced, dropped
    delivered  → bounced, dropped
    failed     → pending, discharged
    superseded → sent, delivered
    final: bounced, dropped, discharged
    provider news = sent, delivered, bounced, dropped
"""
