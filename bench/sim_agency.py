"""The agency of `make simulate`: who does what, and when, over a quarter.

The quarter's plan is drawn from one seeded random generator; each act then draws from a
generator of its own, seeded from the seed and the act's key (its place in the plan, or its
parent act's key and its number among that act's follow-ups), so what an act draws does not
depend on which acts ran before it or on which thread: acts at one moment may run
concurrently (bench/simulate.py --concurrency) and the quarter is still the same one. Acts
are kept in a time-ordered agenda, ties broken by key; `Agency.run(action)` performs one
through the services the pages call (app/pipeline, app/positions, app/candidates,
app/status, app/pipeline/fanout for a position's close), at the simulated time the caller
has set on the clock. An action that no longer fits (the application ended meanwhile, the
position closed) is skipped and counted, as a recruiter would simply not do it.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

LONDON = ZoneInfo("Europe/London")
ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney")
BOUNCE_DOMAIN = "bounces.example.test"
TITLES = ("Backend Engineer", "Data Analyst", "Staff Nurse", "Site Manager", "Accountant")
CLOSINGS = (
    ("cancel", "budget_cut"),
    ("cancel", "client_withdrew"),
    ("cancel", "filled_internally"),
)


@dataclass(frozen=True)
class Size:
    clients: int
    positions: int
    candidates: int
    recruiters: int

    @classmethod
    def at(cls, scale: float) -> Size:
        return cls(
            clients=max(2, round(60 * scale)),
            positions=max(4, round(500 * scale)),
            candidates=max(40, round(20_000 * scale)),
            recruiters=max(2, round(40 * scale)),
        )


@dataclass(order=True)
class Action:
    at: datetime
    # Deterministic, whatever the order acts ran in: (n,) for the plan's n-th act, the parent
    # act's key and the follow-up's number for an act planned by an act.
    key: tuple[int, ...]
    name: str = field(compare=False)
    args: tuple = field(compare=False, default=())


@dataclass
class Promise:
    application_id: int
    made_at: datetime
    promised: datetime


class Agency:
    def __init__(self, seed: int, size: Size, start: datetime, end: datetime, grid: float = 60):
        self.seed_value = seed
        self._plan_rng = random.Random(seed)  # the plan (seed); each act has its own
        self._act = threading.local()  # the act this thread is running: its rng, key, children
        self._lock = threading.Lock()  # the agenda and the counters, shared by the threads
        self.grid = max(1, int(grid))
        self.size, self.start, self.end = size, start, end
        self.days = (end - start).total_seconds() / 86400
        self.agenda: list[Action] = []
        self._seq = itertools.count()
        self.done: Counter = Counter()
        self.skipped: Counter = Counter()
        self.errors: list[str] = []
        self.promises: list[Promise] = []
        self.users: list[int] = []
        self.clients: list[int] = []
        self.positions: dict[int, int] = {}  # position index -> id
        self.candidates: dict[int, int] = {}  # candidate index -> id
        self.bouncing: set[int] = set()  # candidate indexes with a dead mailbox
        # Which candidate and position an application (and an update request's task) is:
        # what an act touches, so acts on one candidate or position keep their order.
        self.app_keys: dict[int, tuple[int, int]] = {}  # application id -> (position, candidate)
        self.task_keys: dict[int, tuple[int, int]] = {}  # task id -> (position, candidate)
        self.quiet = False  # the drain after the quarter: no new pipeline work

    @property
    def rng(self) -> random.Random:
        """The running act's generator in an act, the plan's outside one."""
        return getattr(self._act, "rng", None) or self._plan_rng

    # -- the agenda ------------------------------------------------------------------------

    def at(self, moment: datetime, name: str, *args) -> None:
        """Plan an act. People act on a grid of `grid` seconds (the next mark at or after
        `moment`): the simulation stops its clock once per mark, not once per person."""
        late = -int(moment.timestamp()) % self.grid
        moment = moment.replace(microsecond=0) + timedelta(seconds=late)
        if moment < self.end or name in ("handle_bounces", "answer"):
            parent = getattr(self._act, "key", None)
            key = (next(self._seq),) if parent is None else (*parent, next(self._act.children))
            with self._lock:
                heapq.heappush(self.agenda, Action(moment, key, name, args))

    def next_time(self) -> datetime | None:
        return self.agenda[0].at if self.agenda else None

    def pop_due(self, until: datetime) -> list[Action]:
        """The acts of the next moment with acts, if it is not after `until`, in key order.
        Their follow-ups are always at a later moment (see `at`'s callers)."""
        batch: list[Action] = []
        while self.agenda and self.agenda[0].at <= until:
            if batch and self.agenda[0].at != batch[0].at:
                break
            batch.append(heapq.heappop(self.agenda))
        return batch

    def touches(self, action: Action) -> frozenset | None:
        """The candidate and position an act reads or changes, or None for an act touching
        many (a position's close with all its applications, the bounced emails of the day):
        acts sharing one, and every act with a None act, keep their order."""
        name, args = action.name, action.args
        if name == "open_position":
            return frozenset({("p", args[0])})
        if name == "add":
            return frozenset({("p", args[0]), ("c", args[1])})
        if name in ("close_position", "accept", "handle_bounces"):
            return None
        keys = (self.task_keys if name == "answer" else self.app_keys).get(args[0])
        if keys is None:
            return None
        return frozenset({("p", keys[0]), ("c", keys[1])})

    # -- when people act -------------------------------------------------------------------

    def working(self, moment: datetime, *, days: float = 0) -> datetime:
        """A recruiter's moment: `days` business days after `moment`, in office hours."""
        from app.business_days import get_calendar

        cal = get_calendar()
        local = (moment + timedelta(days=days)).astimezone(LONDON)
        for _ in range(30):
            if cal.is_business_day(local.date()) and time(9) <= local.time() < time(17, 30):
                return local.astimezone(UTC)
            if cal.is_business_day(local.date()) and local.time() < time(9):
                local = local.replace(hour=9, minute=self.rng.randrange(60))
                continue
            local = (local + timedelta(days=1)).replace(hour=9, minute=self.rng.randrange(60))
        return local.astimezone(UTC)

    def waking(self, moment: datetime, zone: str) -> datetime:
        """A candidate's moment: between 07:00 and 23:00 in their own zone."""
        local = moment.astimezone(ZoneInfo(zone))
        if local.hour < 7:
            local = local.replace(hour=7 + self.rng.randrange(3), minute=self.rng.randrange(60))
        elif local.hour >= 23:
            local = (local + timedelta(days=1)).replace(hour=8, minute=self.rng.randrange(60))
        return local.astimezone(UTC)

    def later(self, moment: datetime, lo: float, hi: float) -> datetime:
        return self.working(moment, days=self.rng.uniform(lo, hi))

    # -- the world at the start ------------------------------------------------------------

    def seed(self) -> None:
        """Staff and clients (set up before the quarter), and the quarter's plan: when each
        position opens, who applies, which positions will be cancelled."""
        from app.extensions import db
        from app.models import User
        from app.positions import services as positions

        users = [
            User(name=f"Recruiter {i}", email=f"r{i}@agency.example.test", password_hash="!")  # noqa: S106
            for i in range(self.size.recruiters)
        ]
        db.session.add_all(users)
        db.session.commit()
        self.users = [u.id for u in users]
        for i in range(self.size.clients):
            self.clients.append(positions.save_client(None, name=f"Client {i:03d}").id)
        per_position = self.size.candidates * 1.1 / self.size.positions
        next_candidate = 0
        for p in range(self.size.positions):
            # Positions open over the first 70% of the quarter (9 of 13 weeks).
            opens = self.working(self.start, days=self.rng.uniform(0, 0.7 * self.days))
            self.at(opens, "open_position", p)
            for _ in range(max(1, round(self.rng.gauss(per_position, per_position / 4)))):
                if next_candidate < self.size.candidates and self.rng.random() > 0.09:
                    c, next_candidate = next_candidate, next_candidate + 1
                else:  # someone already in another pipeline
                    c = self.rng.randrange(max(1, next_candidate))
                self.at(self.later(opens, 0, 15), "add", p, c)
            if self.rng.random() < 0.15:  # cancelled or filled internally, mid-process
                closes = self.later(opens, 5, max(6, 0.5 * self.days))
                self.at(closes, "close_position", p, *self.rng.choice(CLOSINGS))
        for c in range(self.size.candidates):
            if self.rng.random() < 0.03:
                self.bouncing.add(c)
        day = self.working(self.start)
        while day < self.end + timedelta(days=10):
            self.at(day.replace(minute=0) + timedelta(hours=2), "handle_bounces")
            day = self.working(day, days=1)

    # -- performing an action --------------------------------------------------------------

    def run(self, action: Action) -> None:
        from app.extensions import db
        from app.pipeline.base import PipelineError
        from app.status.services import StatusError

        act = self._act
        act.rng = random.Random(f"{self.seed_value}:{action.key}")
        act.key, act.children = action.key, itertools.count()
        try:
            if getattr(self, f"do_{action.name}")(*action.args) is False:
                outcome = self.skipped, action.name
            else:
                outcome = self.done, action.name
        except (PipelineError, StatusError) as exc:
            db.session.rollback()
            outcome = self.skipped, f"{action.name} (refused)"
            with self._lock:
                if len(self.errors) < 5:
                    self.errors.append(f"refused {action.name}: {exc}")
        finally:
            db.session.remove()
            act.rng = act.key = act.children = None
        with self._lock:
            outcome[0][outcome[1]] += 1

    @staticmethod
    def _load(app_id: int):
        """The application with what the act reads of it (its position, the position's owner
        and client, the candidate) in one statement, as a page loading it eagerly would:
        lazy loads cost three more round trips per act."""
        from sqlalchemy.orm import joinedload

        from app.extensions import db
        from app.models import Application, Position

        position = joinedload(Application.position)
        return db.session.get(
            Application,
            app_id,
            options=[
                position.joinedload(Position.owner),
                position.joinedload(Position.client),
                joinedload(Application.candidate),
            ],
        )

    def _app(self, app_id: int, *stages: str):
        application = self._load(app_id)
        if application is None or (stages and application.stage not in stages):
            return None
        if application.position.status != "open":
            return None
        return application

    def _actor(self, application):
        return application.position.owner

    def _move(self, application, stage: str, **kwargs) -> None:
        from app.pipeline import services

        services.move_stage(application, stage, actor=self._actor(application), **kwargs)

    def do_open_position(self, p: int):
        from app.extensions import db
        from app.models import User
        from app.positions import services as positions

        owner = db.session.get(User, self.rng.choice(self.users))
        position = positions.save_position(
            None,
            actor=owner,
            client_id=self.rng.choice(self.clients),
            title=self.rng.choice(TITLES),
            location="Leeds",
        )
        self.positions[p] = position.id

    def _candidate(self, c: int, actor):
        from app.candidates import services as candidates
        from app.extensions import db
        from app.models import Candidate

        if c in self.candidates:
            return db.session.get(Candidate, self.candidates[c])
        domain = BOUNCE_DOMAIN if c in self.bouncing else "example.test"
        candidate = candidates.save_candidate(
            None,
            actor=actor,
            data={
                "name": f"Candidate {c:05d}",
                "email": f"candidate{c:05d}@{domain}",
                "timezone": self.rng.choice(ZONES),
                "optional_updates": True,
            },
        )
        self.candidates[c] = candidate.id
        return candidate

    def do_add(self, p: int, c: int):
        from sqlalchemy.orm import joinedload

        from app.extensions import db
        from app.models import Position
        from app.pipeline import services
        from app.pipeline.base import PipelineError

        if p not in self.positions:
            return False
        position = db.session.get(Position, self.positions[p], options=[joinedload(Position.owner)])
        if position.status != "open":
            return False
        candidate = self._candidate(c, position.owner)
        try:
            application = services.add_to_position(candidate, position, actor=position.owner)
        except PipelineError:  # already in this pipeline: the service's own check said so
            db.session.rollback()
            return False
        self.app_keys[application.id] = (p, c)
        now = self._now()  # its stage_entered_at, without reading the committed row back
        self.at(self.later(now, 1, 4), "screen", application.id)
        if self.rng.random() < 0.05:  # changes their mind at some point
            self.at(
                self.waking(now + timedelta(days=self.rng.uniform(2, 40)), "UTC"),
                "withdraw",
                application.id,
            )
        if self.rng.random() < 0.10:  # asks where things stand
            self.at(now + timedelta(days=self.rng.uniform(3, 30)), "ask", application.id)

    def do_screen(self, app_id: int):
        application = self._app(app_id, "sourced")
        if application is None:
            return False
        now = application.stage_entered_at
        if self.rng.random() < 0.4:
            self._move(application, "rejected", reason="agency_decision", note="Thank you.")
            if self.rng.random() < 0.05:  # a misclick, taken back inside the undo window
                self.at(now + timedelta(minutes=self.rng.uniform(1, 20)), "undo", app_id)
            return None
        self._move(application, "submitted")
        self.at(self.later(self._now(), 0.5, 3), "review", app_id)
        return None

    def do_undo(self, app_id: int):
        from app.pipeline import services

        application = self._load(app_id)
        services.undo_last_change(application, actor=self._actor(application))
        self.at(self.later(self._now(), 0.2, 2), "screen", app_id)

    def do_review(self, app_id: int):
        application = self._app(app_id, "submitted")
        if application is None:
            return False
        self._move(application, "client_review")
        self.at(self.later(self._now(), 2, 6), "verdict", app_id)
        return None

    def do_verdict(self, app_id: int):
        from app.pipeline import services

        application = self._app(app_id, "client_review")
        if application is None:
            return False
        now = application.stage_entered_at
        if self.rng.random() < 0.35:
            self._move(application, "rejected", reason="client_declined")
            return None
        clk = self._now()
        interview = self.working(clk, days=self.rng.uniform(2, 6)).replace(minute=0)
        promised = (
            (interview + timedelta(days=self.rng.choice((2, 3, 4))))
            .astimezone(LONDON)
            .replace(hour=17, minute=0)
            .astimezone(UTC)
        )
        services.record_interview(
            application,
            actor=self._actor(application),
            interview_at=interview,
            interviewers="Dana Client",
            promised_response_at=promised,
            client_contact="Dana Client",
            next_step="The client decides after the interview.",
        )
        with self._lock:
            self.promises.append(Promise(app_id, clk, promised))
        if self.rng.random() < 0.7:  # the client decides in time
            decide = max(
                interview + timedelta(hours=3), promised - timedelta(hours=self.rng.uniform(2, 48))
            )
            self.at(self.working(decide), "decide", app_id)
        else:  # silent past the date; the recruiter hears (and acts) days later
            self.at(self.later(promised, 1, 8), "decide", app_id)
        del now
        return None

    def do_decide(self, app_id: int):
        application = self._app(app_id, "interview")
        if application is None:
            return False
        if self.rng.random() < 0.35:
            self._move(application, "offer")
            self.at(self.later(self._now(), 1, 5), "accept", app_id)
        else:
            self._move(application, "rejected", reason="client_declined")
        return None

    def do_accept(self, app_id: int):
        from app.extensions import db
        from app.pipeline import fanout

        application = self._app(app_id, "offer")
        if application is None:
            return False
        if self.rng.random() < 0.25:  # turns the offer down on their status page
            return self.do_withdraw(app_id)
        self._move(application, "hired", reason="hired")
        position = application.position
        actor = self._actor(application)
        fanout.close(position, fanout.ACTIONS["fill"], "filled_by_other", actor=actor)
        db.session.commit()
        return None

    def do_close_position(self, p: int, action: str, reason: str):
        from app.extensions import db
        from app.models import Position
        from app.pipeline import fanout

        if p not in self.positions:
            return False
        position = db.session.get(Position, self.positions[p])
        if position.status != "open":
            return False
        fanout.close(position, fanout.ACTIONS[action], reason, actor=position.owner)
        return None

    def do_withdraw(self, app_id: int):
        from app.status import services as status

        application = self._load(app_id)
        if application.is_terminal:
            return False
        status.withdraw(application.candidate, app_id)
        return None

    def do_ask(self, app_id: int):
        from app.status import services as status

        application = self._load(app_id)
        if application.is_terminal or status.next_request_allowed(application) is not None:
            return False
        task = status.request_update(application.candidate, app_id)
        self.task_keys[task.id] = self.app_keys[app_id]
        # Recruiters answer late: some within hours, some after the automatic reply went.
        self.at(self.later(self._now(), 0.1, 3), "answer", task.id)
        return None

    def do_answer(self, task_id: int):
        from app.extensions import db
        from app.models import Application, Task
        from app.status import services as status

        task = db.session.get(Task, task_id)
        if task is None or task.resolved_at is not None:
            return False
        actor = db.session.get(Application, task.application_id).position.owner
        status.answer_update_request(task, actor=actor, message="The client is still reviewing.")
        return None

    def do_handle_bounces(self):
        """Each working day the recruiters go through the emails that bounced and phone."""
        from app.candidates import services as candidates
        from app.extensions import db
        from app.models import Application, Task

        tasks = list(
            db.session.scalars(
                sa.select(Task).where(Task.kind == "undeliverable", Task.resolved_at.is_(None))
            )
        )
        for task in tasks:
            application = db.session.get(Application, task.application_id)
            candidates.log_contact(
                application.candidate,
                actor=application.position.owner,
                channel="phone",
                summary="Their email bounced: phoned them with the news.",
                application=application,
                occurred_at=None,
            )
        return None if tasks else False

    @staticmethod
    def _now() -> datetime:
        from app import clock

        return clock.now()
