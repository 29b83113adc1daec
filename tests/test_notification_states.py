"""The notification state machine: the transition table, its named sets, the diagram that
explains it, and the recorder that holds the code to it (tests/state_log.py)."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa

import app.notifications
from app.models import Notification, NState
from app.models import notifications as states
from app.models.notifications import INITIAL, TRANSITIONS
from tests import factories as f

ALL = set(NState)


def test_every_state_has_its_moves_and_none_goes_to_itself():
    assert set(TRANSITIONS) == ALL
    for state, nexts in TRANSITIONS.items():
        assert nexts <= ALL
        assert state not in nexts


def test_the_ends_have_no_way_out_but_the_documented_ones():
    ends = {s for s, nexts in TRANSITIONS.items() if not nexts}
    assert ends == {NState.BOUNCED, NState.DROPPED, NState.DISCHARGED}
    # A superseded message comes back only when an ambiguous send turns out to have gone.
    assert TRANSITIONS[NState.SUPERSEDED] == {NState.SENT, NState.DELIVERED}
    # A failed one is sent again as the same row, or settled by a person; nothing else.
    assert TRANSITIONS[NState.FAILED] == {NState.PENDING, NState.DISCHARGED}
    # Once with the provider, only the provider's news moves it, and never back to owed.
    for handed in (NState.SENT, NState.DELIVERED):
        assert TRANSITIONS[handed] <= {NState.DELIVERED, NState.BOUNCED, NState.DROPPED}


def _reachable(start: set[NState]) -> set[NState]:
    seen, todo = set(start), list(start)
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_state_can_be_reached_and_every_debt_can_be_answered():
    assert _reachable(set(INITIAL)) == ALL
    answered = {NState.SENT, NState.DELIVERED, NState.DISCHARGED}
    for state in states.OWED + (NState.FAILED,):
        assert _reachable({NState(state)}) & answered, state


def test_the_named_sets_agree_with_the_table():
    assert states.CLAIMABLE == states.REPLACEABLE == states.WAITING == ("pending", "queued")
    assert states.DISCHARGEABLE == ("pending", "queued", "failed")
    # Every state is exactly one of: still owed, with the provider, failed, settled.
    parts = [states.OWED, states.HANDED_OVER, (NState.FAILED.value,), states.SETTLED]
    assert sorted(s for part in parts for s in part) == sorted(s.value for s in NState)
    assert set(states.UNDELIVERED) == set(states.RETURNED) | {NState.FAILED}
    assert set(states.UNSENT) == set(states.OWED) | {NState.FAILED}
    # A change can be taken back only while none of its messages can have left.
    assert not set(states.UNDOABLE) & (set(states.HANDED_OVER) | {NState.SENDING})


def test_the_guide_lists_exactly_the_moves_of_the_table():
    """app/notifications/__init__.py draws the machine; its list of moves is the table."""
    guide = app.notifications.__doc__
    news = re.search(r"provider news = ([a-z, ]+)", guide).group(1).split(", ")
    listed: dict[str, set[str]] = {}
    for line in guide.splitlines():
        match = re.match(r"\s+([a-z]+)\s+→ ([a-z, ]+?)(\s+\+ provider news)?(\s{2,}.*)?$", line)
        if match:
            nexts = set(match.group(2).split(", ")) | (set(news) if match.group(3) else set())
            listed[match.group(1)] = nexts
    ends = re.search(r"final: ([a-z, ]+)", guide).group(1).split(", ")
    listed.update({end: set() for end in ends})
    assert listed == {s.value: {n.value for n in nexts} for s, nexts in TRANSITIONS.items()}


def test_the_database_records_every_state_change(db, state_log):
    """The recorder itself: a move made by a plain UPDATE, outside the ORM, is seen."""
    a = f.application()
    n = Notification(
        application_id=a.id,
        candidate_id=a.candidate_id,
        kind="rejection",
        state=NState.DELIVERED.value,
        app_version=a.version,
        idempotency_key=f"test:{uuid.uuid4().hex}",
    )
    db.session.add(n)
    db.session.commit()
    state_log.take()
    db.session.execute(
        sa.update(Notification).where(Notification.id == n.id).values(state=NState.PENDING.value)
    )
    db.session.execute(  # not a change of state: not recorded
        sa.update(Notification).where(Notification.id == n.id).values(attempts=3)
    )
    db.session.commit()
    # delivered -> pending is not allowed: taken here, so this test's own check passes.
    assert state_log.take() == {("delivered", "pending")}
    assert ("delivered", "pending") not in {(a.value, b.value) for a in ALL for b in TRANSITIONS[a]}
