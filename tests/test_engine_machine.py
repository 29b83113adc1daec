"""The engine driven by Hypothesis: random sequences of the soak's operations (bench/soak.py:
add, advance, reject, undo, hold, close, reopen, contact) and the clock moving on (the
reconciler runs, then the send jobs, in process, no RQ), on the test database, with the
promise checked after every step:

- no application in a terminal stage is without a response (a message owed or sent for its
  current outcome, or a contact logged since), even before the reconciler runs, and the
  reconciler never has anything to repair: the change owed it in its own transaction;
- no two live messages (owed or accepted) share a cause (application, version, kind);
- an undone change sends nothing: the messages of an undone stage change, or of a close
  taken back by reopening, are never claimed, sent or delivered;

and a stencil render (app/notifications/stencils.py) equals the full render
(app/notifications/render.py) for arbitrary names and email addresses.

Settings are fixed (SETTINGS below, derandomized: the same sequences on every run and
machine), sized to add some seconds to the suite; raise max_examples locally to search
harder (`HYPOTHESIS_MAX_EXAMPLES=500 pytest tests/test_engine_machine.py`).
"""

from __future__ import annotations

import html as htmllib
import os
from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import current_app
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from app import clock
from app.extensions import db
from app.models import Application, Notification, Position, PositionStatus, Stage
from app.models.notifications import ACCEPTED, CLAIMABLE, OWED, SETTLED, TOLD
from app.notifications import invariant as promise
from app.notifications.prepare import _load
from app.notifications.reconcile import reconcile
from app.notifications.render import render_email
from app.notifications.send import deliver
from app.notifications.stencils import Stencils
from app.pipeline import lifecycle, services
from app.pipeline.services import PipelineError
from tests import factories as f
from tests.conftest import _truncate_all

SEEN: Counter = Counter()  # what the examples did, over the whole test
MAX_EXAMPLES = int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "30"))
SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    stateful_step_count=15,
    derandomize=True,  # the same examples every run: a failure here is reproducible
    database=None,  # nothing remembered between runs (and nothing written to the worktree)
    deadline=None,  # the database's speed is not under test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

NEXT_STAGE = {
    Stage.SOURCED: Stage.SUBMITTED,
    Stage.SUBMITTED: Stage.CLIENT_REVIEW,
    Stage.CLIENT_REVIEW: Stage.INTERVIEW,
    Stage.INTERVIEW: Stage.OFFER,
}
ACTIVE = {Stage.SOURCED, Stage.SUBMITTED, Stage.CLIENT_REVIEW, Stage.INTERVIEW, Stage.OFFER}
CLOSINGS = (
    ("cancelled", "budget_cut"),
    ("cancelled", "client_withdrew"),
    ("filled", "filled_by_other"),
    ("filled", "filled_internally"),
)
LIVE = (*OWED, *ACCEPTED)
CLOSED = (PositionStatus.CANCELLED, PositionStatus.FILLED)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning

# Names as people type them: any letters, marks and punctuation (what HTML escaping must
# handle included), spaces inside, never only blanks.
NAMES = st.text(
    alphabet=st.characters(
        codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs"), exclude_characters="\x00"
    ),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip())
ADDRESSES = st.emails()


