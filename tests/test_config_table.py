"""The README's settings table and app/config.py say the same thing.

The table (README "Configuration") is parsed: every variable it names, its documented
default and so its type. Then `app.config.load` is run from an environment holding only what
a test sets, with the environment it reads recorded:

- every variable the config reads is in the table, and every variable in the table is read by
  the config (or, for the few that are not app settings, by the file that does read it);
- with nothing set, each documented default is the value the app gets;
- set to another value, each variable reaches the app, parsed as its default says: integers
  as integers, `true`/`false` as booleans (with the spellings the config accepts), lists as
  lists.
"""

from __future__ import annotations

import re
import types
from datetime import timedelta
from pathlib import Path

import pytest

from app import config as config_module

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# In the table but read outside app/config.py: where each one is read.
READ_ELSEWHERE = {
    "CLOSELOOP_INSTANCE_PATH": "app/__init__.py",  # the instance folder, before any config
    "PORT": "devtools/run.py",  # make run's web server
    "WEB_CONCURRENCY": "gunicorn.conf.py",
    "GUNICORN_BIND": "gunicorn.conf.py",
    "GUNICORN_MAX_REQUESTS": "gunicorn.conf.py",
    "TEST_DATABASE_URL": "tests/conftest.py",
}
# The config key a variable sets, where it is not the variable's own name.
KEY = {"DATABASE_URL": "SQLALCHEMY_DATABASE_URI"}
# Documented defaults that are not one literal value: checked one by one below.
DESCRIBED = {
    "DATABASE_URL",  # "SQLite in the instance folder"
    "REDIS_URL",  # required
    "SECRET_KEY",  # required
    "EMAIL_BACKEND",  # sendgrid with a key, else mailbox
    "PUBLIC_BASE_URL",  # APP_BASE_URL, else ...
    "AGENCY_LOGO_TEXT",  # the agency name (empty in the config; the templates fall back)
    "AGENCY_SIGNATURE",
}


def settings_table() -> dict[str, str]:
    """{variable: documented default (the first `literal` of the Default cell, "" for
    "empty", None when described in words)} from README's Configuration table."""
    text = README.read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, "README: no settings table under ## Configuration"
    table: dict[str, str | None] = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        # "`21` / `8`": one default per variable, in the same order.
        parts = cells[1].split(" / ") if len(names) > 1 else [cells[1]]
        assert len(parts) == len(names), row
        for name, cell in zip(names, parts, strict=True):
            literal = re.match(r"`([^`]*)`", cell)
            if literal:
                table[name] = literal.group(1)
            elif cell.startswith("empty"):
                table[name] = ""
            else:
                table[name] = None
    return table


TABLE = settings_table()


class RecordingEnviron(dict):
    """An environment that remembers every variable asked for."""

    def __init__(self, values: dict):
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)


def load(env: dict | None = None, tmp: str = "/nonexistent-instance") -> tuple[dict, set[str]]:
    """app.config.load with exactly `env` as the environment; (config, variables read)."""
    environ = RecordingEnviron(env or {})
    original = config_module.os
    config_module.os = types.SimpleNamespace(environ=environ)
    try:
        return config_module.load(tmp), environ.read
    finally:
        config_module.os = original


def key(name: str) -> str:
    return KEY.get(name, name)


def kind(name: str, default: str) -> str:
    """The type a default says a variable has."""
    if default in ("true", "false"):
        return "bool"
    if re.fullmatch(r"-?\d+", default):
        return "int"
    if re.fullmatch(r"-?\d+\.\d*", default):
        return "float"
    if re.fullmatch(r"[\d.]+(,[\d.]+)+", default):
        return "list"
    return "str"


def test_the_table_and_the_config_name_the_same_variables():
    _, read = load()
    in_table = set(TABLE)
    assert read - in_table == set(), "read by app/config.py, missing from README's table"
    missing = in_table - read - set(READ_ELSEWHERE)
    assert missing == set(), "in README's table, read by nothing in app/config.py"
    for name, path in READ_ELSEWHERE.items():
        assert name in in_table, f"{name}: no longer in the table, drop it from READ_ELSEWHERE"
        assert f'"{name}"' in (ROOT / path).read_text(), f"{name} is not read in {path}"


LITERAL = sorted(
    (n, d) for n, d in TABLE.items() if d is not None and n not in DESCRIBED | set(READ_ELSEWHERE)
)


@pytest.mark.parametrize("name,default", LITERAL)
def test_each_documented_default_is_what_the_app_gets(name, default):
    config, _ = load()
    value = config[key(name)]
    expected = parse(kind(name, default), default)
    assert value == expected and type(value) in (type(expected), float), (name, value)


def parse(k: str, raw: str):
    """A value as the table's default spells it, as the app should hold it."""
    if k == "bool":
        return raw == "true"
    if k == "int":
        return int(raw)
    if k == "float":
        return float(raw)
    if k == "list":
        return [float(x) for x in raw.split(",")]
    return raw


