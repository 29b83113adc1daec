"""Candidates' languages: which exist (BCP 47 tags), which we ship wording in, and which one
a candidate's emails and status page use.

A candidate may hold any well-formed tag (`fr-CA`): it records what they read. What they get
is the nearest shipped language (`de-AT` reads `de`), else the agency's default
(AGENCY_LANGUAGE), else English — never a blank or a key.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time

from babel import Locale, UnknownLocaleError
from flask import current_app, g, has_app_context
from flask_babel import gettext as _

# Wording ships in these (templates/email/kinds/<lang>/, app/translations/<lang>/).
SHIPPED: tuple[str, ...] = ("en", "de", "es")
# Each in its own words: a candidate choosing a language reads its name in that language.
NAMES = {"en": "English", "de": "Deutsch", "es": "Español"}
FALLBACK = "en"
# RFC 5646 allows longer tags, but 35 characters hold every tag in real use (the IANA
# registry's longest plus a region); the column is the same length.
MAX_LENGTH = 35
_SHAPE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


class BadLanguage(ValueError):
    """Not a language tag we can read; the message says what to give instead."""


def normalize(tag: str | None) -> str | None:
    """A BCP 47 tag in its usual spelling (`fr-ca` -> `fr-CA`), None for empty, or
    BadLanguage naming what is accepted."""
    tag = (tag or "").strip().replace("_", "-")
    if not tag:
        return None
    if len(tag) > MAX_LENGTH or not _SHAPE.match(tag):
        raise BadLanguage(
            _(
                "“%(tag)s” is not a language tag. Give a language tag such as en, de, es or fr-CA.",
                tag=tag[:40],
            )
        )
    try:
        locale = Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError):
        raise BadLanguage(
            _(
                "“%(tag)s” is not a language we know. Give a language tag such as en, de, es "
                "or fr-CA.",
                tag=tag[:40],
            )
        ) from None
    parts = [locale.language]
    if locale.script:
        parts.append(locale.script)
    if locale.territory:
        parts.append(locale.territory)
    return "-".join(parts)


def agency_default() -> str:
    """The agency's language (AGENCY_LANGUAGE), as shipped wording."""
    configured = current_app.config.get("AGENCY_LANGUAGE") if has_app_context() else None
    return _shipped(configured) or FALLBACK


def _shipped(tag: str | None) -> str | None:
    if not tag:
        return None
    if tag in SHIPPED:
        return tag
    primary = tag.split("-")[0].lower()
    return primary if primary in SHIPPED else None


def for_candidate(tag: str | None) -> str:
    """The shipped language a person with this tag reads: theirs, its base language, else
    the agency's default."""
    return _shipped(tag) or agency_default()


def choices() -> list[tuple[str, str]]:
    """(tag, name) for a form's select, the agency's default first."""
    first = agency_default()
    return [(first, NAMES[first])] + [(t, NAMES[t]) for t in SHIPPED if t != first]


def name(tag: str | None) -> str:
    """A tag as words for staff pages (`German`, `French (Canada)`)."""
    if not tag:
        return _("Agency default")
    try:
        return Locale.parse(tag, sep="-").get_display_name("en") or tag
    except (UnknownLocaleError, ValueError):
        return tag


# -- the language of the page or email being made -------------------------------------------


def page_language() -> str:
    """Flask-Babel's locale selector: a candidate-facing view sets g.language; staff pages
    stay English (their strings are marked for translation all the same)."""
    return g.get("language") or FALLBACK


def current() -> str:
    """The language being rendered now (force_locale in emails, g.language on pages)."""
    from flask_babel import get_locale

    locale = get_locale() if has_app_context() else None
    return _shipped(str(locale).replace("_", "-")) if locale else FALLBACK


# A day as each language writes it in a sentence: "Friday 4 December 2026",
# "Freitag, 4. Dezember 2026", "viernes 4 de diciembre de 2026".
DAY_PATTERNS = {"en": "EEEE d MMMM y", "de": "EEEE, d. MMMM y", "es": "EEEE d 'de' MMMM 'de' y"}
TIME_PATTERNS = {"en": " 'at' HH:mm", "de": " 'um' HH:mm 'Uhr'", "es": " 'a las' HH:mm"}


def format_moment(local: datetime, lang: str, with_time: bool = False) -> str:
    """A local (already converted) date, and its time and zone, in `lang` (CLDR via Babel)."""
    lang = _shipped(lang) or FALLBACK
    text = _day(local.date(), lang)
    if with_time:
        text += _clock(local.time(), lang)
        text += f" ({local.tzname()})"
    return text


# A fan-out writes the same few dates in thousands of emails (every link expires on the
# same day): Babel's pattern formatting, which depends on nothing else, is done once each.
@functools.lru_cache(maxsize=4096)
def _day(day: date, lang: str) -> str:
    from babel.dates import format_date

    return format_date(day, DAY_PATTERNS[lang], locale=lang)


@functools.lru_cache(maxsize=4096)
def _clock(moment: time, lang: str) -> str:
    from babel.dates import format_time

    return format_time(moment, TIME_PATTERNS[lang], locale=lang)