class Engine(RuleBasedStateMachine):
    """One agency: a recruiter, a few positions, candidates added as the machine goes."""

    def __init__(self):
        super().__init__()
        db.session.remove()
        _truncate_all(current_app._get_current_object())  # every example starts empty
        self.clock = clock.FrozenClock(START)
        clock.set_source(self.clock)
        self.owner = f.user()
        self.positions = [f.position(owner=self.owner).id for _ in range(2)]
        db.session.commit()
        self.owner_id = self.owner.id
        self.applications: list[int] = []
        self.undone: set[int] = set()  # notification ids of changes taken back
        self.recent: list[int] = []
        self.serial = 0

    def teardown(self):
        db.session.remove()
        clock.set_source(None)

    # -- helpers ---------------------------------------------------------------------------

    def actor(self):
        return db.session.get(type(self.owner), self.owner_id)

    def application(self, pick: int, stages=None) -> Application | None:
        rows = [db.session.get(Application, i) for i in self.applications]
        rows = [a for a in rows if stages is None or Stage(a.stage) in stages]
        return rows[pick % len(rows)] if rows else None

    def position(self, pick: int, statuses=None) -> Position:
        """One of the positions, among those in `statuses` when there are any."""
        rows = [db.session.get(Position, i) for i in self.positions]
        among = [p for p in rows if statuses is None or p.status in statuses] or rows
        return among[pick % len(among)]

    def changed(self, application: Application) -> None:
        """Remember the applications changed last: what a recruiter would undo."""
        self.recent = [i for i in self.recent if i != application.id][-4:] + [application.id]

    def attempt(self, name: str, change) -> bool:
        """Run one operation; a refusal the user would see (PipelineError) rolls back.
        Counted for `pytest --hypothesis-show-statistics`."""
        try:
            change()
        except PipelineError:
            db.session.rollback()
            event(f"{name}: refused")
            SEEN[f"{name}: refused"] += 1
            return False
        event(f"{name}: done")
        SEEN[name] += 1
        return True

    # -- the soak's operations -------------------------------------------------------------

    @initialize(names=st.lists(NAMES, min_size=1, max_size=3))
    def seed(self, names):
        for name in names:
            self.add(0, name)

    @rule(pick=st.integers(0, 9), name=NAMES)
    def add(self, pick, name):
        self.serial += 1
        candidate = f.candidate(name=name, email=f"c{self.serial}@example.test")
        position = self.position(pick, (PositionStatus.OPEN,))

        def change():
            a = services.add_to_position(candidate, position, actor=self.actor())
            self.applications.append(a.id)

        self.attempt("add", change)

    @precondition(lambda self: self.applications)
    @rule(pick=st.integers(0, 99), undo_now=st.booleans())
    def advance(self, pick, undo_now):
        a = self.application(pick, NEXT_STAGE)
        if a is not None:
            to = NEXT_STAGE[Stage(a.stage)]
            if self.attempt("advance", lambda: services.move_stage(a, to, actor=self.actor())):
                self.changed(a)
                if undo_now:  # "Undo" on the page right after the change
                    self.undo(len(self.recent) - 1)

    @precondition(lambda self: self.applications)
    @rule(
        pick=st.integers(0, 99),
        reason=st.sampled_from(["agency_decision", "client_declined"]),
        undo_now=st.booleans(),
    )
    def reject(self, pick, reason, undo_now):
        a = self.application(pick, ACTIVE)
        if a is not None:
            if self.attempt(
                "reject",
                lambda: services.move_stage(
                    a, Stage.REJECTED, actor=self.actor(), reason=reason, note="Thank you."
                ),
            ):
                self.changed(a)
                if undo_now:
                    self.undo(len(self.recent) - 1)

    @precondition(lambda self: self.recent)
    @rule(pick=st.integers(0, 99))
    def undo(self, pick):
        a = db.session.get(Application, self.recent[pick % len(self.recent)])
        owed_by_last_change = set(
            db.session.scalars(
                sa.select(Notification.id).where(
                    Notification.application_id == a.id,
                    Notification.app_version == a.version,
                )
            )
        )
        if self.attempt("undo", lambda: services.undo_last_change(a, actor=self.actor())):
            self.undone |= owed_by_last_change
            SEEN["undone messages"] += len(owed_by_last_change)

    @rule(pick=st.integers(0, 9))
    def hold(self, pick):
        position = self.position(pick, (PositionStatus.OPEN,))
        self.attempt(
            "hold",
            lambda: services.close_position(
                position, actor=self.actor(), status="on_hold", reason="client reorganising"
            ),
        )

    @rule(pick=st.integers(0, 9), closing=st.sampled_from(CLOSINGS))
    def close(self, pick, closing):
        status, reason = closing
        position = self.position(pick, (PositionStatus.OPEN, PositionStatus.ON_HOLD))
        if self.attempt(
            f"close ({status})",
            lambda: services.close_position(
                position, actor=self.actor(), status=status, reason=reason
            ),
        ):
            closed = db.session.scalars(
                sa.select(Application).where(Application.position_id == position.id).limit(2)
            )
            for application in closed:  # an undo on a closed role's application too
                self.changed(application)

    @rule(pick=st.integers(0, 9))
    def reopen(self, pick):
        position = self.position(pick, (PositionStatus.ON_HOLD, *CLOSED))
        closed = position.status in CLOSED
        fanout = {nid for nid, _, _ in lifecycle._fanout_rows(position)} if closed else set()
        if self.attempt("reopen", lambda: services.reopen_position(position, actor=self.actor())):
            self.undone |= fanout  # a close taken back: nobody is told anything

    @precondition(lambda self: self.applications)
    @rule(pick=st.integers(0, 99))
    def contact(self, pick):
        a = self.application(pick)
        self.attempt(
            "contact",
            lambda: services.log_contact(
                a.candidate,
                actor=self.actor(),
                channel="phone",
                summary="Called to talk through where things stand.",
                application=a,
            ),
        )

    @rule(minutes=st.sampled_from([1, 10, 31, 90, 24 * 60]))
    def time_passes(self, minutes):
        """The clock moves on and the workers send what is due (in process, no RQ)."""
        now = self.clock.advance(minutes=minutes)
        counts = reconcile(now)
        # Every change owed its message in its own transaction: the safety net (which writes
        # one for a terminal application without any) had nothing to repair.
        assert counts["repaired"] == 0, counts
        due = list(
            db.session.scalars(
                sa.select(Notification.id).where(
                    Notification.state.in_(CLAIMABLE), Notification.due_at <= now
                )
            )
        )
        db.session.commit()
        if due:
            counts = deliver(due)
            event(f"time passes: sent {'some' if counts.get('sent') else 'none'}")
            SEEN["sent"] += counts.get("sent", 0)

    # -- the promise -----------------------------------------------------------------------

    @invariant()
    def every_terminal_application_has_its_response(self):
        db.session.expire_all()
        left = db.session.scalars(promise.terminal_without_response()).all()
        assert left == [], [(a.id, a.stage, a.version) for a in left]

    @invariant()
    def one_live_message_per_cause(self):
        causes = db.session.execute(
            sa.select(
                Notification.application_id,
                Notification.app_version,
                Notification.kind,
                sa.func.count(),
            )
            .where(Notification.state.in_(LIVE))
            .group_by(Notification.application_id, Notification.app_version, Notification.kind)
            .having(sa.func.count() > 1)
        ).all()
        assert causes == []

    @invariant()
    def undone_changes_send_nothing(self):
        if not self.undone:
            return
        told = db.session.execute(
            sa.select(Notification.id, Notification.kind, Notification.state).where(
                Notification.id.in_(sorted(self.undone)),
                Notification.state.notin_(SETTLED),
            )
        ).all()
        assert [r for r in told if r.state in TOLD or r.state in ACCEPTED] == []
        db.session.commit()