def _other(name: str, default: str):
    """(environment value, what the app must get) for a value unlike the default."""
    k = kind(name, default)
    if k == "bool":
        return ("false", False) if default == "true" else ("true", True)
    if k == "int":
        return str(int(default) + 7), int(default) + 7
    if k == "float":
        return str(float(default) + 2.5), float(default) + 2.5
    if k == "list":
        return "1,2.5,4", [1.0, 2.5, 4.0]
    return f"{default}-set-by-test", f"{default}-set-by-test"


@pytest.mark.parametrize("name,default", LITERAL)
def test_each_variable_reaches_the_app_parsed_as_documented(name, default):
    raw, expected = _other(name, default)
    config, _ = load({name: raw})
    assert config[key(name)] == expected


BOOLEANS = sorted(n for n, d in LITERAL if kind(n, d) == "bool")


@pytest.mark.parametrize("name", BOOLEANS)
@pytest.mark.parametrize(
    "raw,expected",
    [("1", True), ("true", True), ("Yes", True), (" on ", True)]
    + [("0", False), ("false", False), ("no", False), ("off", False)],
)
def test_booleans_take_the_usual_spellings(name, raw, expected):
    assert load({name: raw})[0][name] is expected


@pytest.mark.parametrize(
    "name", sorted(n for n, d in LITERAL if kind(n, d) in ("int", "float", "list"))
)
def test_an_empty_number_means_its_default(name):
    """`X=` (or a compose file's `${X:-}`) is the default, never a crash at start: the
    float settings used to raise ValueError on an empty value while the integers did not."""
    assert load({name: ""})[0][key(name)] == parse(kind(name, TABLE[name]), TABLE[name])


def test_the_settings_described_in_words(tmp_path):
    # DATABASE_URL: SQLite in the instance folder, else the URL given.
    config, _ = load({}, str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/closeloop.sqlite3"
    url = "postgresql+psycopg://u:p@db:5432/closeloop"
    assert load({"DATABASE_URL": url})[0]["SQLALCHEMY_DATABASE_URI"] == url
    # REDIS_URL and SECRET_KEY: required, so nothing stands in for them here.
    assert (config["REDIS_URL"], config["SECRET_KEY"]) == ("", "")
    assert load({"REDIS_URL": "redis://r:6379/3"})[0]["REDIS_URL"] == "redis://r:6379/3"
    assert load({"SECRET_KEY": "k" * 40})[0]["SECRET_KEY"] == "k" * 40
    # EMAIL_BACKEND: sendgrid if SENDGRID_API_KEY is set, else mailbox; or as set.
    assert config["EMAIL_BACKEND"] == "mailbox"
    assert load({"SENDGRID_API_KEY": "SG.x"})[0]["EMAIL_BACKEND"] == "sendgrid"
    assert load({"SENDGRID_API_KEY": "SG.x", "EMAIL_BACKEND": "mailbox"})[0]["EMAIL_BACKEND"] == (
        "mailbox"
    )
    # PUBLIC_BASE_URL: APP_BASE_URL, else http://127.0.0.1:5000.
    assert config["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
    assert load({"APP_BASE_URL": "https://staff.test"})[0]["PUBLIC_BASE_URL"] == (
        "https://staff.test"
    )
    both = load({"APP_BASE_URL": "https://staff.test", "PUBLIC_BASE_URL": "https://jobs.test"})
    assert (both[0]["PUBLIC_BASE_URL"], both[0]["APP_BASE_URL"]) == (
        "https://jobs.test",
        "https://staff.test",
    )
    # AGENCY_LOGO_TEXT / AGENCY_SIGNATURE: unset, the agency name stands in (templates).
    assert (config["AGENCY_LOGO_TEXT"], config["AGENCY_SIGNATURE"]) == ("", "")
    assert load({"AGENCY_SIGNATURE": "The team"})[0]["AGENCY_SIGNATURE"] == "The team"
    # SESSION_MAX_AGE_HOURS ends remember-me cookies too.
    assert load({"SESSION_MAX_AGE_HOURS": "3"})[0]["REMEMBER_COOKIE_DURATION"] == timedelta(hours=3)


def test_the_agency_name_stands_in_for_an_empty_logo_text_and_signature(app, db):
    """What the table promises for AGENCY_LOGO_TEXT and AGENCY_SIGNATURE, in an email."""
    from app.models import Stage
    from app.notifications import render
    from app.pipeline import services
    from tests import factories as f

    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)
    app.config.update(AGENCY_NAME="Acme Recruiting", AGENCY_LOGO_TEXT="", AGENCY_SIGNATURE="")
    envelope = render._envelope(n.candidate, [n])
    assert (envelope["logo_text"], envelope["signature_lines"]) == (
        "Acme Recruiting",
        ["Acme Recruiting"],
    )
    # "\n" in the variable starts a new line.
    app.config.update(AGENCY_LOGO_TEXT="ACME", AGENCY_SIGNATURE="Jo Bloggs\\nThe Acme team")
    envelope = render._envelope(n.candidate, [n])
    assert (envelope["logo_text"], envelope["signature_lines"]) == (
        "ACME",
        ["Jo Bloggs", "The Acme team"],
    )
