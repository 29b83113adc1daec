"""Logs that connect: the request id on every line of a request, JSON when asked for, and
neither candidates' addresses nor configured secrets in any line."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app import logs, tracing


@pytest.fixture
def captured():
    """Our handler on the root logger, writing into a buffer (as a process would to stderr)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = [h for h in root.handlers if not isinstance(h, logs.Handler)]
    stream = io.StringIO()

    def configure(component="web", **config):
        logs.configure(component, config)
        ours = next(h for h in root.handlers if isinstance(h, logs.Handler))
        ours.setStream(stream)
        return stream

    yield configure
    root.handlers, root.level = saved
    logs.configure("web", {}, handler=False)


def test_text_lines_carry_the_role_and_the_request_id(captured):
    stream = captured("worker")
    with tracing.bound("req-123"):
        logging.getLogger("closeloop.test").info("sent %s", "it")
    line = stream.getvalue().strip()
    assert " INFO worker closeloop.test [req-123] sent it" in line


def test_json_lines_are_one_object_each(captured):
    stream = captured("scheduler", LOG_FORMAT="json")
    with tracing.bound("reconcile-abc"):
        try:
            raise ValueError("boom for bob@example.com")
        except ValueError:
            logging.getLogger("closeloop.test").exception("failed")
    logging.getLogger("closeloop.test").warning("no request")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["component"] == "scheduler" and first["request_id"] == "reconcile-abc"
    assert first["level"] == "ERROR" and first["message"] == "failed"
    assert "ValueError: boom for b***@example.com" in first["exception"]
    assert second["request_id"] is None


def test_addresses_and_secrets_never_reach_a_line(captured):
    stream = captured(
        "web",
        SECRET_KEY="s3cret-key-value-123",
        SENDGRID_API_KEY="SG.abcdefghijklmnop",
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://app:hunter2hunter2@db:5432/closeloop",
        SENTRY_DSN="https://publickey123@o1.ingest.sentry.io/42",
    )
    log = logging.getLogger("closeloop.test")
    log.info("to Jane.Doe+jobs@mail.example.co.uk and bob@example.com")
    log.info("key %s and url %s", "SG.abcdefghijklmnop", "redis://:otherpass99@redis:6379/0")
    log.info("secret %s dsn %s", "s3cret-key-value-123", "https://publickey123@o1.ingest.sentry.io")
    log.info("db password hunter2hunter2 quoted alone")
    out = stream.getvalue()
    for leaked in (
        "Jane.Doe",
        "bob@",
        "SG.abcdefghijklmnop",
        "otherpass99",
        "s3cret-key-value-123",
        "publickey123",
        "hunter2hunter2",
    ):
        assert leaked not in out, out
    assert "J***@mail.example.co.uk" in out and "b***@example.com" in out
    assert "redis://:[redacted]@redis:6379/0" in out


def test_a_request_answers_with_its_id(client):
    response = client.get("/login", headers={"X-Request-ID": "edge-42.a:b"})
    assert response.headers["X-Request-ID"] == "edge-42.a:b"
    generated = client.get("/login").headers["X-Request-ID"]
    assert len(generated) == 32 and generated != "edge-42.a:b"


@pytest.mark.parametrize("sent", ['x" level=ERROR forged', "a" * 65, "", "-leading-dash"])
def test_an_insane_request_id_is_replaced(client, sent):
    answered = client.get("/login", headers={"X-Request-ID": sent}).headers["X-Request-ID"]
    assert answered != sent and len(answered) == 32


def test_records_made_during_a_request_carry_its_id(app, make_app, caplog):
    web = make_app(fresh=True)  # this test adds a route

    @web.get("/__log_probe")
    def probe():
        logging.getLogger("closeloop.probe").warning("inside")
        return "ok"

    caplog.set_level(logging.INFO)
    web.test_client().get("/__log_probe", headers={"X-Request-ID": "probe-1"})
    (record,) = [r for r in caplog.records if r.name == "closeloop.probe"]
    assert record.request_id == "probe-1"
