"""Configuration: safe defaults for a laptop, everything overridable from the environment."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

# Werkzeug's scrypt at its own default cost (n=2**15, r=8, p=1), spelled out so that a Werkzeug
# upgrade cannot change it silently. Only the tests configure a cheaper method.
DEFAULT_PASSWORD_HASH_METHOD = "scrypt:32768:8:1"  # noqa: S105 - a method name, not a secret


# Set but empty (`X=`, or a compose file's `${X:-}`) means the default, for every kind.
def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else float(default)


def _env_floats(name: str, default: str) -> list[float]:
    """Comma-separated numbers; unset or empty: `default`'s."""
    raw = os.environ.get(name) or default
    return [float(x) for x in raw.split(",")]


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def default_database_url(instance_path: str) -> str:
    return "sqlite:///" + str(Path(instance_path) / "closeloop.sqlite3")


def load(instance_path: str) -> dict:
    """Build the config mapping from the environment."""
    sendgrid_key = os.environ.get("SENDGRID_API_KEY", "")
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY", ""),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or default_database_url(instance_path),
        # Required: an empty one stops the app at startup (app.redis_conn). `make run` and
        # the tests start an embedded Redis and pass its URL.
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "EMAIL_BACKEND": os.environ.get("EMAIL_BACKEND")
        or ("sendgrid" if sendgrid_key else "mailbox"),
        "SENDGRID_API_KEY": sendgrid_key,
        "SENDGRID_API_HOST": os.environ.get("SENDGRID_API_HOST", "https://api.sendgrid.com"),
        "SENDGRID_TIMEOUT_SECONDS": _env_float("SENDGRID_TIMEOUT_SECONDS", 10),
        "SENDGRID_SANDBOX_MODE": _env_bool("SENDGRID_SANDBOX_MODE", False),
        "SENDGRID_WEBHOOK_PUBLIC_KEY": os.environ.get("SENDGRID_WEBHOOK_PUBLIC_KEY", ""),
        "SENDGRID_WEBHOOK_MAX_AGE_SECONDS": _env_int("SENDGRID_WEBHOOK_MAX_AGE_SECONDS", 600),
        "MAIL_FROM_EMAIL": os.environ.get("MAIL_FROM_EMAIL", "updates@closeloop.example"),
        "AGENCY_NAME": os.environ.get("AGENCY_NAME", "Closeloop Staffing"),
        "AGENCY_TIMEZONE": os.environ.get("AGENCY_TIMEZONE", "Europe/London"),
        # Candidates without a language of their own (and any whose language we have no
        # wording in) read this one: en, de or es (app/languages.py).
        "AGENCY_LANGUAGE": os.environ.get("AGENCY_LANGUAGE", "en"),
        # Outcome messages wait this long so a misclick can be undone.
        # A file holding the current time (app/clock.py FileClock): `make simulate` moves
        # the clock of every process it starts. Empty (the default): the system clock.
        "CLOCK_FILE": os.environ.get("CLOCK_FILE", ""),
        "UNDO_WINDOW_SECONDS": _env_int("UNDO_WINDOW_SECONDS", 30 * 60),
        "BUSINESS_HOURS_START": _env_int("BUSINESS_HOURS_START", 9),
        "BUSINESS_HOURS_END": _env_int("BUSINESS_HOURS_END", 18),
        "BUSINESS_HOURS_ENFORCED": _env_bool("BUSINESS_HOURS_ENFORCED", True),
        "NOTIFICATION_SLA_SECONDS": _env_int("NOTIFICATION_SLA_SECONDS", 24 * 3600),
        # A claimed row whose worker has not finished within this lease is taken back.
        "SEND_LEASE_SECONDS": _env_int("SEND_LEASE_SECONDS", 120),
        # After an ambiguous send, wait this long for SendGrid's "processed" event before
        # sending again (at least once, but not needlessly twice).
        "AMBIGUOUS_SETTLE_SECONDS": _env_int("AMBIGUOUS_SETTLE_SECONDS", 120),
        # One job, one SendGrid request (at most 1,000 personalizations each).
        "SEND_BATCH_SIZE": _env_int("SEND_BATCH_SIZE", 1000),
        # Waits between attempts after a transient provider error (the last one repeats).
        "SEND_BACKOFF_SECONDS": _env_floats(
            "SEND_BACKOFF_SECONDS", "10,30,60,120,300,600,1800,3600"
        ),
        "DISPATCH_INTERVAL_SECONDS": _env_float("DISPATCH_INTERVAL_SECONDS", 10),
        "RECONCILE_INTERVAL_SECONDS": _env_float("RECONCILE_INTERVAL_SECONDS", 30),
        # The reconciler's pass checks the promise for applications changed in the last hour;
        # every terminal application is checked this often (and when a scheduler starts).
        "INVARIANT_SWEEP_SECONDS": _env_float("INVARIANT_SWEEP_SECONDS", 3600),
        # A standby scheduler takes over this long after the active one stops renewing.
        "SCHEDULER_LEASE_SECONDS": _env_float("SCHEDULER_LEASE_SECONDS", 45),
        "CONFIG_ERROR_PAUSE_SECONDS": _env_int("CONFIG_ERROR_PAUSE_SECONDS", 300),
        "QUEUED_GRACE_SECONDS": _env_int("QUEUED_GRACE_SECONDS", 60),
        # -- what the candidate sees (app/notifications/render.py, app/status/) --
        # Where candidates reach the status page; links in emails are built from it.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL")
        or os.environ.get("APP_BASE_URL")
        or "http://127.0.0.1:5000",
        "AGENCY_LOGO_TEXT": os.environ.get("AGENCY_LOGO_TEXT", ""),
        # Closing lines of every email; "\\n" (or a real newline) starts a new line.
        "AGENCY_SIGNATURE": os.environ.get("AGENCY_SIGNATURE", ""),
        # Status changes within this window after the first reach the candidate as one email.
        "CANDIDATE_DIGEST_WINDOW_SECONDS": _env_int("CANDIDATE_DIGEST_WINDOW_SECONDS", 300),
        # How often the progress page asks how far a fan-out has got.
        "FANOUT_POLL_SECONDS": _env_float("FANOUT_POLL_SECONDS", 1.5),
        # At most this many status emails per candidate per day (their time zone); more wait
        # for the next day, outcome messages included: delayed, never dropped. The last one
        # waits for an answer due that day (app/notifications/pacing.py).
        "MAX_STATUS_EMAILS_PER_DAY": _env_int("MAX_STATUS_EMAILS_PER_DAY", 2),
        # No status email between these hours in the candidate's time zone.
        "QUIET_HOURS_START": _env_int("QUIET_HOURS_START", 21),
        "QUIET_HOURS_END": _env_int("QUIET_HOURS_END", 8),
        "QUIET_HOURS_ENFORCED": _env_bool("QUIET_HOURS_ENFORCED", True),
        "STATUS_LINK_MAX_AGE_DAYS": _env_int("STATUS_LINK_MAX_AGE_DAYS", 60),
        # A candidate's "request an update" is answered within this (business hours), by the
        # recruiter or else automatically; one request per application per cooldown.
        "UPDATE_REQUEST_SLA_HOURS": _env_int("UPDATE_REQUEST_SLA_HOURS", 24),
        "UPDATE_REQUEST_COOLDOWN_HOURS": _env_int("UPDATE_REQUEST_COOLDOWN_HOURS", 72),
        # Candidates' replies (SendGrid Inbound Parse, README "Replies"). With INBOUND_DOMAIN
        # set, emails' Reply-To is reply+<signed token>@INBOUND_DOMAIN; unset, the recruiter.
        "INBOUND_DOMAIN": os.environ.get("INBOUND_DOMAIN", "").strip(),
        # The secret in the URL given to Inbound Parse; unset, the webhook answers 503.
        "INBOUND_PARSE_SECRET": os.environ.get("INBOUND_PARSE_SECRET", ""),
        # A larger post is refused (413); attachments are listed, never stored.
        "INBOUND_MAX_BYTES": _env_int("INBOUND_MAX_BYTES", 20 * 1024 * 1024),
        # Clients' decisions (app/decisions/): how long a decision link works, and after how
        # many hours a client's decline / move forward is confirmed without the recruiter
        # (0: never, the recruiter always confirms).
        "CLIENT_DECISION_LINK_DAYS": _env_int("CLIENT_DECISION_LINK_DAYS", 14),
        "CLIENT_DECISION_CONFIRM_HOURS": _env_int("CLIENT_DECISION_CONFIRM_HOURS", 0),
        # A reply to an email older than this is recorded as expired and owes nothing.
        "REPLY_TOKEN_MAX_AGE_DAYS": _env_int("REPLY_TOKEN_MAX_AGE_DAYS", 180),
        # The after-interview message goes this long after the interview started.
        "AFTER_INTERVIEW_DELAY_HOURS": _env_int("AFTER_INTERVIEW_DELAY_HOURS", 2),
        # Proxies in front of the app whose X-Forwarded-For / -Proto are trusted (ProxyFix);
        # 0: none, the client address is the connection's own.
        "TRUSTED_PROXY_COUNT": _env_int("TRUSTED_PROXY_COUNT", 0),
        # "Email me a new link" requests per client address per 15 minutes.
        "LINK_REQUESTS_PER_IP": _env_int("LINK_REQUESTS_PER_IP", 5),
        # Sign-in throttling (app/auth/throttle.py): failed attempts per account and per
        # client address within the window; more are refused with 429 until it ends.
        "LOGIN_FAILURES_PER_ACCOUNT": _env_int("LOGIN_FAILURES_PER_ACCOUNT", 10),
        "LOGIN_FAILURES_PER_ADDRESS": _env_int("LOGIN_FAILURES_PER_ADDRESS", 30),
        "LOGIN_THROTTLE_WINDOW_SECONDS": _env_int("LOGIN_THROTTLE_WINDOW_SECONDS", 15 * 60),
        # The REST API (app/api): requests per token per minute (429 beyond), and how long
        # an Idempotency-Key's first answer is kept.
        "API_REQUESTS_PER_MINUTE": _env_int("API_REQUESTS_PER_MINUTE", 600),
        "API_IDEMPOTENCY_HOURS": _env_int("API_IDEMPOTENCY_HOURS", 24),
        "API_IDEMPOTENCY_PURGE_SECONDS": _env_float("API_IDEMPOTENCY_PURGE_SECONDS", 3600),
        # Outbound webhooks (app/outbound): failures in a row before an endpoint is disabled,
        # and the seconds each HTTP delivery may take.
        "WEBHOOK_DISABLE_AFTER_FAILURES": _env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 20),
        "WEBHOOK_TIMEOUT_SECONDS": _env_int("WEBHOOK_TIMEOUT_SECONDS", 10),
        "WEBHOOK_SWEEP_SECONDS": _env_float("WEBHOOK_SWEEP_SECONDS", 10),
        # New password hashes (app/models/people.py). Deliberately not read from the
        # environment: production keeps Werkzeug's scrypt; only the tests set a cheap one.
        "PASSWORD_HASH_METHOD": DEFAULT_PASSWORD_HASH_METHOD,
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        # A session cookie replayed from another address or browser is thrown away.
        "SESSION_PROTECTION": "strong",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        # A session ends this long after signing in, however active it has been.
        "SESSION_MAX_AGE_HOURS": _env_int("SESSION_MAX_AGE_HOURS", 12),
        "REMEMBER_COOKIE_DURATION": timedelta(hours=_env_int("SESSION_MAX_AGE_HOURS", 12)),
        "BOOTSTRAP_SERVE_LOCAL": True,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # false: no server-side prepared statements (PgBouncer in transaction mode before
        # 1.21, or without max_prepared_statements); see README "Scaling".
        "DATABASE_PREPARED_STATEMENTS": _env_bool("DATABASE_PREPARED_STATEMENTS", True),
        # Every captured email, status links included: off unless `make run` (devtools/run.py)
        # turns it on, and then for admins only.
        "DEV_MAILBOX_ENABLED": _env_bool("DEV_MAILBOX_ENABLED", False),
        # Managers' reports (app/reports): the overdue report's rules and the staff digest.
        "OVERDUE_SLA_BUSINESS_DAYS": _env_int("OVERDUE_SLA_BUSINESS_DAYS", 1),
        "SILENT_AFTER_BUSINESS_DAYS": _env_int("SILENT_AFTER_BUSINESS_DAYS", 7),
        # Business days skip weekends and these public holidays (the `holidays` package);
        # empty HOLIDAY_COUNTRY means weekends only. EXTRA_HOLIDAYS: ISO dates, comma-separated.
        "HOLIDAY_COUNTRY": os.environ.get("HOLIDAY_COUNTRY", "GB"),
        "HOLIDAY_SUBDIVISION": os.environ.get("HOLIDAY_SUBDIVISION", "ENG"),
        "EXTRA_HOLIDAYS": os.environ.get("EXTRA_HOLIDAYS", ""),
        "OVERDUE_REFRESH_SECONDS": _env_float("OVERDUE_REFRESH_SECONDS", 300),
        # The SLA and delivery dashboards' figures are precomputed this often
        # (app/reports/snapshots.py); a snapshot older than three intervals is not used.
        "DASHBOARD_REFRESH_SECONDS": _env_float("DASHBOARD_REFRESH_SECONDS", 300),
        "DIGEST_INTERVAL_SECONDS": _env_float("DIGEST_INTERVAL_SECONDS", 300),
        "DIGEST_HOUR": _env_int("DIGEST_HOUR", 7),
        # Links in staff emails point here.
        "APP_BASE_URL": os.environ.get("APP_BASE_URL", "http://127.0.0.1:5000"),
        # Requests larger than this are refused before anything reads them (CSV uploads).
        "MAX_CONTENT_LENGTH": _env_int("MAX_CONTENT_LENGTH", 8 * 1024 * 1024),
        # CSV imports (app/imports): bigger files import in a job with a progress bar.
        "IMPORT_MAX_BYTES": _env_int("IMPORT_MAX_BYTES", 2 * 1024 * 1024),
        "IMPORT_MAX_ROWS": _env_int("IMPORT_MAX_ROWS", 5000),
        "IMPORT_INLINE_ROWS": _env_int("IMPORT_INLINE_ROWS", 200),
        # Template editor previews per user per minute (the editor previews as you type).
        "TEMPLATE_PREVIEWS_PER_MINUTE": _env_int("TEMPLATE_PREVIEWS_PER_MINUTE", 60),
        # -- running it as a service (app/logs.py, app/metrics/, app/sentry.py) --
        # "json": one JSON object per log line; anything else: readable text.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # /metrics (and each worker's metrics server) answer only with this bearer token;
        # empty: they are off.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # An RQ worker serves its own counters on this port (0: it does not).
        "METRICS_PORT": _env_int("METRICS_PORT", 0),
        # prometheus-client's multiprocess mode: where each process writes its counters.
        "PROMETHEUS_MULTIPROC_DIR": os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""),
        "SENTRY_DSN": os.environ.get("SENTRY_DSN", ""),
        "SENTRY_ENVIRONMENT": os.environ.get("SENTRY_ENVIRONMENT", "production"),
        "SENTRY_TRACES_SAMPLE_RATE": _env_float("SENTRY_TRACES_SAMPLE_RATE", 0),
        # Workers pick up an edited message template within this many seconds.
        "MESSAGE_TEMPLATE_CACHE_SECONDS": _env_float("MESSAGE_TEMPLATE_CACHE_SECONDS", 30),
    }
