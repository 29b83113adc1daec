"""Who is asking the API: a bearer token, nothing else (no session cookie, so no CSRF to
forge), throttled per token on Redis."""

from __future__ import annotations

from flask import current_app, g, request

from app import ratelimit
from app.api import tokens
from app.api.problems import ApiProblem

WINDOW_SECONDS = 60
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="closeloop"'}


def authenticate() -> None:
    """before_request of the /api/v1 views: sets g.api_user and g.api_token, or answers
    401 (no token, unknown, revoked, user deactivated) or 429 (over the per-token rate)."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise ApiProblem(
            401,
            "Send an API token: Authorization: Bearer <token>.",
            headers=CHALLENGE,
            code="token_missing",
        )
    token = tokens.authenticate(raw.strip())
    if token is None:
        raise ApiProblem(
            401,
            "This token is not valid: it is unknown or was revoked, or its user is deactivated.",
            headers={
                **CHALLENGE,
                "WWW-Authenticate": CHALLENGE["WWW-Authenticate"] + ', error="invalid_token"',
            },
            code="token_invalid",
        )
    limit = current_app.config["API_REQUESTS_PER_MINUTE"]
    verdict = ratelimit.hit("api", f"token:{token.id}", limit, WINDOW_SECONDS)
    if not verdict.allowed:
        raise ApiProblem(
            429,
            f"More than {limit} requests a minute with this token; slow down.",
            headers={"Retry-After": str(max(verdict.retry_after, 1))},
        )
    g.api_token, g.api_user = token, token.user


def user():
    return g.api_user
