"""Logs for people and for machines: readable text by default, one JSON object per line with
LOG_FORMAT=json. Every line carries the process's role (web, worker, scheduler) and the
request id of the work in progress (app.tracing). Candidate email addresses are masked and
configured secrets never appear, whatever the code logging them passed in.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from urllib.parse import urlsplit

from app import tracing

_EMAIL = re.compile(r"([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
# user:password@ in any URL (database, Redis, Sentry DSN).
_URL_PASSWORD = re.compile(r"(?<=[A-Za-z0-9+.-]://)([^:/@\s]*):([^@/\s]+)@")
_SECRET_SETTINGS = (
    "SECRET_KEY",
    "SENDGRID_API_KEY",
    "METRICS_TOKEN",
    "SENTRY_DSN",
    "SQLALCHEMY_DATABASE_URI",
    "REDIS_URL",
)
REDACTED = "[redacted]"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(component)s %(name)s [%(request_id)s] %(message)s"


def mask_email(address: str) -> str:
    """a***@example.com: enough to tell messages apart, not enough to identify anyone."""
    return _EMAIL.sub(r"\1***@\2", address)


class Redactor:
    """Masks email addresses, passwords in URLs and the configured secrets in a line."""

    def __init__(self, secrets: list[str] | None = None):
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets or [] if len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _URL_PASSWORD.sub(rf"\1:{REDACTED}@", text)
        return _EMAIL.sub(r"\1***@\2", text)


def secrets_of(config) -> list[str]:
    """The values in `config` that must never be written to a log: each secret setting
    whole and, for URLs, their password (and a Sentry DSN's key)."""
    found = []
    for key in _SECRET_SETTINGS:
        value = str(config.get(key) or "")
        if not value:
            continue
        found.append(value)
        if "://" in value:
            parts = urlsplit(value)
            found.append(parts.password or "")
            if key == "SENTRY_DSN":
                found.append(parts.username or "")
    return [s for s in found if s]


_component = "web"
_factory_installed = False


def _install_record_factory() -> None:
    """Every record gets the process's role and the current request id when it is made, so
    any handler (ours, pytest's, Sentry's breadcrumbs) can show them."""
    global _factory_installed
    if _factory_installed:
        return
    make_record = logging.getLogRecordFactory()

    def record_factory(*args, **kwargs):
        record = make_record(*args, **kwargs)
        record.component = _component
        record.request_id = tracing.current() or "-"
        return record

    logging.setLogRecordFactory(record_factory)
    _factory_installed = True


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor | None = None):
        super().__init__(TEXT_FORMAT, defaults={"component": "-", "request_id": "-"})
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, component, logger, request_id, message and,
    for an exception, its traceback."""

    def __init__(self, redact: Redactor | None = None):
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", "-")
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "component": getattr(record, "component", None),
            "logger": record.name,
            "request_id": None if request_id == "-" else request_id,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return self.redact(json.dumps(entry, ensure_ascii=False, default=str))


class Handler(logging.StreamHandler):
    """The process's one log handler (stderr), set up by `configure`."""

    def __init__(self, stream=None, log_format: str = "text"):
        super().__init__(stream or sys.stderr)
        self.setFormatter(_formatter(log_format, Redactor()))


def _formatter(log_format: str, redact: Redactor) -> logging.Formatter:
    if (log_format or "text").strip().lower() == "json":
        return JsonFormatter(redact)
    return TextFormatter(redact)


def configure(component: str | None = None, config=None, *, handler: bool = True) -> None:
    """Set this process's role (web, worker, scheduler; kept if None) and, with `handler`,
    route every log record through one handler on the root logger in the format LOG_FORMAT
    asks for. Calling it again (each app a process builds) adds the new config's secrets."""
    global _component
    config = config if config is not None else os.environ
    if component:
        _component = component
    _install_record_factory()
    if not handler:
        return
    root = logging.getLogger()
    ours = next((h for h in root.handlers if isinstance(h, Handler)), None)
    if ours is None:
        ours = Handler()
        root.addHandler(ours)
    previous = getattr(ours.formatter, "redact", None) or Redactor()
    redact = Redactor(previous.secrets + secrets_of(config))
    ours.setFormatter(_formatter(config.get("LOG_FORMAT") or "text", redact))
    root.setLevel((config.get("LOG_LEVEL") or "INFO").strip().upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
