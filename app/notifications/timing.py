"""When an owed message may go out: undo window, then the candidate's business hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app

from app.notifications.kinds import KINDS


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
    """`moment` if it falls in business hours (Mon–Fri) in the candidate's zone, else the
    start of the next business morning there."""
    cfg = current_app.config
    start, end = cfg["BUSINESS_HOURS_START"], cfg["BUSINESS_HOURS_END"]
    local = moment.astimezone(candidate_zone(tz_name))
    for _ in range(8):
        if local.weekday() < 5 and start <= local.hour < end:
            return local.astimezone(moment.tzinfo)
        if local.weekday() < 5 and local.hour < start:
            local = local.replace(hour=start, minute=0, second=0, microsecond=0)
            continue
        local = (local + timedelta(days=1)).replace(hour=start, minute=0, second=0, microsecond=0)
    return moment


def due_time(kind: str, tz_name: str | None, now: datetime) -> datetime:
    if not KINDS[kind].delayed:
        return now
    due = now + timedelta(seconds=current_app.config["UNDO_WINDOW_SECONDS"])
    if current_app.config["BUSINESS_HOURS_ENFORCED"]:
        due = next_business_moment(due, tz_name)
    return due
