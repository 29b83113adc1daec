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
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import (
    format_date,
    format_datetime,
    format_skeleton,
    format_time,
    get_datetime_format,
)
from flask import has_app_context

# name: (English pattern, the CLDR skeleton of the date part for any other language,
# the time part or None). English is written out so it reads as it always has.
FORMATS: dict[str, tuple[str, str, str | None]] = {
    "day": ("dd MMM y", "yMMMd", None),  # 03 Dec 2026 | 3. Dez. 2026
    "day_month": ("dd MMM", "MMMd", None),  # 03 Dec | 3. Dez.
    "weekday_day_month": ("EEE d MMM", "MMMEd", None),  # Thu 3 Dec | Do., 3. Dez.
    "long_day": ("EEEE dd MMMM", "MMMMEEEEd", None),  # Thursday 03 December
    "minute": ("dd MMM y, HH:mm", "yMMMd", "HH:mm"),  # 03 Dec 2026, 14:05
    "second": ("dd MMM y, HH:mm:ss", "yMMMd", "HH:mm:ss"),
    "day_month_minute": ("dd MMM HH:mm", "MMMd", "HH:mm"),  # 03 Dec 14:05
    "day_month_second": ("dd MMM HH:mm:ss", "MMMd", "HH:mm:ss"),
    "weekday_minute": ("EEE dd MMM y, HH:mm", "yMMMEd", "HH:mm"),  # Thu 03 Dec 2026, 14:05
    "weekday_day_month_minute": ("EEE d MMM HH:mm", "MMMEd", "HH:mm"),
    "clock": ("HH:mm", "", "HH:mm"),
    "clock_seconds": ("HH:mm:ss", "", "HH:mm:ss"),
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
    if isinstance(value, datetime):
        # Formatted as the local wall time: two zones' equal instants are different text.
        text = _format(value.replace(tzinfo=None), form, _locale_name(locale))
        return f"{text} {value.tzname()}" if show_zone else text
    if FORMATS[form][2] is not None:
        raise TypeError(f"{form!r} shows a time: it needs a datetime, not {value!r}")
    return _format(value, form, _locale_name(locale))


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


# Reports write the same few days in every row: each (value, form, locale) is formatted once.
@functools.lru_cache(maxsize=8192)
def _format(value: datetime | date, form: str, locale: str) -> str:
    english, skeleton, clock = FORMATS[form]
    language = locale.split("_")[0]
    if language == "en":
        return (format_datetime if clock else format_date)(value, english, locale="en")
    if not skeleton:
        return format_time(value, clock, locale=locale)
    exact = EXACT.get((form, language))
    day = (
        format_date(value, exact, locale=locale)
        if exact
        else format_skeleton(skeleton, value, locale=locale)
    )
    if clock is None:
        return day
    both = get_datetime_format("medium", locale=locale).replace("'", "")
    return both.replace("{1}", day).replace("{0}", format_time(value, clock, locale=locale))
