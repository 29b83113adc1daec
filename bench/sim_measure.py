"""What the candidates of `make simulate` lived through, measured at the end.

"Received" comes from the SendGrid stand-in's records (each accepted personalization: the
address and the notification ids it answers, a digest answering several), "when" from the
moment our record says it was handed over (`sent_at`, simulated time), "bounced" from the
addresses the simulation made dead. The engine's own bookkeeping is not trusted to grade
itself: an outcome counts as told only if the stand-in accepted it for a live mailbox, or a
recruiter logged a contact after the decision.

  owed               applications that ended (each owes the candidate its outcome)
  told / untold      of those, told by an email that arrived, or by a logged contact
  p95_seconds        decision -> handed to the provider, minus the delays the rules chose
                     (undo window, business hours, digest window, quiet hours, daily cap):
                     sent_at - max(created_at, due_at), due_at being the last rule-chosen time
  promises_kept_pct  promised decision dates (the client's, and the next date each "still
                     deciding" email names, however many came before it) answered by a
                     decision or a "still deciding" email by the date: after the promise was
                     made and before the end of the promised date's day in the candidate's
                     zone (a date of 17:00 in London is kept in Kolkata by an email before
                     midnight there, where quiet hours begin at 21:00); promises replaced by a
                     newer one before their day ended, or whose day is after the run, are not
                     counted
  max_per_day        most status emails one candidate got in one local day (answers to their
                     own requests excepted)
  contradictions     two different outcomes for one application, or an update after an outcome
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

DECISIONS = ("offer",)  # besides the outcomes: a decision the candidate hears about


@dataclass
class Received:
    email: str
    notification_ids: list[int]
    message_id: str


def received(records: list[dict]) -> list[Received]:
    out = []
    for r in records:
        args = r.get("custom_args") or {}
        ids = [int(args["notification_id"])] if args.get("notification_id") else []
        ids += [int(x) for x in str(args.get("digest_ids") or "").split(",") if x.strip()]
        for email in r["to"]:
            out.append(Received(email.lower(), sorted(set(ids)), r["message_id"]))
    return out


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1)]


def measure(records: list[dict], promises, bounce_domain: str, end: datetime) -> dict:
    from app.extensions import db
    from app.models import Application, Candidate, Contact, Notification
    from app.notifications.kinds import KINDS, OUTCOME_KIND, REQUESTED_KINDS

    outcomes = set(OUTCOME_KIND.values())
    rows = {
        n.id: n
        for n in db.session.execute(
            sa.select(
                Notification.id,
                Notification.application_id,
                Notification.candidate_id,
                Notification.kind,
                Notification.created_at,
                Notification.due_at,
                Notification.sent_at,
                Notification.context,
            )
        )
    }
    zones = dict(db.session.execute(sa.select(Candidate.id, Candidate.timezone)).all())
    got = [r for r in received(records) if r.notification_ids]

    # What each application's candidate actually received, in order.
    per_app: dict[int, list[tuple[datetime, str, str, bool]]] = defaultdict(list)
    for r in got:
        live = not r.email.endswith("@" + bounce_domain)
        for nid in r.notification_ids:
            n = rows.get(nid)
            if n is not None and n.sent_at is not None:
                per_app[n.application_id].append((n.sent_at, n.kind, r.message_id, live))
    for items in per_app.values():
        items.sort()
    owed_by_app: dict[int, set[int]] = defaultdict(set)  # received notification ids
    for r in got:
        for nid in r.notification_ids:
            if nid in rows:
                owed_by_app[rows[nid].application_id].add(nid)

    # owed / told
    contacts: dict[int, list[datetime]] = defaultdict(list)
    for app_id, at in db.session.execute(
        sa.select(Contact.application_id, Contact.occurred_at).where(
            Contact.application_id.is_not(None)
        )
    ):
        contacts[app_id].append(at)
    ended = db.session.execute(
        sa.select(
            Application.id,
            Application.stage,
            Application.outcome_reason,
            Application.stage_entered_at,
        ).where(Application.stage.in_(("hired", "rejected", "withdrawn", "position_closed")))
    ).all()
    untold_ids = []
    for app_id, stage, reason, entered in ended:
        kind = OUTCOME_KIND.get((stage, reason))
        by_email = any(k == kind and live for _, k, _, live in per_app.get(app_id, ()))
        by_person = any(at >= entered for at in contacts.get(app_id, ()))
        if not (by_email or by_person):
            untold_ids.append(app_id)

    # p95: decision -> handed over, outside the delays the rules chose
    waits = [
        max(0.0, (n.sent_at - max(n.created_at, n.due_at)).total_seconds())
        for n in rows.values()
        if n.sent_at is not None
    ]

    # max per day: status emails per candidate per local day
    per_day: Counter = Counter()
    counted: set[tuple[str, str]] = set()
    for r in got:
        kinds = [rows[i].kind for i in r.notification_ids if i in rows]
        if not kinds or all(k in REQUESTED_KINDS for k in kinds):
            continue
        lead = rows[r.notification_ids[0]]
        if lead.sent_at is None or (r.email, r.message_id) in counted:
            continue
        counted.add((r.email, r.message_id))
        zone = ZoneInfo(zones.get(lead.candidate_id) or "Europe/London")
        per_day[(r.email, lead.sent_at.astimezone(zone).date())] += 1

    # contradictions: two outcomes; an update sent after an outcome, or owed after the
    # decision that ended the application (it would arrive before the outcome, or after it)
    ended_at = {app_id: entered for app_id, _, _, entered in ended}
    contradictions = []
    for app_id, items in per_app.items():
        told = {k for _, k, _, _ in items if k in outcomes}
        first_outcome = min((at for at, k, _, _ in items if k in outcomes), default=None)
        after = [
            k
            for at, k, _, _ in items
            if first_outcome is not None and at > first_outcome and k not in outcomes
        ]
        decided = ended_at.get(app_id)
        after += [
            rows[nid].kind
            for nid in owed_by_app.get(app_id, ())
            if decided is not None
            and rows[nid].kind not in outcomes
            and rows[nid].created_at > decided
        ]
        if len(told) > 1 or after:
            contradictions.append((app_id, [(at.isoformat(), k) for at, k, _, _ in items]))

    kept, counted_promises, broken = _promises(promises, rows, per_app, zones, outcomes, end)
    del KINDS
    return {
        "owed": len(ended),
        "told": len(ended) - len(untold_ids),
        "untold": untold_ids,
        "p95_seconds": percentile(waits, 95),
        "p50_seconds": percentile(waits, 50),
        "sent": len(waits),
        "promises": counted_promises,
        "promises_kept_pct": 100.0 * kept / counted_promises if counted_promises else 100.0,
        "broken_promises": broken,
        "max_per_day": max(per_day.values(), default=0),
        "per_day_histogram": dict(sorted(Counter(per_day.values()).items())),
        "contradictions": contradictions,
    }


def _promises(promises, rows, per_app, zones, outcomes, end):
    """Each promised date, kept or not (see the module docstring)."""
    from app.extensions import db
    from app.models import Application

    owners = dict(db.session.execute(sa.select(Application.id, Application.candidate_id)).all())
    made: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for p in promises:
        made[p.application_id].append((p.made_at, p.promised))
    for n in rows.values():  # each "still deciding" email names the new date
        if n.kind == "still_deciding" and n.sent_at is not None and n.context:
            new = n.context.get("new_expected_at")
            if new:
                made[n.application_id].append((n.sent_at, datetime.fromisoformat(new)))
    answers = set(outcomes) | set(DECISIONS) | {"still_deciding"}
    kept = counted = 0
    broken = []
    for app_id, items in made.items():
        items.sort()
        zone = ZoneInfo(zones.get(owners.get(app_id)) or "Europe/London")
        for i, (made_at, promised) in enumerate(items):
            local = promised.astimezone(zone)
            deadline = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0)
            deadline = deadline.astimezone(promised.tzinfo)
            if deadline > end:
                continue
            if any(later_made < deadline for later_made, _ in items[i + 1 :]):
                continue  # replaced by a newer promise before its day ended
            counted += 1
            if any(
                k in answers and made_at < at <= deadline for at, k, _, _ in per_app.get(app_id, ())
            ):
                kept += 1
            else:
                broken.append((app_id, promised.isoformat()))
    return kept, counted, broken


def week_figures(start: datetime, weeks: int) -> list[dict]:
    """Owed, sent, bounced and the p95 wait per simulated week, from the database."""
    from app.extensions import db
    from app.models import Notification

    figures = []
    for w in range(weeks):
        lo, hi = start + timedelta(weeks=w), start + timedelta(weeks=w + 1)
        created = db.session.scalar(
            sa.select(sa.func.count()).where(
                Notification.created_at >= lo, Notification.created_at < hi
            )
        )
        sent = db.session.execute(
            sa.select(Notification.sent_at, Notification.created_at, Notification.due_at).where(
                Notification.sent_at >= lo, Notification.sent_at < hi
            )
        ).all()
        bounced = db.session.scalar(
            sa.select(sa.func.count()).where(
                Notification.bounced_at >= lo, Notification.bounced_at < hi
            )
        )
        waits = [max(0.0, (s - max(c, d)).total_seconds()) for s, c, d in sent]
        figures.append(
            {
                "owed": created,
                "sent": len(sent),
                "bounced": bounced,
                "p95_seconds": percentile(waits, 95),
            }
        )
    return figures
