"""Optional error reporting to Sentry, on when SENTRY_DSN is set: exceptions from requests
(Flask) and jobs (RQ), tagged with the request id, without personal data or secrets."""

from __future__ import annotations

import json
import sys

from app import tracing
from app.logs import Redactor, secrets_of


def init_app(app) -> bool:
    """Start the SDK once per process; returns whether it is on."""
    dsn = (app.config.get("SENTRY_DSN") or "").strip()
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    if sentry_sdk.is_initialized():
        return True
    redact = Redactor(secrets_of(app.config))

    def before_send(event, _hint):
        request_id = tracing.current()
        if request_id:
            event.setdefault("tags", {})["request_id"] = request_id
        # Exception messages and breadcrumbs may quote an address or a URL with a password.
        return json.loads(redact(json.dumps(event, default=str)))

    sentry_sdk.init(
        dsn=dsn,
        environment=app.config.get("SENTRY_ENVIRONMENT") or "production",
        integrations=[FlaskIntegration(), RqIntegration()],
        traces_sample_rate=float(app.config.get("SENTRY_TRACES_SAMPLE_RATE") or 0),
        send_default_pii=False,
        # Form posts carry candidates' names and addresses; locals may hold anything.
        max_request_body_size="never",
        include_local_variables=False,
        before_send=before_send,
    )
    return True


def tag_request(request_id: str | None) -> None:
    """Tag what Sentry reports from here on in this scope (a job's) with `request_id`.

    Called in every job: without SENTRY_DSN the SDK was never imported, and importing it here
    would cost each of the fork worker's work horses a few hundred milliseconds."""
    sdk = sys.modules.get("sentry_sdk")
    if request_id and sdk is not None and sdk.is_initialized():
        sdk.set_tag("request_id", request_id)
