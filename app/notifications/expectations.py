"""What we have told the candidate to expect next, in one place: the emails and the status
page both read it here, so they never contradict each other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app import clock
from app.business_days import get_calendar
from app.models import Application, PositionStatus, Stage

# How soon we promise to write again while the application waits at each stage.
REPLY_WITHIN = {
    Stage.SUBMITTED: timedelta(days=14),
    Stage.CLIENT_REVIEW: timedelta(days=14),
    Stage.OFFER: timedelta(days=2),
}
ON_HOLD_WITHIN = timedelta(days=30)


@dataclass(frozen=True)
class Expectation:
    at: datetime
    what: str  # "interview", "decision" or "update"


def next_expected(application: Application) -> Expectation | None:
    """The next date the candidate can count on, or None when the application has ended.
    The dates we set ourselves ("update") land on a business day (app/business_days.py); an
    interview and the client's own decision date are shown as recorded."""
    expected = _next_expected(application)
    if expected is None or expected.what != "update":
        return expected
    return Expectation(get_calendar().on_or_after(expected.at), expected.what)


def _next_expected(application: Application) -> Expectation | None:
    if application.is_terminal:
        return None
    position = application.position
    if position.status == PositionStatus.ON_HOLD:
        since = position.status_changed_at or application.stage_entered_at
        return Expectation(since + ON_HOLD_WITHIN, "update")
    if application.stage == Stage.INTERVIEW:
        if application.interview_at and application.interview_at > clock.now():
            return Expectation(application.interview_at, "interview")
        if application.promised_response_at:
            return Expectation(application.promised_response_at, "decision")
    within = REPLY_WITHIN.get(Stage(application.stage))
    if within is not None:
        return Expectation(application.stage_entered_at + within, "update")
    return None
