"""Bad input, sent everywhere the app takes input: every URL variable of every rule, and
every query parameter, form field and upload each route reads. Nothing may answer 5xx, and
nothing may be written when the input was refused.

Where the input is found: each route is first asked once the ordinary way (as the first of
anonymous, status-link holder and admin the authorization matrix lets in), with a request
class that records every query, form and file key the route looks up (Flask-WTF forms look
up each of their fields). Every key found is then sent each payload below in turn, the
others keeping ordinary values. Every field of every WTForms form class must have been
found this way, so a new form (or field) is covered as soon as its route exists.

The routes are swept in slices (tests of their own, spread over the xdist workers); the slice
that completes a run's set checks the form fields against what all of them found.

The records the requests point at are the longest the columns allow (names of 200
characters, right-to-left text and emoji), so every page and email is built from the
longest values there are; each route gets a fresh set.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import json
import os
import pkgutil
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import request
from flask_wtf import FlaskForm
from wtforms.fields.core import UnboundField

import app as app_package
from app import clock
from app.extensions import db
from app.input_guard import BoundedArgs
from tests import world
from tests.test_access_matrix import MATRIX
from tests.web import Web

# Sent to every key of a route at once: invalid for every field, so one request per value
# exercises every field's checks (WTForms validates all of them).
TOGETHER = {
    "NUL": ["a\x00b"],
    "100k characters": ["x" * 100_000],
    "huge id": ["9" * 30],
    "wrong type": ["-1", "", ["a", "b"]],
    "impossible date": ["2023-02-30"],
}
# Sent to one key at a time, the others ordinary: values a field may accept, which must then
# be handled all the way down (stored, rendered, computed with).
ONE_BY_ONE = {
    "huge id": ["2147483648"],
    "RTL and emoji": ["\u202eשלום 👩🏽\u200d💻 مرحبا\u202c"],
    "wrong type": ["abc"],
}
# ... and to date fields, the last day there is (by the field's type).
LAST_DAY = {"DateField": "9999-12-31", "DateTimeLocalField": "9999-12-31T23:59"}
PATH_INT = ["2147483648", "9" * 30]
PATH_TEXT = {
    "NUL": ["a\x00b"],
    "100k characters": ["x" * 100_000],
    "RTL and emoji": ONE_BY_ONE["RTL and emoji"],
    "wrong type": ["abc", "-1", "..%2f..%2fetc"],
}
JSON_BODIES = {
    "NUL": '{"subject": "a\\u0000b"}',
    "lone surrogate": '{"subject": "\\ud800"}',
    "5,000-deep nesting": '{"subject": ' + "[" * 5000 + "]" * 5000 + "}",
}
# Ordinary values for the keys a route reads, so that one bad value at a time gets past the
# others to the code behind them.
ORDINARY = {
    "email": "someone@example.test",
    "password": "not the password",
    "name": "Ada Lovelace",
    "phone": "+44 113 496 0000",
    "timezone": "Europe/London",
    "title": "Engineer",
    "summary": "Called them",
    "message": "Thank you for asking",
    "channel": "phone",
    "date": (clock.now().date() + timedelta(days=30)).isoformat(),
    "time": "10:00",
    "promised_date": (clock.now().date() + timedelta(days=37)).isoformat(),
    "occurred_at": "2026-01-05T10:00",
    "hour": "7",
    "stage": "client_review",
    "to": "client_review",
    "action": "move",
    "confirm": "1",
    "optional_updates": "y",
    "enabled": "y",
    "subject": "Hello {{ first_name }}",
    "hold_reason": "Budget review",
    "q": "cara",
    "page": "1",
}
CSV = "name,email,phone,timezone\n{name},{email},+44 113 496 0000,Europe/London\n"


class RecordingArgs(BoundedArgs):
    """Query, form and file values that remember which keys were looked up."""

    seen: list = []

    def _saw(self, key):
        RecordingArgs.seen.append((self, key))

    def __contains__(self, key):
        self._saw(key)
        return super().__contains__(key)

    def __getitem__(self, key):
        self._saw(key)
        return super().__getitem__(key)

    def getlist(self, key, type=None):  # noqa: A002 - werkzeug's signature
        self._saw(key)
        return super().getlist(key, type)


def _recording_app(make_app):
    """The app every slice of the sweep shares (built once per session: hooks can only be
    added before its first request), and the keys its last request looked up."""
    app = make_app(
        PROPAGATE_EXCEPTIONS=False,
        LINK_REQUESTS_PER_IP=10_000,
        **world.ALL_ROUTES,
        **world.NO_PING,
    )
    found = app.extensions.get("bad_input_found")
    if found is not None:
        return app, found

    class RecordingRequest(app.request_class):
        parameter_storage_class = RecordingArgs

    app.request_class = RecordingRequest
    found = app.extensions["bad_input_found"] = {}

    @app.after_request
    def _classify(response):
        where = {id(request.args): "query", id(request.form): "form", id(request.files): "file"}
        for holder, key in RecordingArgs.seen:
            if id(holder) in where and key != "csrf_token":
                found.setdefault(where[id(holder)], set()).add(key)
        RecordingArgs.seen.clear()
        return response

    return app, found


_FINGERPRINT_SQL: dict[str, sa.TextClause] = {}


def _fingerprint(reader) -> list:
    """Rows per table, and the latest change of each table that records one. On PostgreSQL
    also the newest row version's transaction id (xmin), which every INSERT and UPDATE
    moves on: an update to a table without updated_at (tasks, api_tokens, ...) shows too.

    Read on `reader` (see _reader): one round trip, where the session's checkout, ping,
    BEGIN and COMMIT around the same SELECT made four on PostgreSQL."""
    dialect = db.engine.dialect.name
    if dialect not in _FINGERPRINT_SQL:
        newest = "max(xmin::text::bigint)" if dialect == "postgresql" else "NULL"
        parts = [
            f"SELECT '{t.name}', count(*), "
            + ("max(updated_at)" if "updated_at" in t.c else "NULL")
            + f", {newest}"
            + f' FROM "{t.name}"'
            for t in db.metadata.sorted_tables
        ]
        _FINGERPRINT_SQL[dialect] = sa.text(" UNION ALL ".join(parts))
    rows = _read(reader, _FINGERPRINT_SQL[dialect])
    return sorted(tuple(map(str, r)) for r in rows)


@contextlib.contextmanager
def _reader():
    """A connection of the test's own for the sweep's reads (see _read). On PostgreSQL in
    autocommit: the SELECT is the only round trip. SQLite keeps its transactions (the app
    begins each one IMMEDIATE, app/orm.py), one per read."""
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def _read(reader, statement) -> list:
    """`statement`'s rows, read in a transaction of their own: everything committed before
    it is seen, as a fresh transaction of the session saw it."""
    rows = reader.execute(statement).all()
    reader.commit()
    return rows


def _overlong(reader) -> list[str]:
    """Stored values longer than their column's bound (SQLite stores them; PostgreSQL
    refuses them with an error page): what the forms and the import let through. One
    statement for every bounded column (a statement each was ~1,700 round trips a run)."""
    bounds, longest = {}, []
    for table in db.metadata.sorted_tables:
        for column in table.c:
            limit = getattr(column.type, "length", None) or column.info.get("max_length")
            if not limit or not isinstance(column.type, sa.String):
                continue
            name = f"{table.name}.{column.name}"
            bounds[name] = limit
            longest.append(
                sa.select(
                    sa.literal(name, sa.String).label("name"),
                    sa.func.max(sa.func.length(column)).label("longest"),
                )
            )
    found = dict(_read(reader, sa.union_all(*longest)))
    return [
        f"{name}: {found[name]} > {limit}"
        for name, limit in bounds.items()
        if found[name] and found[name] > limit
    ]


def _role(key: str) -> str:
    """Who asks: the first of anonymous, link holder, admin that the matrix lets in."""
    answers = dict(zip(world.ROLES, MATRIX[key].split(), strict=True))
    for role in ("anon", "link", "admin"):
        if answers[role] not in ("login", "401", "403", "404", "405"):
            return role
    return "anon"


@functools.cache
def _form_fields() -> dict[str, dict[str, str]]:
    """Every WTForms form class of the app: its fields' names and types."""
    for module in pkgutil.walk_packages(app_package.__path__, "app."):
        if module.name.endswith(".forms"):
            importlib.import_module(module.name)
    out = {}
    stack = list(FlaskForm.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if not cls.__module__.startswith("app."):
            continue  # a form a test defines for itself (tests/test_i18n_dates.py)
        out[f"{cls.__module__}.{cls.__name__}"] = {
            name: field.field_class.__name__
            for name in dir(cls)
            if isinstance(field := getattr(cls, name, None), UnboundField)
        }
    return out


class Sweep:
    """Sends the payloads to one route after another and collects what went wrong."""

    def __init__(self, clients, owner, reader):
        self.clients, self.owner, self.reader = clients, owner, reader
        self.sent = 0
        self.failures: list[str] = []
        # The tables' fingerprint as the last request left them, when it was taken after it
        # (a refused request): the next request's "before" without asking again.
        self.fingerprint: list | None = None
        self.keys_seen: set[str] = set()

    def discover(self, key, rule, found) -> None:
        """Ask the route once the ordinary way, with a fresh set of records, and note every
        query, form and file key it looks up."""
        self.key, self.rule, self.role = key, rule, _role(key)
        self.rec = world.records(self.owner, long=True)
        self.fingerprint = None
        extra = world.EXTRA[key](self.rec) if key in world.EXTRA else {}
        found.clear()
        # A form is only read when something was posted: post one key nobody reads.
        probe = {"probe": "1"} if key.startswith("POST") else {}
        self.upload = False
        self.send(query=extra.get("query"), data={**probe, **extra.get("data", {})} or None)
        query_keys = set(found.get("query", ())) | set(extra.get("query", {}))
        form_keys = set(found.get("form", ())) | set(found.get("file", ()))
        form_keys |= set(extra.get("data", {}))
        self.keys_seen |= query_keys | form_keys
        self.query = {**_ordinary(query_keys, self.rec), **extra.get("query", {})}
        self.form = {**_ordinary(form_keys, self.rec), **extra.get("data", {})}
        self.upload = self.form.pop("file", None) is not None
        self.json = extra.get("json")

    def route(self, key, rule, found, field_types) -> None:
        self.discover(key, rule, found)
        self._path()
        for family, values in TOGETHER.items():
            for value in values:
                # Plus a key nobody reads: every request carries the value somewhere.
                self.attempt(
                    "every key",
                    family,
                    query={k: value for k in [*self.query, "probe"]},
                    data={k: value for k in [*self.form, "probe"]},
                )
        for where, keys in (("query", self.query), ("form", self.form)):
            for name in sorted(keys):
                values = dict(ONE_BY_ONE)
                if field_types.get(name) in LAST_DAY:
                    values["impossible date"] = [LAST_DAY[field_types[name]]]
                for family, listed in values.items():
                    for value in listed:
                        query, data = dict(self.query), dict(self.form)
                        (query if where == "query" else data)[name] = value
                        self.attempt(f"{where} {name}", family, query=query, data=data)
        if self.upload:
            self._uploads()
        if self.json is not None:
            self._json()

    def _path(self) -> None:
        for m in world.VARIABLE.finditer(self.rule.rule):
            name = m.group("name")
            families = {"huge id": PATH_INT} if m.group("converter") == "int" else PATH_TEXT
            for family, values in families.items():
                for value in values:
                    self.attempt(f"path {name}", family, path={name: value})

    def _uploads(self) -> None:
        for family, values in {**TOGETHER, **ONE_BY_ONE}.items():
            for value in values:
                if isinstance(value, list):
                    continue
                good = "ivy@example.test"
                for content, filename in (
                    (CSV.format(name=value, email=good), "candidates.csv"),
                    (CSV.format(name="Ivy", email=value), "candidates.csv"),
                    (CSV.format(name="Ivy", email=good), value or "x.csv"),
                ):
                    self.attempt("upload", family, upload=_upload(content, filename))
        # A NUL past the part of the file checked for binary content: the row is named.
        late = CSV.format(name="Ivy", email="ivy@example.test") + "x" * 4200 + ",a\x00b\n"
        self.attempt("upload", "NUL after byte 4096", upload=_upload(late))

    def _json(self) -> None:
        for family, values in TOGETHER.items():
            for value in values:
                self.attempt("json", family, json={k: value for k in self.json})
        for family, body in JSON_BODIES.items():
            self.attempt("json body", family, raw_json=body)

    def send(self, *, path=None, query=None, data=None, upload=None, json=None, raw_json=None):
        method = self.key.split(" ", 1)[0]
        values = world.path_values(self.rule, self.rec, self.role)
        values.update(path or {})
        if self.key.startswith("POST") and (data is not None or self.upload):
            data = dict(data or {})
            if self.upload or upload:
                data["file"] = upload or _upload(CSV.format(name="Ivy", email="ivy@example.test"))
        kwargs = {"data": data, "json": json}
        if raw_json is not None:
            kwargs = {"data": raw_json.encode(), "content_type": "application/json"}
        response = self.clients[self.role].open(
            world.url_for_rule(self.rule, values),
            method=method,
            query_string=query,
            **kwargs,
        )
        response.close()
        self.sent += 1
        return response

    def attempt(self, what: str, family: str, **kwargs) -> None:
        kwargs.setdefault("query", self.query)
        kwargs.setdefault("data", self.form if self.key.startswith("POST") else None)
        if self.json is not None:
            kwargs.setdefault("json", None if "raw_json" in kwargs else self.json)
            kwargs["data"] = None
        before = self.fingerprint or _fingerprint(self.reader)
        self.fingerprint = None
        response = self.send(**kwargs)
        self.check(f"{self.key} [{what}] as {self.role}", family, response, before)

    def check(self, what: str, family: str, response, before) -> None:
        status = response.status_code
        if status >= 500:
            self.failures.append(f"{what}: {family} -> {status}")
        elif family in ("NUL", "lone surrogate", "5,000-deep nesting") and status != 400:
            self.failures.append(f"{what}: {family} -> {status}, not 400")
        elif status >= 400:
            self.fingerprint = after = _fingerprint(self.reader)
            if before != after:
                changed = sorted(set(after) - set(before))
                self.failures.append(f"{what}: {family} -> {status} but wrote {changed}")


def _ordinary(keys: set[str], rec: world.Records) -> dict:
    ids = {
        "application_id": rec.application_id,
        "application_ids": rec.application_id,
        "client_id": rec.client_id,
        "position_id": rec.position_id,
        "notification_id": rec.notification_id,
    }
    return {k: str(ids.get(k, ORDINARY.get(k, "ok"))) for k in keys}


def _upload(content: str, filename: str = "candidates.csv"):
    return (io.BytesIO(content.encode("utf-8", "surrogatepass")), filename)


def _clients(app, team):
    clients = {role: Web(app.test_client()) for role in world.ROLES}
    for role in world.STAFF_ROLES:
        world.sign_in(clients[role], team.user(role))
        world.give_api_token(clients[role], team.user(role))
    return clients


def _swept(app) -> dict[str, object]:
    # Signing out ends the session the others use; it reads no input.
    return {k: r for k, r in world.rows(app).items() if r.endpoint != "auth.logout"}


# The method-rules the sweep covers, as MATRIX lists them (test_every_route_is_swept checks
# that they are exactly the app's), in slices of a few routes: each slice is a test of its own,
# so pytest-xdist spreads them over its workers, and each starts from an empty database (a
# route's page lists every record there is: one long sweep made the later routes build pages
# from the records of all the earlier ones).
ROUTES = sorted(k for k in MATRIX if k != "POST /logout")
SLICE = 12
SLICES = [ROUTES[i : i + SLICE] for i in range(0, len(ROUTES), SLICE)]


def test_every_route_is_swept(make_app):
    app, _ = _recording_app(make_app)
    assert sorted(_swept(app)) == ROUTES, "Routes the sweep does not cover (or no longer exist)"


def _keys_found_by_every_slice(tmp_path_factory, index: int, keys: set[str]) -> set[str] | None:
    """Every key the slices found, once every slice of this run has swept its routes (None
    before that). Each slice leaves its keys in a folder the run's xdist workers share; the
    one that completes the set sees them all."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # each worker's own folder sits in the run's
    shared = base / "bad-input-keys"
    shared.mkdir(exist_ok=True)
    part = shared / f"{index}.json.part"
    part.write_text(json.dumps(sorted(keys)))
    part.rename(shared / f"{index}.json")
    files = sorted(shared.glob("*.json"))
    if len(files) < len(SLICES):
        return None
    return {k for f in files for k in json.loads(f.read_text())}


@pytest.mark.parametrize("index", range(len(SLICES)), ids=[f"{k[0]}..." for k in SLICES])
def test_bad_input_everywhere(make_app, db, index, tmp_path_factory):
    app, found = _recording_app(make_app)
    team = world.staff()
    with _reader() as reader:
        sweep = Sweep(_clients(app, team), team.owner, reader)
        routes = _swept(app)
        fields = _form_fields()
        field_types = {n: t for names in fields.values() for n, t in names.items()}
        for key in SLICES[index]:
            assert key in routes, f"{key}: no such route (see test_every_route_is_swept)"
            sweep.route(key, routes[key], found, field_types)
        print(f"bad input: {sweep.sent} requests to {len(SLICES[index])} method-rules")
        # Every field of every form, checked by the slice that completes the run's set.
        keys_seen = _keys_found_by_every_slice(tmp_path_factory, index, sweep.keys_seen)
        unreached = sorted(
            f"{form}.{name}"
            for form, names in fields.items()
            for name in names
            if keys_seen is not None and name not in keys_seen and name != "submit"
        )
        assert not unreached, "Form fields no route was found to read: " + ", ".join(unreached)
        assert not sweep.failures, f"{len(sweep.failures)} bad answers:\n" + "\n".join(
            sweep.failures
        )
        assert not _overlong(reader), "Values longer than their column were stored"
