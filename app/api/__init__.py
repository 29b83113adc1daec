"""The REST API at /api/v1 (token auth, JSON in and out, problem+json errors), its OpenAPI
document at /api/openapi.json and a docs page at /api/docs. Each resource module declares
its operations with `spec.operation`, which validates input against the same pydantic
models the document is built from; the views call the services the pages call.

The operations are imported by app/api/routes.py (create_app does, for the web app), not
here: the tokens service and the idempotency purge, which the CLI and the RQ workers use,
import this package without pydantic and every operation coming along (issue 18)."""

from __future__ import annotations

from flask import Blueprint, g, request

from app.languages import FALLBACK

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
def _token_only():
    from app.api.auth import authenticate

    if request.endpoint in PUBLIC:
        return None
    authenticate()
    return None


@bp.before_request
def _english():
    # A machine contract: the services' messages that reach `detail` are English whatever
    # a staff member's or a browser's language (app/api/problems.py).
    g.language = FALLBACK


PUBLIC = {"api.openapi_json", "api.docs"}
