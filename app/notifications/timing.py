"""When an owed message may go out: undo window, business hours, the digest window and the
candidate's quiet hours, all in the candidate's own time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app

from app.business_days import get_calendar
from app.notifications.kinds import KINDS

# A bound on the walk to the next business morning, not a limit anyone should reach (the
# longest agency closure plus the weekends around it).
_MAX_DAYS = 400


def candidate_zone(tz_name: str | None) -> ZoneInfo:
    for name in (tz_name, current_app.config["AGENCY_TIMEZONE"], "UTC"):
        if not name:
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def next_business_moment(moment: datetime, tz_name: str | None) -> datetime:
    """`moment` if it falls in business hours on a business day (app/business_days.py: no
    weekends, public holidays or agency closures) in the candidate's zone, else the start of
    the next business morning there."""
    cfg = current_app.config
    start, end = cfg["BUSINESS_HOURS_START"], cfg["BUSINESS_HOURS_END"]
    calendar = get_calendar()
    local = moment.astimezone(candidate_zone(tz_name))
    for _ in range(_MAX_DAYS):
        if calendar.is_business_day(local.date()):
            if start <= local.hour < end:
                return local.astimezone(moment.tzinfo)
            if local.hour < start:
                local = local.replace(hour=start, minute=0, second=0, microsecond=0)
                continue
        local = (local + timedelta(days=1)).replace(hour=start, minute=0, second=0, microsecond=0)
    return moment


def in_quiet_hours(moment: datetime, tz_name: str | None) -> bool:
    cfg = current_app.config
    start, end = cfg["QUIET_HOURS_START"], cfg["QUIET_HOURS_END"]
    if not cfg["QUIET_HOURS_ENFORCED"] or start == end:
        return False
    hour = moment.astimezone(candidate_zone(tz_name)).hour
    return (hour >= start or hour < end) if start > end else (start <= hour < end)


def outside_quiet_hours(moment: datetime, tz_name: str | None) -> datetime:
    """`moment`, or the end of the quiet hours it falls in (the candidate's morning)."""
    if not in_quiet_hours(moment, tz_name):
        return moment
    return morning_after(moment, tz_name, same_day_if_early=True)


def morning_after(moment: datetime, tz_name: str | None, *, same_day_if_early=False) -> datetime:
    """QUIET_HOURS_END o'clock on the candidate's next day (or today, if still before it)."""
    end = current_app.config["QUIET_HOURS_END"]
    local = moment.astimezone(candidate_zone(tz_name))
    morning = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if not (same_day_if_early and morning > local):
        # Wall-clock arithmetic: 08:00 stays 08:00 across a DST change.
        morning = (local + timedelta(days=1)).replace(hour=end, minute=0, second=0, microsecond=0)
    return morning.astimezone(moment.tzinfo)


# How long before the candidate's quiet hours a message that keeps a promised date is
# planned to leave: room for the dispatcher's interval and a queue, so it is not caught by the
# night it was meant to beat.
PROMISE_MARGIN = timedelta(minutes=15)


def promise_deadline(promised: datetime, tz_name: str | None) -> datetime:
    """The last moment a message can reach the candidate on the day they were promised, in
    their own zone: PROMISE_MARGIN before their quiet hours begin that day (before midnight if
    quiet hours are off). A date of 17:00 in London is 22:30 in Kolkata: the candidate's day
    is what was promised, and after 21:00 there nothing is sent until the morning after."""
    cfg = current_app.config
    local = promised.astimezone(candidate_zone(tz_name))
    end = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    start = cfg["QUIET_HOURS_START"]
    if cfg["QUIET_HOURS_ENFORCED"] and start != cfg["QUIET_HOURS_END"] and start > 0:
        end = local.replace(hour=start, minute=0, second=0, microsecond=0)
    return (end - PROMISE_MARGIN).astimezone(promised.tzinfo)


def promise_answered_by(promised: datetime, tz_name: str | None) -> datetime:
    """When a promised date is answered at the latest if nobody decides: the promised-dates
    sweep acts then (once the date has passed, or earlier if the candidate's quiet hours begin
    before it on the promised day in their zone: a date of 17:00 in London is 22:30 in
    Kolkata), early enough that "still deciding" (held for the digest window) reaches them
    that day, and that a decision recorded just before it (held for the undo window) does too."""
    cfg = current_app.config
    lead = timedelta(seconds=cfg["CANDIDATE_DIGEST_WINDOW_SECONDS"] + cfg["UNDO_WINDOW_SECONDS"])
    return min(promised, promise_deadline(promised, tz_name) - lead)


def due_time(
    kind: str, tz_name: str | None, now: datetime, promised: datetime | None = None
) -> datetime:
    """When a message owed now may first go out, before the daily cap (pacing.departure adds
    it for one candidate; a fan-out's rows are held by the sender if a cap applies)."""
    return planned_time(kind, tz_name, now, promised)[0]


def planned_time(
    kind: str, tz_name: str | None, now: datetime, promised: datetime | None = None
) -> tuple[datetime, list[str]]:
    """due_time, with why it is not `now`: codes named in words by pipeline/preview.WAIT_WORDS,
    in the order applied.

    `promised`: the decision date the candidate was promised, if any. An outcome's wait for
    business hours stops at that day's promise_deadline, so a decision made on (or before) the
    promised day reaches them on it; the undo window and quiet hours still apply."""
    spec = KINDS[kind]
    if spec.requested:
        return now, ["requested"]  # the candidate is waiting for this answer
    cfg = current_app.config
    why: list[str] = []
    if spec.delayed:
        due = now + timedelta(seconds=cfg["UNDO_WINDOW_SECONDS"])
        if cfg["UNDO_WINDOW_SECONDS"] > 0:
            why.append("undo")
        if cfg["BUSINESS_HOURS_ENFORCED"]:
            moved = next_business_moment(due, tz_name)
            if promised is not None and moved > due:
                deadline = promise_deadline(promised, tz_name)
                if deadline >= due:  # not for a date already past: it cannot be kept now
                    moved = min(moved, deadline)
            if moved != due:
                why.append("business_hours")
            due = moved
    else:
        # Held briefly so that several changes close together go as one digest.
        due = now + timedelta(seconds=cfg["CANDIDATE_DIGEST_WINDOW_SECONDS"])
        if cfg["CANDIDATE_DIGEST_WINDOW_SECONDS"] > 0:
            why.append("digest")
    moved = outside_quiet_hours(due, tz_name)
    if moved != due:
        why.append("quiet_hours")
    return moved, why
