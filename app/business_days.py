"""Business days, defined once for the whole app: weekends, the public holidays of
HOLIDAY_COUNTRY / HOLIDAY_SUBDIVISION (the `holidays` package) and the agency's own closures
(EXTRA_HOLIDAYS) don't count.

The engine (when a delayed message may leave, when a candidate's update request is due), the
pipeline (the reminder before a promised date) and the managers' reports (SLA, silence) all
ask `get_calendar()`, so they never disagree about a day.

"One business day" keeps the time of day: something owed on Friday at 11:00 is due on Monday
at 11:00 (Tuesday if Monday is a bank holiday). Dates are read in the agency's time zone.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from flask import current_app
from holidays.registry import COUNTRIES

_MAX_WALK = 3660  # ten years of days: a bound, not a limit anyone should reach


class BusinessCalendar:
    def __init__(
        self,
        tz: ZoneInfo,
        country: str | None = None,
        subdivision: str | None = None,
        extra: frozenset[date] = frozenset(),
    ):
        self.tz = tz
        self.extra = extra
        self._public = country_holidays(country, subdivision) if country else {}

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.extra and day not in self._public

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def shift(self, moment: datetime, days: int) -> datetime:
        """`moment` moved by `days` business days (negative: back), same local time of day."""
        local = moment.astimezone(self.tz)
        day = self.shift_date(local.date(), days)
        return datetime.combine(day, local.time(), self.tz).astimezone(UTC)

    @functools.lru_cache(maxsize=8192)  # noqa: B019 - one calendar per app, kept for its life
    def shift_date(self, day: date, days: int) -> date:
        step, left = (1 if days > 0 else -1), abs(days)
        for _ in range(_MAX_WALK):
            if not left:
                break
            day += timedelta(days=step)
            if self.is_business_day(day):
                left -= 1
        return day

    def on_or_after(self, moment: datetime) -> datetime:
        """`moment` if its local date is a business day, else the same local time on the next
        one: a date promised to a candidate never falls on a weekend, holiday or closure."""
        if self.is_business_day(self.local_date(moment)):
            return moment
        return self.shift(moment, 1)

    def days_between(self, start: datetime, end: datetime) -> int:
        """Business days after `start`'s date up to and including `end`'s date."""
        return self._count(self.local_date(start), self.local_date(end))

    @functools.lru_cache(maxsize=8192)  # noqa: B019 - one calendar per app, kept for its life
    def _count(self, first: date, last: date) -> int:
        if last <= first:
            return 0
        days = min((last - first).days, _MAX_WALK)
        return sum(self.is_business_day(first + timedelta(days=i)) for i in range(1, days + 1))


def parse_extra(raw: str) -> frozenset[date]:
    """ISO dates, comma- or space-separated; a bad one fails at start-up, not in a report."""
    return frozenset(date.fromisoformat(part) for part in raw.replace(",", " ").split())


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def country_holidays(country: str, subdivision: str | None = None) -> holidays.HolidayBase:
    """`holidays.country_holidays(country, subdiv=...)`, importing only that country's module.

    The package's own lookup imports `holidays.countries`, whose __init__ imports all ~250
    countries (280 modules, 7 MB in every worker and web process; issue 18). The module is
    loaded under its usual name, so the package, if something imports it later, reuses it.
    A country whose module imports another country's (Åland reuses Finland's) loads the
    package that way anyway; an unknown code raises what the package raises.
    """
    entry = next(
        ((module, names[0]) for module, names in COUNTRIES.items() if country in names[1:]),
        None,
    )
    path = Path(holidays.__file__).parent / "countries" / f"{entry[0]}.py" if entry else None
    if path is None or "holidays.countries." in path.read_text(encoding="utf-8"):
        return holidays.country_holidays(country, subdiv=subdivision or None)
    module, class_name = entry
    name = f"holidays.countries.{module}"
    loaded = sys.modules.get(name)
    if loaded is None:
        spec = importlib.util.spec_from_file_location(name, path)
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        try:
            spec.loader.exec_module(loaded)
        except BaseException:
            del sys.modules[name]
            raise
    return getattr(loaded, class_name)(subdiv=subdivision or None)


def get_calendar() -> BusinessCalendar:
    """The agency's calendar, built once per app from its configuration."""
    cfg = current_app.config
    key = (
        cfg["AGENCY_TIMEZONE"],
        cfg.get("HOLIDAY_COUNTRY") or "",
        cfg.get("HOLIDAY_SUBDIVISION") or "",
        cfg.get("EXTRA_HOLIDAYS") or "",
    )
    cached = current_app.extensions.get("closeloop_calendar")
    if cached is None or cached[0] != key:
        calendar = BusinessCalendar(
            _zone(key[0]), key[1] or None, key[2] or None, parse_extra(key[3])
        )
        cached = (key, calendar)
        current_app.extensions["closeloop_calendar"] = cached
    return cached[1]
