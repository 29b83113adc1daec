"""Dates and times for people: month and weekday names, and the order of day, month, year
and time, in the language being rendered (Flask-Babel's locale: the page's, or the one an
email forces), via Babel's CLDR data.

Every staff page, staff email and preview formats a moment here, by a form's name:
`{{ entry.created_at | moment('minute') }}` in a template, `dates.moment(value, "day")` in
Python. English keeps the agency's house style exactly (`03 Dec 2026, 14:05`); another
language gets its own CLDR order and names (`3. Dez. 2026, 14:05`).
Candidates' emails and status page write whole sentences instead (languages.format_moment).

Machine formats stay machine: ISO 8601 in `datetime=` attributes, CSV exports and the API
never come through here.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import (
    format_date,
    format_skeleton,
    format_time,
    get_datetime_format,
)
from flask import has_app_context

# name: (English day pattern, English joint, the CLDR skeleton of the day for any other
# language, the time pattern or None). English is written out so it reads as it always has;
# elsewhere the language's own pattern joins day and time ("{1}, {0}").
FORMATS: dict[str, tuple[str, str, str, str | None]] = {
    "day": ("dd MMM y", "", "yMMMd", None),  # 03 Dec 2026 | 3. Dez. 2026
    "day_month": ("dd MMM", "", "MMMd", None),  # 03 Dec | 3. Dez.
    "weekday_day_month": ("EEE d MMM", "", "MMMEd", None),  # Thu 3 Dec | Do., 3. Dez.
    "long_day": ("EEEE dd MMMM", "", "MMMMEEEEd", None),  # Thursday 03 December
    "minute": ("dd MMM y", ", ", "yMMMd", "HH:mm"),  # 03 Dec 2026, 14:05
    "second": ("dd MMM y", ", ", "yMMMd", "HH:mm:ss"),
    "day_month_minute": ("dd MMM", " ", "MMMd", "HH:mm"),  # 03 Dec 14:05
    "day_month_second": ("dd MMM", " ", "MMMd", "HH:mm:ss"),
    "weekday_minute": ("EEE dd MMM y", ", ", "yMMMEd", "HH:mm"),  # Thu 03 Dec 2026, 14:05
    "weekday_day_month_minute": ("EEE d MMM", " ", "MMMEd", "HH:mm"),  # Thu 3 Dec 14:05
    "clock": ("", "", "", "HH:mm"),
    "clock_seconds": ("", "", "", "HH:mm:ss"),
}

# Where CLDR's skeleton match abbreviates what a sentence spells out (a full weekday).
EXACT: dict[tuple[str, str], str] = {
    ("long_day", "de"): "EEEE, d. MMMM",  # Donnerstag, 3. Dezember
    ("long_day", "es"): "EEEE d 'de' MMMM",  # jueves 3 de diciembre
}


def moment(
    value: datetime | date | None,
    form: str = "minute",
    zone: tzinfo | str | None = None,
    *,
    show_zone: bool = False,
    locale: Locale | str | None = None,
) -> str:
    """`value` in `zone` (UTC unless given; a naive datetime is UTC, as every column
    stores), written in the current language as `form` (FORMATS). `show_zone` adds the
    zone's abbreviation ("UTC", "GMT"). None is a dash."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(_zone(zone))
    locale_name = _locale_name(locale)
    if not isinstance(value, datetime):
        if FORMATS[form][3] is not None:
            raise TypeError(f"{form!r} shows a time: it needs a datetime, not {value!r}")
        return _day(value, form, locale_name)
    text = _moment(value.date(), value.time().replace(microsecond=0), form, locale_name)
    return f"{text} {value.tzname()}" if show_zone else text


def _zone(zone: tzinfo | str | None) -> tzinfo:
    if zone is None or isinstance(zone, tzinfo):
        return zone or UTC
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _locale_name(locale: Locale | str | None) -> str:
    if locale is None:
        if not has_app_context():
            return "en"
        from flask_babel import get_locale

        locale = get_locale() or "en"
    return str(locale)


# Formatted in two cached halves, the day and the wall-clock time (a page of 200 rows holds
# a few days and times; Babel takes some 20 µs for each whole date, a lookup here < 1 µs).
@functools.lru_cache(maxsize=4096)
def _moment(day: date, clock: time, form: str, locale: str) -> str:
    english_day, joint, _skeleton, clock_pattern = FORMATS[form]
    if clock_pattern is None:
        return _day(day, form, locale)
    if "s" not in clock_pattern:
        clock = clock.replace(second=0)  # one cached entry a minute
    hours = _clock(clock, clock_pattern, locale)
    if not english_day:
        return hours
    if _language(locale) == "en":
        return f"{_day(day, form, locale)}{joint}{hours}"
    both = get_datetime_format("medium", locale=locale).replace("'", "")
    return both.replace("{1}", _day(day, form, locale)).replace("{0}", hours)


@functools.lru_cache(maxsize=4096)
def _day(day: date, form: str, locale: str) -> str:
    english_day, _joint, skeleton, _clock_pattern = FORMATS[form]
    language = _language(locale)
    if language == "en":
        return format_date(day, english_day, locale="en")
    exact = EXACT.get((form, language))
    if exact:
        return format_date(day, exact, locale=locale)
    return format_skeleton(skeleton, day, locale=locale)


@functools.lru_cache(maxsize=4096)
def _clock(clock: time, pattern: str, locale: str) -> str:
    return format_time(clock, pattern, locale=locale)


def _language(locale: str) -> str:
    return locale.split("_")[0]
