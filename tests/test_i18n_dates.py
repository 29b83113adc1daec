"""Dates and form messages in the reader's language (issue #19): staff pages and the client's
decision email write dates through app/dates.py (CLDR month and weekday names, the
language's own order), the status page's forms answer a German candidate in German
(WTForms' own messages through Flask-WTF's i18n, ours through the `messages` catalog), and
email_validator's English reasons become our sentences. A scanner keeps word-producing
strftime formats (%a %A %b %B …) out of the app, and is shown to catch a bad sample."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import g
from flask_babel import force_locale
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired

from app import dates
from app.models import Stage
from app.notifications import links
from app.validators import InvalidEmail, email_problem, normalize_email
from tests import factories as f
from tests.web import Web, sign_in

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
MOMENT = datetime(2026, 12, 3, 14, 5, 9, tzinfo=UTC)  # a Thursday


# -- app/dates.py ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "en", "de", "es"),
    [
        ("day", "03 Dec 2026", "3. Dez. 2026", "3 dic 2026"),
        ("day_month", "03 Dec", "3. Dez.", "3 dic"),
        ("minute", "03 Dec 2026, 14:05", "3. Dez. 2026, 14:05", "3 dic 2026, 14:05"),
        ("weekday_day_month", "Thu 3 Dec", "Do., 3. Dez.", "jue, 3 dic"),
        ("long_day", "Thursday 03 December", "Donnerstag, 3. Dezember", "jueves 3 de diciembre"),
        ("clock_seconds", "14:05:09", "14:05:09", "14:05:09"),
    ],
)
def test_a_moment_is_written_in_each_languages_words_and_order(app, form, en, de, es):
    assert [dates.moment(MOMENT, form, locale=lang) for lang in ("en", "de", "es")] == [en, de, es]
    with force_locale("de"):  # the page's or email's language when none is given
        assert dates.moment(MOMENT, form) == de


def test_a_moment_is_shown_in_the_zone_asked_for_and_says_which(app):
    assert dates.moment(MOMENT, "minute", show_zone=True) == "03 Dec 2026, 14:05 UTC"
    berlin = dates.moment(MOMENT, "minute", "Europe/Berlin", show_zone=True, locale="de")
    assert berlin == "3. Dez. 2026, 15:05 CET"
    # Equal instants in two zones are two texts (the cache is keyed on the wall time).
    assert dates.moment(MOMENT, "clock", "Europe/Berlin") == "15:05"
    assert dates.moment(MOMENT, "clock") == "14:05"
    assert dates.moment(MOMENT.replace(tzinfo=None), "clock") == "14:05"  # naive is UTC
    assert dates.moment(date(2026, 3, 4), "day_month") == "04 Mar"
    assert dates.moment(None, "day") == "–"
    with pytest.raises(TypeError):
        dates.moment(date(2026, 3, 4), "minute")  # a day has no time to show


# -- a staff page and the client's email in another language ---------------------------------


def _application_page(make_app, db, language: str | None) -> str:
    web_app = make_app(fresh=True)
    if language:
        # What a staff member's own language setting will do (staff pages are English today).
        web_app.before_request(lambda: setattr(g, "language", language))
    owner = f.user(name="Riley Stone")
    a = f.application(position_=f.position(owner=owner), stage=Stage.CLIENT_REVIEW)
    a.stage_entered_at = MOMENT
    a.promised_response_at = datetime(2026, 12, 18, 17, 0, tzinfo=UTC)
    db.session.commit()
    web = sign_in(Web(web_app.test_client()), owner)
    answer = web.get(f"/reports/applications/{a.id}")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_a_staff_page_writes_its_dates_in_the_pages_language(app, make_app, db):
    english = _application_page(make_app, db, None)
    assert "03 Dec 2026, 14:05 UTC" in english and "18 Dec 2026, 17:00 UTC" in english
    german = _application_page(make_app, db, "de")
    assert "3. Dez. 2026, 14:05 UTC" in german and "18. Dez. 2026, 17:00 UTC" in german
    assert "Dec 2026" not in german


# -- forms on the status page ----------------------------------------------------------------


def test_a_german_candidate_gets_the_status_pages_form_messages_in_german(app, make_app, db):
    web = Web(make_app().test_client())
    c = f.candidate(name="Jana Schulz")
    c.language = "de"
    a = f.application(candidate_=c, stage=Stage.INTERVIEW)
    db.session.commit()
    url = f"/status/{links.status_token(c)}/applications/{a.id}/withdraw"
    page = web.post(url, data={}).get_data(as_text=True)
    assert "Setzen Sie zur Bestätigung das Häkchen." in page and "Tick the box" not in page

    german = {"Accept-Language": "de"}
    empty = web.post("/status/link", data={"email": ""}, headers=german).get_data(as_text=True)
    assert "Bitte geben Sie Ihre E-Mail-Adresse ein." in empty
    bad = web.post("/status/link", data={"email": "jana"}, headers=german).get_data(as_text=True)
    assert (
        "Bitte geben Sie eine gültige E-Mail-Adresse ein (eine E-Mail-Adresse braucht ein "
        "@-Zeichen, wie in name@example.com)." in bad
    )
    assert "@-sign" not in bad and "Enter a valid" not in bad
    spanish = {"Accept-Language": "es"}
    bad = web.post("/status/link", data={"email": "a b@x.es"}, headers=spanish)
    assert "una dirección de correo no puede contener espacios" in bad.get_data(as_text=True)


class _Plain(FlaskForm):
    # WTForms' own default messages, as any form without words of its own gets them.
    name = StringField(validators=[DataRequired()])
    count = IntegerField()


@pytest.mark.parametrize(
    ("language", "required", "integer"),
    [
        ("en", "This field is required.", "Not a valid integer value."),
        ("de", "Dieses Feld wird benötigt.", "Keine gültige, ganze Zahl."),
        ("es", "Este campo es obligatorio.", "No es un valor entero válido."),
    ],
)
def test_wtforms_own_messages_follow_the_pages_language(app, language, required, integer):
    assert app.config.get("WTF_I18N_ENABLED", True)
    with app.test_request_context(method="POST", data={"name": "", "count": "many"}):
        g.language = language
        form = _Plain(meta={"csrf": False})
        assert not form.validate()
        assert form.errors == {"name": [required], "count": [integer]}


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("jana", "no_at"),
        ("@example.de", "nothing_before"),
        ("jana@", "nothing_after"),
        ("jana schulz@example.de", "space"),
        ("jana@example", "after"),
        ("jana@exa_mple.de", "after"),
        ("ja(na@example.de", "before"),
        ("jana@" + "x" * 260 + ".de", "too_long"),
        ("jana..schulz@example.de", "other"),
    ],
)
def test_email_validators_reasons_become_our_sentences(app, address, code):
    with pytest.raises(InvalidEmail) as refused:
        normalize_email(address)
    assert refused.value.code == code
    assert "@-sign" not in str(refused.value)
    assert email_problem("x@y.de", "") == "other"


# -- no word-producing strftime in the app ---------------------------------------------------

# %a %A %b %B (names), %c %x (the C locale's order), %p (AM/PM): English whatever the
# reader's language. In strftime calls and in f-string / format() specs ({d:%d %b}).
WORDY = re.compile(
    r"""strftime\(\s*(?P<q>['"])[^'"]*%[aAbBcpx]"""
    r"""|\{[\w.\[\]()]+:[^{}'"]*%[aAbBcpx][^{}'"]*\}"""
    r"""|format\([^,()]+,\s*(?P<r>['"])[^'"]*%[aAbBcpx]"""
)


def wordy_dates(source: str) -> list[str]:
    return [m.group(0) for m in WORDY.finditer(source)]


def test_no_english_month_or_weekday_names_are_formatted_in_the_app():
    sources = [*APP.rglob("*.py"), *(APP / "templates").rglob("*.html")]
    sources += [*(APP / "templates").rglob("*.txt")]
    found = []
    for path in sorted(sources):
        name = str(path.relative_to(ROOT))
        text = path.read_text()
        found += [f"{name}: {hit}" for hit in wordy_dates(text)]
    assert not found, "format with app.dates.moment / the `moment` filter:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "hits"),
    [
        ("{{ d.strftime('%d %b %Y') }}", 1),
        ('label = f"{local:%a} {local.day}"', 1),
        ('day=due_by.strftime("%A %d %B")', 1),
        ('format(when, "%B %Y")', 1),
        ("{{ e.created_at.strftime('%I:%M %p') }}", 1),
        ("{{ e.created_at | moment('minute') }}", 0),
        ('row.since.strftime("%Y-%m-%dT%H:%M:%SZ")', 0),  # ISO for machines stays
        ('f"{value:.1f} h"', 0),
    ],
)
def test_the_date_scanner_finds_word_producing_formats_and_leaves_iso(source, hits):
    assert len(wordy_dates(source)) == hits, source
