"""Candidates in their own language: every message kind in every shipped language, the
catalogs complete and compiled, dates in the candidate's locale and time zone, a German
rejection through the SendGrid stand-in, the status page's "Read this in…", digests."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.dates import format_date
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from app import clock, languages
from app.models import Notification, Stage
from app.notifications import links, outbox
from app.notifications.kinds import KINDS
from app.notifications.render import render
from app.notifications.send import deliver
from app.pipeline import services
from devtools.sendgrid_stub import SendGridStub
from tests import factories as f
from tests.web import Web

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
KIND_FILES = ROOT / "app" / "templates" / "email" / "kinds"
OTHER_LANGUAGES = [lang for lang in languages.SHIPPED if lang != "en"]
REASONS = {
    "position_cancelled": "budget_cut",
    "position_filled": "filled_internally",
    "not_selected_client": "client_declined",
    "not_selected_agency": "agency_decision",
    "hired": "hired",
    "withdrawal_ack": "candidate_withdrew",
}
# Words of the English layout that must not be left in another language's email.
ENGLISH_LAYOUT = ("What happens next", "When you will hear from us", "See all your applications")
LEFTOVERS = re.compile(r"\{\{|\{%|%\(\w+\)|\{(position|client|agency|recruiter)\}|\bNone\b")


def _owed(kind: str, language: str | None, tz: str = "Europe/Berlin") -> Notification:
    now = clock.now()
    c = f.candidate(name="Jana Schulz", timezone=tz)
    c.language = language
    a = f.application(candidate_=c, stage=Stage.INTERVIEW)
    a.interview_at = now + timedelta(days=2)
    a.promised_response_at = now + timedelta(days=5)
    a.interviewers = "Hannah Cole"
    context = {
        "promised_response_at": (now + timedelta(days=5)).isoformat(),
        "new_expected_at": (now + timedelta(days=9)).isoformat(),
        "interview_at": (now + timedelta(days=2)).isoformat(),
    }
    return outbox.owe(a, kind, reason=REASONS.get(kind), context=context)


def test_every_kind_has_wording_in_every_shipped_language():
    """A kind added without its translations is named here (the email still goes, in the
    agency's language, then English: see render.builtin_file)."""
    missing = [
        f"{kind} in {languages.NAMES[lang]} (app/templates/email/kinds/{lang}/{kind}.txt)"
        for lang in OTHER_LANGUAGES
        for kind in KINDS
        if not (KIND_FILES / lang / f"{kind}.txt").exists()
    ]
    assert not missing, "message kinds without wording:\n" + "\n".join(missing)


@pytest.mark.parametrize("language", languages.SHIPPED)
def test_every_kind_renders_in_every_language_with_nothing_left_untranslated(db, language):
    english = {}
    for kind in KINDS:
        n = _owed(kind, language)
        email = render(n)
        for part in (email.subject, email.text, email.html):
            assert part.strip(), (kind, language)
            found = LEFTOVERS.search(part)
            assert found is None, f"{kind} in {language}: {found.group(0)!r} left in {part!r}"
        assert f'lang="{language}"' in email.html
        if language != "en":
            n.candidate.language = "en"
            english[kind] = render(n)
            assert email.subject != english[kind].subject, kind
            assert email.text != english[kind].text, kind
            for words in ENGLISH_LAYOUT:
                assert words not in email.text, (kind, words)


def _entries(catalog) -> dict:
    """msgid -> msgstr; a plural's are tuples (read_po gives tuples, read_mo lists)."""

    def key(value):
        return tuple(value) if isinstance(value, list | tuple) else value

    return {key(m.id): key(m.string) for m in catalog if m.id}


def test_the_catalogs_translate_every_marked_string_and_the_compiled_ones_match():
    template = _read(read_po, TRANSLATIONS / "messages.pot")
    wanted = {m.id for m in template if m.id}
    for lang in OTHER_LANGUAGES:
        po = _read(read_po, TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
        got = _entries(po)
        untranslated = sorted(i for i in wanted if not got.get(i))
        assert not untranslated, f"{lang}: not translated (run make translations): {untranslated}"
        mo = _read(read_mo, TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo")
        compiled = _entries(mo)
        assert compiled == got, f"{lang}: messages.mo is older than messages.po (make translations)"


# -- the staff UI: marked for translation, English for now ----------------------------------

# Words in staff templates that are names, not English to translate.
NOT_ENGLISH = {"Closeloop"}
TEMPLATES = ROOT / "app" / "templates"


def _staff_templates() -> list[Path]:
    """Every page template but the candidates' own (status/) and the emails (email/: the
    per-language kind files and the candidates' layout, in the `messages` catalog)."""
    return [
        p
        for p in sorted(TEMPLATES.rglob("*.html"))
        if p.relative_to(TEMPLATES).parts[0] not in ("status", "email")
    ]


def test_every_staff_template_marks_the_text_it_shows_for_translation():
    """Text a person reads in a staff template (and its title, placeholder, aria-label and
    alt attributes) is inside _() or a trans block; codes and names are in <code> or carry
    translate="no". English inside Jinja expressions ('s' if n != 1) is not seen here."""
    from tests.template_text import unmarked

    found = {
        str(p.relative_to(TEMPLATES)): left
        for p in _staff_templates()
        if (left := [t for t in unmarked(p.read_text()) if t not in NOT_ENGLISH])
    }
    assert not found, f"text not marked for translation: {found}"
    assert len(_staff_templates()) > 60
    # `{% set _ = … %}` would hide gettext from the rest of the template.
    rebinds = re.compile(r"\{%-?\s*(set|for)\s+(_|[^%]*,\s*_)\s*(=|in|,)")
    hidden = [str(p) for p in _staff_templates() if rebinds.search(p.read_text())]
    assert not hidden, f"templates that rebind _: {hidden}"


def test_the_staff_catalog_is_extracted_apart_from_the_candidates_one():
    """Staff strings go to staff.pot (babel-staff.cfg), never into messages.pot, which must
    stay fully translated: a German .po without them is complete, not 600 strings short.
    staff.pot is what the sources mark today (run `make translations` after marking more)."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    def extracted(cfg: str) -> set[str]:
        with (ROOT / cfg).open() as fh:
            method_map, options_map = parse_mapping_cfg(fh)
        # As `make translations` (-k _l -k lazy_ngettext:1,2).
        keywords = DEFAULT_KEYWORDS | {"_l": None, "lazy_ngettext": (1, 2)}
        found = extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords)
        return {m[2] if isinstance(m[2], str) else tuple(m[2]) for m in found}

    staff = {m.id for m in _read(read_po, TRANSLATIONS / "staff.pot") if m.id}
    candidates = {m.id for m in _read(read_po, TRANSLATIONS / "messages.pot") if m.id}
    assert extracted("babel-staff.cfg") == staff, "staff.pot is stale: run make translations"
    assert extracted("babel.cfg") == candidates, "messages.pot is stale: run make translations"
    for marked in ("Move to…", "Import candidates", "Changed their language", "Log out"):
        assert marked in staff, marked
    for lang in OTHER_LANGUAGES:
        assert not (TRANSLATIONS / lang / "LC_MESSAGES" / "staff.po").exists()
        po = _read(read_po, TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
        assert not (staff - candidates) & {m.id for m in po if m.id}, lang


def test_staff_pages_stay_english_whatever_the_candidates_language(app, make_app, db):
    """A German candidate's status page is German; the same candidate's profile, flash
    messages and form labels on the staff side stay English."""
    c = f.candidate(name="Jana Schulz")
    c.language = "de"
    db.session.commit()
    token = links.status_token(c)
    web, _user = _staff_web(make_app, "manager")
    assert 'lang="de"' in web.get(f"/status/{token}").get_data(as_text=True)
    profile = web.get(f"/candidates/{c.id}").get_data(as_text=True)
    assert '<html lang="en">' in profile and "Deutsch" not in profile.split("<main")[0]
    form = web.get(f"/candidates/{c.id}/edit").get_data(as_text=True)
    assert "Time zone" in form and "Send optional updates" in form
    answer = web.post(f"/candidates/{c.id}/edit", data=CANDIDATE_FORM | {"language": "es"})
    assert answer.status_code == 302
    assert "Jana Schulz saved." in web.get(answer.headers["Location"]).get_data(as_text=True)


def _read(reader, path: Path):
    with path.open("rb") as fh:
        return reader(fh)


@pytest.mark.parametrize(
    ("tag", "kept"),
    [("de", "de"), ("fr-ca", "fr-CA"), ("pt_BR", "pt-BR"), (" es ", "es"), ("", None)],
)
def test_a_language_tag_is_kept_in_its_usual_spelling(tag, kept):
    assert languages.normalize(tag) == kept


@pytest.mark.parametrize("tag", ["german", "x", "de-DE-" + "a" * 40, "<script>", "zz-ZZ"])
def test_a_bad_language_tag_is_refused_with_words(tag):
    with pytest.raises(languages.BadLanguage, match="language"):
        languages.normalize(tag)


def test_a_language_without_wording_falls_back_to_the_agency_default(app, db):
    app.config["AGENCY_LANGUAGE"] = "es"
    n = _owed("not_selected_client", "fr-CA")
    assert "ha decidido no seguir adelante" in render(n).text
    n.candidate.language = "de-AT"  # Austrian German reads the German wording
    assert "hat sich entschieden" in render(n).text
    n.candidate.language = None  # no language of their own: the agency's
    assert "Hola" in render(n).text


def test_a_german_rejection_reaches_sendgrid_in_german_with_a_german_date(app, db):
    with SendGridStub(api_key="SG.test") as stub:
        app.config.update(
            EMAIL_BACKEND="sendgrid",
            SENDGRID_API_KEY="SG.test",
            SENDGRID_API_HOST=stub.url,
            MAX_STATUS_EMAILS_PER_DAY=0,
        )
        recruiter = f.user(name="Riley Chen")
        c = f.candidate(name="Jana Schulz", email="jana@example.de", timezone="Europe/Berlin")
        c.language = "de"
        a = f.application(
            candidate_=c,
            stage=Stage.INTERVIEW,
            position_=f.position(owner=recruiter, title="Backend-Entwicklerin"),
        )
        db.session.commit()
        n = services.move_stage(a, Stage.REJECTED, actor=recruiter, reason="client_declined")
        n.due_at = clock.now()
        db.session.commit()
        assert deliver([n.id])["sent"] == 1
        (sent,) = stub.messages(n.id)
    expires = (clock.now() + links.status_max_age()).astimezone(languages_zone("Europe/Berlin"))
    german_day = format_date(expires.date(), "EEEE, d. MMMM y", locale="de")
    assert sent["subject"].endswith("die Entscheidung des Unternehmens")
    assert "hat sich entschieden, Ihre Bewerbung" in sent["text"]
    assert "Wie es weitergeht:" in sent["text"]
    assert f"gilt bis {german_day}" in sent["text"]
    assert re.search(r"(Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag), ", german_day)
    assert 'lang="de"' in sent["html"]


def languages_zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_switching_language_on_the_status_page_changes_the_next_email(app, make_app, db):
    web = Web(make_app().test_client())
    c = f.candidate(name="Lucía Gómez")
    a = f.application(candidate_=c, stage=Stage.SUBMITTED)
    db.session.commit()
    token = links.status_token(c)
    page = web.get(f"/status/{token}").get_data(as_text=True)
    assert "Your applications" in page and 'lang="en"' in page

    answer = web.post(f"/status/{token}/language", data={"language": "es"})
    assert answer.status_code == 302
    page = web.get(f"/status/{token}").get_data(as_text=True)
    assert "A partir de ahora le escribiremos en este idioma." in page
    assert "Sus candidaturas" in page and 'lang="es"' in page

    db.session.refresh(c)
    assert c.language == "es"
    # Audited as what it is, not as a change of email preferences; staff read it in words.
    from app.models import CandidateAction

    actions = db.session.scalars(
        sa.select(CandidateAction).where(CandidateAction.candidate_id == c.id)
    )
    assert [(x.action, x.detail) for x in actions] == [("language_changed", "language es")]
    staff, _user = _staff_web(make_app, "manager")
    profile = staff.get(f"/candidates/{c.id}").get_data(as_text=True)
    assert "Changed their language" in profile and "Changed their email preferences" not in profile
    n = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
    email = render(n)
    assert "está revisando su perfil" in email.text
    assert email.subject.endswith("la empresa está revisando su perfil")


def test_the_status_page_refuses_a_language_it_does_not_offer(app, make_app, db):
    web = Web(make_app().test_client())
    c = f.candidate()
    db.session.commit()
    token = links.status_token(c)
    assert web.post(f"/status/{token}/language", data={"language": "xx"}).status_code == 400
    db.session.refresh(c)
    assert c.language is None


def test_a_digest_for_two_clients_is_in_the_candidates_language(app, db):
    app.config["MAX_STATUS_EMAILS_PER_DAY"] = 0
    c = f.candidate(name="Jana Schulz", timezone="Europe/Berlin")
    c.language = "de"
    first = f.application(candidate_=c, stage=Stage.SUBMITTED, position_=f.position())
    second = f.application(candidate_=c, stage=Stage.INTERVIEW, position_=f.position())
    db.session.commit()
    one = services.move_stage(first, Stage.CLIENT_REVIEW, actor=None)
    two = services.move_stage(second, Stage.OFFER, actor=None)
    db.session.commit()
    email = render_digest([one, two])
    assert email.subject.startswith("Neuigkeiten zu Ihren Bewerbungen: ")
    assert " bei " in email.subject
    assert "Das hat sich bei Ihren Bewerbungen über uns getan." in email.text
    assert "prüft jetzt Ihr Profil" in email.text and "möchte Ihnen die Stelle" in email.text


def render_digest(rows):
    from app.notifications.render import render_email

    return render_email(rows)


def test_dates_follow_the_candidates_locale_and_time_zone(app, db):
    n = _owed("interview_scheduled", "es", tz="America/Mexico_City")
    text = render(n).text
    local = n.application.interview_at.astimezone(languages_zone("America/Mexico_City"))
    day = format_date(local.date(), "EEEE d 'de' MMMM 'de' y", locale="es")
    assert f"para el {day} a las {local:%H:%M}" in text


def test_nothing_is_left_owed_by_these_tests(db):
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))) == 0


# -- where staff set it ----------------------------------------------------------------------


def _staff_web(make_app, role="recruiter"):
    user = f.user(role)
    from app.extensions import db as _db

    _db.session.commit()
    web = Web(make_app().test_client())
    assert web.post("/login", data={"email": user.email, "password": "correct horse"}).status_code
    return web, user


CANDIDATE_FORM = {
    "name": "Jana Schulz",
    "email": "jana.schulz@example.de",
    "timezone": "Europe/Berlin",
    "optional_updates": "y",
}


def test_the_candidate_form_keeps_a_language_tag_and_the_profile_names_it(app, make_app, db):
    web, _user = _staff_web(make_app)
    form = web.get("/candidates/new").get_data(as_text=True)
    assert 'name="language"' in form and '<option value="de">Deutsch</option>' in form
    answer = web.post("/candidates/new", data=CANDIDATE_FORM | {"language": "fr-ca"})
    assert answer.status_code == 302
    from app.models import Candidate

    c = db.session.scalar(sa.select(Candidate).where(Candidate.email == "jana.schulz@example.de"))
    assert c.language == "fr-CA"
    profile = web.get(f"/candidates/{c.id}").get_data(as_text=True)
    assert "French (Canada)" in profile


@pytest.mark.parametrize("tag", ["klingon!", "x" * 36])
def test_the_candidate_form_refuses_a_bad_language_and_writes_nothing(app, make_app, db, tag):
    web, _user = _staff_web(make_app)
    answer = web.post("/candidates/new", data=CANDIDATE_FORM | {"language": tag})
    assert answer.status_code == 400
    assert "language" in answer.get_data(as_text=True)
    from app.models import Candidate

    assert db.session.scalar(sa.select(sa.func.count(Candidate.id))) == 0


def test_a_csv_import_reads_a_language_column(app, db):
    from app.imports import services as imports
    from app.imports.running import confirm
    from app.models import Candidate

    user = f.user()
    db.session.commit()
    data = (
        "name,email,timezone,language\n"
        "Jana Schulz,jana@example.de,Europe/Berlin,de\n"
        "Lucía Gómez,lucia@example.es,Europe/Madrid,ES\n"
        "Chloé Martin,chloe@example.fr,Europe/Paris,\n"
        "Bad Tag,bad@example.com,Europe/London,not a language\n"
    ).encode()
    preview = imports.create_preview(user, filename="people.csv", data=data, position=None)
    db.session.commit()
    bad = [r for r in preview.rows if r["errors"]]
    assert [r["name"] for r in bad] == ["Bad Tag"]
    assert "is not a language tag" in bad[0]["errors"][0]
    assert confirm(user, preview).state == "done"
    langs = dict(db.session.execute(sa.select(Candidate.name, Candidate.language)).all())
    assert langs == {"Jana Schulz": "de", "Lucía Gómez": "es", "Chloé Martin": None}


# -- the agency's wording, per language -------------------------------------------------------


def test_an_override_applies_to_its_language_only_and_the_editor_has_a_tab_each(app, make_app, db):
    from app.message_templates import services as svc
    from app.notifications import custom_templates as ct

    web, manager = _staff_web(make_app, "manager")
    draft = ct.Draft(
        subject="Absage: {{ position_title }}",
        text={"happened": "Leider nein, {{ first_name }}.", "next": "Weiter.", "when": "Ende."},
        html=dict.fromkeys(ct.PARTS, ""),
    )
    svc.save("not_selected_client", None, draft, manager, "de")
    german = _owed("not_selected_client", "de")
    english = _owed("not_selected_client", "en")
    assert "Leider nein, Jana." in render(german).text
    assert "Leider nein" not in render(english).text
    assert render(german).subject == f"Absage: {german.application.position.title}"

    page = web.get("/templates/not_selected_client?lang=de").get_data(as_text=True)
    assert 'data-testid="language-tabs"' in page
    for name in ("English", "German", "Spanish"):
        assert name in page
    assert "Leider nein" in page
    spanish = web.get("/templates/not_selected_client?lang=es").get_data(as_text=True)
    assert "ha decidido no seguir adelante" in spanish  # the built-in Spanish to start from
    assert web.get("/templates/not_selected_client?lang=xx").status_code == 404
    listing = web.get("/templates").get_data(as_text=True)
    assert "German edited" in listing
