"""Chaos soak: N pipeline operations while workers are SIGKILLed, Redis is flushed and the mail
API fails; afterwards, is every owed message sent exactly once?

How: the real processes on 127.0.0.1 — the web app (gunicorn, so SendGrid's signed Event
Webhook is live), the scheduler (reconciler), 2 RQ workers, and the project's SendGrid stub with
fault injection (10% 500, 5% 429, 2% accepted-then-timed-out) that POSTs "processed" and
"delivered" events back for everything it accepts. This process drives N operations through
app.pipeline.services (adds, stage moves, interviews, rejections, withdrawals, hires, undos,
logged calls, position holds, cancellations and fills that fan out) while a chaos thread
SIGKILLs a random worker with all its descendants every few seconds and restarts it, and twice
runs FLUSHDB on Redis db 9 (standing for Redis losing everything: a restart without
persistence). Then chaos stops, the system drains, and the database is compared with what the
stub accepted:

  owed        notifications not superseded
  sent        sent + delivered (+ bounced / dropped)
  discharged  settled by a logged contact
  lost        owed but neither sent nor discharged (failed included: the soak creates no bad
              addresses), plus any marked sent that the stub never accepted
  duplicates  stub-accepted copies beyond the first per notification id (a digest email
              counts for every notification it answers)

    make soak      # or: .venv/bin/python bench/soak.py --n 2000 --workers 2 --seconds 900

The last line is `soak: owed=<n> sent=<n> discharged=<n> lost=<n> duplicates=<n> seconds=<s>`.
"""

from __future__ import annotations

import argparse
import base64
import random
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (make soak)
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from app.models.notifications import HANDED_OVER, OWED  # noqa: E402
from bench import common  # noqa: E402

# The engine, tuned so that minutes of soak cover what production sees in days.
ENGINE = {
    "UNDO_WINDOW_SECONDS": 2,  # supersede and undo happen for real
    "BUSINESS_HOURS_ENFORCED": 0,
    "SENDGRID_TIMEOUT_SECONDS": 2,  # the stub holds a "timeout" answer for 4 s
    "SEND_BACKOFF_SECONDS": "1,2,4,8",
    "SEND_LEASE_SECONDS": 10,
    "AMBIGUOUS_SETTLE_SECONDS": 5,  # wait this long for "processed" before resending
    "QUEUED_GRACE_SECONDS": 3,
    "DISPATCH_INTERVAL_SECONDS": 1,
    "RECONCILE_INTERVAL_SECONDS": 2,
    # Pacing: digests for real, but nothing held until the candidate's morning or tomorrow
    # (a soak must drain in minutes); the daily cap is counted, just never reached.
    "CANDIDATE_DIGEST_WINDOW_SECONDS": 2,
    "QUIET_HOURS_ENFORCED": 0,
    "MAX_STATUS_EMAILS_PER_DAY": 1000,
}
FAULTS = ("--fail-500", "0.1", "--fail-429", "0.05", "--timeout-after-accept", "0.02")
NEXT_STAGE = {
    "sourced": "submitted",
    "submitted": "client_review",
    "client_review": "interview",
    "interview": "offer",
}
ACTIVE = ("sourced", "submitted", "client_review", "interview", "offer")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="pipeline operations to drive")
    parser.add_argument("--workers", type=int, default=2, help="RQ worker processes")
    parser.add_argument("--seconds", type=float, default=1800, help="limit for drive + drain")
    parser.add_argument("--simple", action="store_true", help="workers run jobs in-process")
    parser.add_argument("--kill-every", type=float, default=4.0, help="mean seconds per kill")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument(
        "--delivered-delay", type=float, default=2.0, help="stub: seconds to 'delivered' event"
    )
    return parser.parse_args(argv)


# -- the system under test ------------------------------------------------------------------