def test_the_engine_keeps_its_promise_under_any_sequence(app):
    SEEN.clear()
    run_state_machine_as_test(Engine, settings=SETTINGS)
    # The sequences did reach what the invariants are about (a machine that only ever got
    # refused would pass without testing anything).
    print(f"engine machine, {MAX_EXAMPLES} examples: {dict(sorted(SEEN.items()))}")
    wanted = ["add", "advance", "reject", "undo", "hold", "reopen", "contact", "sent"]
    assert [w for w in wanted if not SEEN[w]] == []
    assert SEEN["close (cancelled)"] + SEEN["close (filled)"] and SEEN["undone messages"]


# -- stencils ---------------------------------------------------------------------------------


@pytest.fixture
def still_clock():
    """Status links carry the second they were signed: renders compared hold the clock."""
    with clock.frozen(clock.now()) as c:
        yield c


@SETTINGS
@given(
    people=st.lists(
        st.tuples(NAMES, ADDRESSES), min_size=2, max_size=4, unique_by=lambda p: p[1].lower()
    )
)
def test_a_stencil_render_is_the_full_render_for_any_name_and_address(db, still_clock, people):
    position = f.position()
    for name, address in people:
        # Addresses are unique: one example's may not be another's (the database is shared).
        f.application(
            position_=position,
            candidate_=f.candidate(name=name, email=f"p{position.id}-{address}"),
            stage=Stage.INTERVIEW,
        )
    db.session.commit()
    result = services.close_position(position, actor=None, status="cancelled", reason="budget_cut")
    owed = _load(result["notification_ids"])
    stencils = Stencils()
    fast = [render_email([n], stencils) for n in owed]
    for n, got in zip(owed, fast, strict=True):
        full = render_email([n])
        assert (got.subject, got.text) == (full.subject, full.text)
        # CSS inlining re-serialises entities; the stencil keeps markupsafe's.
        assert htmllib.unescape(got.html) == htmllib.unescape(full.html)
        shared, fills = got.shared, got.fills
        if n.id in stencils.upgrades:  # the first of its shape, joined to the stencil later
            shared, fills = stencils.upgrades[n.id]
        if shared is None:
            continue
        # What the provider makes of the shared layout and this email's fills.
        text, html = shared.text, shared.html
        for tag, value in fills.items():
            text, html = text.replace(tag, value), html.replace(tag, value)
        assert text == full.text
        assert htmllib.unescape(html) == htmllib.unescape(full.html)