def webhook_keys() -> tuple[Path, str]:
    """A P-256 key pair: the private half for the stub, the public one (base64 DER) for us."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    common.OUT.mkdir(parents=True, exist_ok=True)
    path = common.OUT / "webhook-private-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, base64.b64encode(der).decode()


def start_web(procs: common.Processes, env: dict) -> str:
    port = common.free_port()
    args = ["-m", "gunicorn", "--bind", f"{common.HOST}:{port}", "--workers", "2"]
    proc = procs.start("web", [*args, "--timeout", "60", "app:create_app()"], env)
    url = f"http://{common.HOST}:{port}"

    up = common.wait_until(lambda: common.http_ok(f"{url}/healthz") or not proc.alive(), 60)
    if not up or not proc.alive():
        raise RuntimeError(f"the web app did not start; see {proc.log_path}")
    return url


class Workers:
    """The RQ worker slots; a killed worker is replaced under a new name (RQ keeps the old
    name registered until its key expires)."""

    def __init__(self, procs: common.Processes, env: dict, count: int, simple: bool):
        self.procs, self.env, self.simple = procs, env, simple
        self.generation = 0
        self.slots = [self._start(i) for i in range(count)]
        self.kills = 0

    def _start(self, slot: int) -> common.Proc:
        self.generation += 1
        name = f"soak-w{slot}-g{self.generation}"
        return common.start_worker(self.procs, self.env, name, simple=self.simple)

    def kill_and_restart(self, rng: random.Random) -> None:
        slot = rng.randrange(len(self.slots))
        old = self.slots[slot]
        old.kill()
        self.procs.procs.remove(old)
        old.stop()  # closes its log file; the processes are gone already
        self.slots[slot] = self._start(slot)
        self.kills += 1


class Chaos(threading.Thread):
    """Kills a random worker every few seconds; flushes Redis db 9 at 1/3 and 2/3 of the run."""

    def __init__(self, workers: Workers, progress, kill_every: float, seed: int):
        super().__init__(name="chaos", daemon=True)
        self.workers, self.progress, self.kill_every = workers, progress, kill_every
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        self.flushes: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        thresholds = [1 / 3, 2 / 3]
        next_kill = time.monotonic() + self._interval()
        while not self.stopping.wait(0.2):
            try:
                if thresholds and self.progress() >= thresholds[0]:
                    thresholds.pop(0)
                    common.flush_redis()  # Redis lost everything (restart, no persistence)
                    self.flushes.append(self.progress())
                if time.monotonic() >= next_kill:
                    self.workers.kill_and_restart(self.rng)
                    next_kill = time.monotonic() + self._interval()
            except Exception as exc:  # noqa: BLE001 - reported at the end, chaos goes on
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def _interval(self) -> float:
        return self.kill_every * self.rng.uniform(0.5, 1.5)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)


# -- the data the operations work on --------------------------------------------------------


class Bag:
    """A set with O(1) random choice."""

    def __init__(self):
        self.items: list[int] = []
        self.where: dict[int, int] = {}

    def add(self, item: int) -> None:
        if item not in self.where:
            self.where[item] = len(self.items)
            self.items.append(item)

    def discard(self, item: int) -> None:
        i = self.where.pop(item, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.where[last] = i

    def choice(self, rng: random.Random) -> int | None:
        return rng.choice(self.items) if self.items else None

    def __len__(self) -> int:
        return len(self.items)


def seed_world(rng: random.Random, n: int) -> dict:
    """Staff, 30 open positions with 40 active applications each, and a candidate pool."""
    from app.extensions import db
    from app.models import Application, Client, User

    users = [
        User(name=f"Recruiter {i}", email=f"r{i}@agency.test", password_hash="!")  # noqa: S106
        for i in range(5)
    ]
    clients = [Client(name=f"Client {i}") for i in range(6)]
    db.session.add_all(users + clients)
    db.session.flush()
    positions = [new_position(rng, clients, users) for _ in range(30)]
    pool = insert_candidates(30 * 40 + n // 3 + 100, rng)
    now = datetime.now(UTC)
    rows = [
        {
            "candidate_id": pool.pop(),
            "position_id": p.id,
            "stage": rng.choice(ACTIVE),
            "stage_entered_at": now,
            "version": 1,
        }
        for p in positions
        for _ in range(40)
    ]
    db.session.execute(sa.insert(Application), rows)
    db.session.commit()
    return {"users": [u.id for u in users], "clients": [c.id for c in clients], "pool": pool}


def new_position(rng: random.Random, clients, users):
    from app.extensions import db
    from app.models import Position

    client = rng.choice(clients)
    owner = rng.choice(users)
    p = Position(
        client_id=client if isinstance(client, int) else client.id,
        owner_id=owner if isinstance(owner, int) else owner.id,
        title=rng.choice(("Backend Engineer", "Data Analyst", "Nurse", "Site Manager")),
        location="Leeds",
    )
    db.session.add(p)
    db.session.flush()
    return p


def insert_candidates(count: int, rng: random.Random) -> list[int]:
    import secrets

    from app.extensions import db
    from app.models import Candidate

    zones = ("Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Sydney", None)
    tag = secrets.token_hex(3)
    rows = [
        {
            "name": f"Candidate {tag}-{i}",
            "email": f"c-{tag}-{i}@example.test",
            "timezone": rng.choice(zones),
            "token_secret": secrets.token_urlsafe(32),
        }
        for i in range(count)
    ]
    insert = sa.insert(Candidate).returning(Candidate.id, sort_by_parameter_order=True)
    return list(db.session.scalars(insert, rows))


# -- the operations -------------------------------------------------------------------------

WEIGHTS = {
    "add": 26,
    "advance": 30,
    "interview": 6,
    "reject": 10,
    "withdraw": 4,
    "hire": 2,
    "undo": 8,
    "contact": 2,
    "close": 1,
    "hold": 0.3,
}
CLOSINGS = (
    ("cancelled", "budget_cut"),
    ("cancelled", "client_withdrew"),
    ("filled", "filled_by_other"),
    ("filled", "filled_internally"),
)


class World:
    """What the soak knows about its own data, so each operation is a plausible one."""

    def __init__(self, rng: random.Random, seeded: dict):
        self.rng = rng
        self.users, self.clients, self.pool = seeded["users"], seeded["clients"], seeded["pool"]
        self.open, self.held, self.active = Bag(), Bag(), Bag()
        self.stage: dict[int, str] = {}
        self.members: dict[int, set[int]] = {}
        self.recent: list[int] = []
        self.done, self.refused, self.errors = Counter(), Counter(), Counter()
        self.first_errors: list[str] = []
        self.ops = 0
        self._load()

    def _load(self) -> None:
        from app.extensions import db
        from app.models import Application, Position

        for pid in db.session.scalars(sa.select(Position.id).where(Position.status == "open")):
            self.open.add(pid)
            self.members[pid] = set()
        rows = db.session.execute(sa.select(Application.id, Application.position_id)).all()
        for app_id, pid in rows:
            self.members[pid].add(app_id)
            self.active.add(app_id)
        for app_id, stage in db.session.execute(sa.select(Application.id, Application.stage)):
            self.stage[app_id] = stage
        db.session.commit()

    def step(self) -> None:
        from app.extensions import db
        from app.pipeline.services import PipelineError

        name = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        try:
            if getattr(self, f"op_{name}")() is False:
                self.refused[f"{name} (nothing suitable)"] += 1
            else:
                self.done[name] += 1
        except PipelineError:
            db.session.rollback()
            self.refused[name] += 1
        except Exception as exc:  # noqa: BLE001 - counted and shown: the soak goes on
            db.session.rollback()
            self.errors[f"{name}: {type(exc).__name__}"] += 1
            if len(self.first_errors) < 5:
                self.first_errors.append(f"{name}: {type(exc).__name__}: {exc}"[:500])
        self.ops += 1

    # -- helpers ---------------------------------------------------------------------------

    def actor(self):
        from app.extensions import db
        from app.models import User

        return db.session.get(User, self.rng.choice(self.users))

    def pick(self, stages=ACTIVE, movable: bool = True):
        """A random active application in one of `stages` (on an open position if movable)."""
        from app.extensions import db
        from app.models import Application

        for _ in range(20):
            app_id = self.active.choice(self.rng)
            if app_id is None:
                return None
            if self.stage[app_id] in stages:
                application = db.session.get(Application, app_id)
                if not movable or application.position_id in self.open.where:
                    return application
        return None

    def track(self, application) -> None:
        """Record where an application stands after an operation (re-read from the database)."""
        self.stage[application.id] = application.stage
        if application.stage in ACTIVE:
            self.active.add(application.id)
            self.members[application.position_id].add(application.id)
        else:
            self.active.discard(application.id)
            self.members[application.position_id].discard(application.id)
        self.recent.append(application.id)
        del self.recent[:-300]

    def move(self, to_stage: str, stages=ACTIVE, **kwargs):
        from app.pipeline import services

        application = self.pick(stages)
        if application is None:
            return False
        services.move_stage(application, to_stage, actor=self.actor(), **kwargs)
        self.track(application)
        return True

    # -- one method per operation ----------------------------------------------------------

    def op_add(self):
        from app.extensions import db
        from app.models import Candidate, Position
        from app.pipeline import services

        pid = self.open.choice(self.rng)
        if pid is None or not self.pool:
            return False
        candidate = db.session.get(Candidate, self.pool.pop())
        position = db.session.get(Position, pid)
        application = services.add_to_position(candidate, position, actor=self.actor())
        self.members[pid].add(application.id)
        self.track(application)
        return True

    def op_advance(self):
        application = self.pick(tuple(NEXT_STAGE))
        if application is None:
            return False
        from app.pipeline import services

        services.move_stage(application, NEXT_STAGE[application.stage], actor=self.actor())
        self.track(application)
        return True

    def op_interview(self):
        from app.pipeline import services

        application = self.pick(("client_review", "interview"))
        if application is None:
            return False
        now = datetime.now(UTC)
        services.record_interview(
            application,
            actor=self.actor(),
            interview_at=now + timedelta(days=1),
            interviewers="Dana Client, Sam Lead",
            promised_response_at=now + timedelta(days=4),
            client_contact="Dana Client",
            next_step="The client decides after the interview.",
        )
        self.track(application)
        return True

    def op_reject(self):
        reason = self.rng.choice(("agency_decision", "client_declined"))
        return self.move("rejected", reason=reason, note="Thank you for your time.")

    def op_withdraw(self):
        return self.move("withdrawn", reason="candidate_withdrew")

    def op_hire(self):
        return self.move("hired", stages=("offer",), reason="hired")

    def op_undo(self):
        from app.extensions import db
        from app.models import Application
        from app.pipeline import services

        if not self.recent:
            return False
        application = db.session.get(Application, self.rng.choice(self.recent[-50:]))
        services.undo_last_change(application, actor=self.actor())
        self.track(application)
        return True

    def op_contact(self):
        from app.pipeline import services

        application = self.pick(ACTIVE, movable=False)
        if application is None:
            return False
        services.log_contact(
            application.candidate,
            actor=application.position.owner,  # a contact settles only what its author opens
            channel="phone",
            summary="Called to talk through where things stand.",
            application=application,
        )
        return True

    def op_close(self):
        status, reason = self.rng.choice(CLOSINGS)
        return self.close(status, reason, self.open if self.rng.random() < 0.8 else self.held)

    def op_hold(self):
        return self.close("on_hold", "client reorganising", self.open)

    def close(self, status: str, reason: str, among: Bag):
        from app.extensions import db
        from app.models import Position
        from app.pipeline import services

        pid = max((among.choice(self.rng) for _ in range(3)), key=self._size, default=None)
        if pid is None or self._size(pid) < 5:
            return False
        services.close_position(
            db.session.get(Position, pid), actor=self.actor(), status=status, reason=reason
        )
        among.discard(pid)
        if status == "on_hold":
            self.held.add(pid)
        else:
            for app_id in self.members.pop(pid):
                self.active.discard(app_id)
                self.stage[app_id] = "position_closed"
        replacement = new_position(self.rng, self.clients, self.users)
        db.session.commit()
        self.open.add(replacement.id)
        self.members[replacement.id] = set()
        return True

    def _size(self, pid: int | None) -> int:
        return -1 if pid is None else len(self.members.get(pid, ()))


# -- drive, drain, count --------------------------------------------------------------------


def state_counts() -> Counter:
    from app.extensions import db
    from app.models import Notification

    rows = db.session.execute(
        sa.select(Notification.state, sa.func.count()).group_by(Notification.state)
    ).all()
    db.session.commit()
    return Counter(dict(rows))


def drive(world: World, n: int, deadline: float, stub_url: str) -> None:
    started = last = time.monotonic()
    for _ in range(n):
        if time.monotonic() > deadline:
            print(f"drive: time limit reached after {world.ops} operations", flush=True)
            return
        world.step()
        if time.monotonic() - last >= 15:
            last = time.monotonic()
            rate = world.ops / (last - started)
            print(
                f"  [{last - started:5.0f} s] ops {world.ops}/{n} ({rate:.0f}/s) "
                f"states {dict(state_counts())} stub {brief(stub_url)}",
                flush=True,
            )


def brief(stub_url: str) -> str:
    stats = common.stub_stats(stub_url)
    hook = stats.get("webhook", {})
    return (
        f"accepted={stats['accepted']} dup={stats['covered_duplicates']} "
        f"events_posted={hook.get('events_posted', 0)} events_pending={hook.get('pending')}"
    )


def drain(stub_url: str, deadline: float) -> bool:
    """Wait until nothing is owed-but-unsent and every webhook event has been delivered."""
    last = 0.0
    while time.monotonic() < deadline:
        counts = state_counts()
        owed = sum(counts[s] for s in OWED)
        pending_events = common.stub_stats(stub_url).get("webhook", {}).get("pending", 0)
        if owed == 0 and pending_events == 0:
            return True
        if time.monotonic() - last >= 10:
            last = time.monotonic()
            print(f"  draining: owed {owed} {dict(counts)} events pending {pending_events}")
        time.sleep(0.5)
    return False


def account(stub: dict) -> dict:
    from app.extensions import db
    from app.models import Notification

    rows = db.session.execute(
        sa.select(
            Notification.id,
            Notification.state,
            Notification.ambiguous_sends,
            Notification.provider_message_id,
            Notification.sent_at,
            Notification.delivered_at,
        )
    ).all()
    db.session.commit()
    # A digest answers several notifications: count every one it covered.
    per = {int(k): v for k, v in stub["per_notification_covered"].items() if k.isdigit()}
    states = Counter(r.state for r in rows)
    owed_rows = [r for r in rows if r.state != "superseded"]
    unsettled = [r.id for r in owed_rows if r.state not in (*HANDED_OVER, "discharged")]
    phantom = [r.id for r in rows if r.state in HANDED_OVER and r.id not in per]
    return {
        "owed": len(owed_rows),
        "sent": sum(states[s] for s in HANDED_OVER),
        "discharged": states["discharged"],
        "lost_ids": unsettled + phantom,
        "unsettled": unsettled,
        "phantom": phantom,
        "duplicates": sum(c - 1 for c in per.values() if c > 1),
        "states": states,
        "rows": {r.id: r for r in rows},
        "per": per,
    }


# -- report ---------------------------------------------------------------------------------


def event_counts() -> dict:
    from app.extensions import db
    from app.models import DeliveryEvent, Notification
    from app.notifications.invariant import terminal_without_response

    events = db.session.execute(
        sa.select(DeliveryEvent.event, sa.func.count()).group_by(DeliveryEvent.event)
    ).all()
    repairs = db.session.scalar(
        sa.select(sa.func.count()).where(Notification.idempotency_key.like("%:repair"))
    )
    silent = db.session.scalar(
        sa.select(sa.func.count()).select_from(terminal_without_response().subquery())
    )
    db.session.commit()
    return {"events": dict(events), "repairs": repairs, "silent_terminal": silent}


def print_delivery(acc: dict, stub: dict) -> None:
    rows, per = acc["rows"].values(), acc["per"]
    ambiguous = [r for r in rows if r.ambiguous_sends]
    by_events = [r for r in rows if r.state in HANDED_OVER and r.provider_message_id is None]
    dup_ids = [i for i, c in per.items() if c > 1]
    explained = sum(1 for i in dup_ids if i in acc["rows"] and acc["rows"][i].ambiguous_sends)
    superseded = [r.id for r in rows if r.state == "superseded" and r.id in per]
    discharged = [r.id for r in rows if r.state == "discharged" and r.id in per]
    print(f"states: {dict(sorted(acc['states'].items()))}")
    # "processed" sets sent_at; if only "delivered" took effect, sent_at == delivered_at.
    by_delivered = sum(1 for r in by_events if r.sent_at == r.delivered_at)
    print(
        f"ambiguous: {len(ambiguous)} notifications, {sum(r.ambiguous_sends for r in ambiguous)}"
        f" ambiguous sends; settled by events (no 202 recorded): {len(by_events)}, of which "
        f"{sum(1 for r in by_events if r.ambiguous_sends)} were ambiguous; settled by "
        f"'processed': {len(by_events) - by_delivered}, only by 'delivered': {by_delivered}"
    )
    print(
        f"duplicates: {acc['duplicates']} extra copies of {len(dup_ids)} notifications, "
        f"{explained} of them counted as ambiguous, {len(dup_ids) - explained} not"
    )
    print(
        f"accepted by the stub but recorded as superseded: {len(superseded)}, "
        f"as discharged: {len(discharged)}"
    )
    print(f"stub: requests {stub['requests_by_status']}, accepted {stub['accepted']}")
    print(f"stub webhook: {stub.get('webhook')}")
    print(f"database: {event_counts()}")


def print_latency() -> None:
    """From owed to accepted: stalls (a job stuck in RQ) show up as a long tail."""
    from app.extensions import db
    from app.models import Notification

    waited = sa.extract("epoch", Notification.sent_at - Notification.created_at)
    row = db.session.execute(
        sa.select(
            sa.func.percentile_cont(0.5).within_group(waited),
            sa.func.percentile_cont(0.99).within_group(waited),
            sa.func.max(waited),
            sa.func.count().filter(waited > 60),
        ).where(Notification.sent_at.is_not(None))
    ).one()
    db.session.commit()
    print(
        f"owed -> sent: median {row[0] or 0:.1f} s, p99 {row[1] or 0:.1f} s, "
        f"max {row[2] or 0:.1f} s; {row[3]} waited over 60 s"
    )


def print_run(world: World, workers: Workers, chaos: Chaos) -> None:
    print(f"operations done: {dict(world.done)}")
    print(f"operations refused by the rules (expected): {dict(world.refused)}")
    print(f"operations that raised: {dict(world.errors)} {world.first_errors}")
    flushes = ", ".join(f"{p:.0%}" for p in chaos.flushes)
    print(f"chaos: {workers.kills} workers SIGKILLed; Redis db 9 flushed at {flushes}")
    if chaos.errors:
        print(f"chaos errors: {chaos.errors[:5]}")


def diagnose(ids: list[int], per: dict, title: str, limit: int = 15) -> None:
    """Everything we know about some notifications: the row, its events, its RQ job."""
    from app.extensions import db
    from app.models import DeliveryEvent, Notification

    if not ids:
        return
    print(f"{title}: {len(ids)} (showing {min(limit, len(ids))})")
    conn = common.redis_conn()
    for n in db.session.scalars(sa.select(Notification).where(Notification.id.in_(ids[:limit]))):
        events = db.session.execute(
            sa.select(DeliveryEvent.event, DeliveryEvent.received_at)
            .where(DeliveryEvent.notification_id == n.id)
            .order_by(DeliveryEvent.id)
        ).all()
        job = conn.hget(f"rq:job:{n.job_id}", "status") if n.job_id else None
        print(
            f"  #{n.id} {n.kind} state={n.state} attempts={n.attempts} "
            f"ambiguous={n.ambiguous_sends} accepted_by_stub={per.get(n.id, 0)} "
            f"error={n.error_kind}:{(n.last_error or '')[:80]!r} job={n.job_id} ({job}) "
            f"created={_t(n.created_at)} due={_t(n.due_at)} queued={_t(n.queued_at)} "
            f"sending={_t(n.sending_at)} lease={_t(n.lease_expires_at)} sent={_t(n.sent_at)} "
            f"events={[(e, _t(at)) for e, at in events]}"
        )
    db.session.commit()


def _t(moment: datetime | None) -> str | None:
    return moment.strftime("%H:%M:%S.%f")[:-3] if moment else None


# -- main -----------------------------------------------------------------------------------


def start_system(procs: common.Processes, env: dict, args) -> str:
    """Web app (webhook live), stub with faults and events, scheduler; returns the stub URL."""
    key_path, public_key = webhook_keys()
    env["SENDGRID_WEBHOOK_PUBLIC_KEY"] = public_key
    web_url = start_web(procs, env)
    stub_url = common.start_stub(
        procs,
        env,
        "--counts-only",
        "--no-bodies",
        *FAULTS,
        "--hold-seconds",
        "4",
        "--seed",
        str(args.seed),
        "--webhook-url",
        f"{web_url}/webhooks/sendgrid",
        "--webhook-private-key-file",
        str(key_path),
        "--webhook-delivered-delay",
        str(args.delivered_delay),
    )
    env["SENDGRID_API_HOST"] = stub_url
    procs.start("scheduler", ["-m", "workers", "scheduler", "--tick-seconds", "0.5"], env)
    return stub_url


def run(procs: common.Processes, env: dict, args) -> tuple:
    stub_url = start_system(procs, env, args)
    rng = random.Random(args.seed)
    app = common.make_app(env)
    with app.app_context():
        world = World(rng, seed_world(rng, args.n))
        workers = Workers(procs, env, args.workers, args.simple)
        chaos = Chaos(workers, lambda: world.ops / args.n, args.kill_every, args.seed + 1)
        started = time.monotonic()
        deadline = started + args.seconds
        chaos.start()
        try:
            drive(world, args.n, deadline, stub_url)
        finally:
            chaos.stop()
        driven = time.monotonic() - started
        drained = drain(stub_url, deadline)
        seconds = time.monotonic() - started
        stub = common.stub_stats(stub_url, full=True)
        acc = account(stub)
        print(f"machine: {common.machine()}")
        print(
            f"drive: {world.ops} operations in {driven:.1f} s; drained: {drained} "
            f"after {seconds - driven:.1f} s more"
        )
        print_run(world, workers, chaos)
        print_delivery(acc, stub)
        print_latency()
        diagnose(acc["unsettled"], acc["per"], "LOST: owed, never sent nor discharged")
        diagnose(acc["phantom"], acc["per"], "LOST: marked sent, never accepted by the stub")
        unexplained = [
            i for i, c in acc["per"].items() if c > 1 and not acc["rows"][i].ambiguous_sends
        ]
        diagnose(unexplained, acc["per"], "duplicates not counted as ambiguous", limit=8)
    return acc, seconds


def main(argv=None) -> int:
    args = parse_args(argv)
    env = common.base_env(**ENGINE)
    common.reset_database(env)
    common.flush_redis()
    print(f"soak: n={args.n} workers={args.workers} ({'simple' if args.simple else 'fork'})")
    print(f"engine settings: {ENGINE}; stub faults: {' '.join(FAULTS)}", flush=True)
    with common.Processes() as procs:
        acc, seconds = run(procs, env, args)
    print(
        f"soak: owed={acc['owed']} sent={acc['sent']} discharged={acc['discharged']} "
        f"lost={len(acc['lost_ids'])} duplicates={acc['duplicates']} seconds={seconds:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
