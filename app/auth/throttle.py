"""Sign-in throttling, per account and per client address, on the app's one rate limiter.

Every attempt is counted before the password is checked (so a burst of parallel requests
cannot all slip in), and a successful one is then uncounted. The account's counter is cleared
on success, since its owner proved who they are; the address's counter is not cleared, or an
attacker spraying many accounts from one address could reset it by signing in to their own.
Unknown addresses are counted like real ones, so a refusal says nothing about who exists.
"""

from __future__ import annotations

from flask import current_app

from app import ratelimit

ACCOUNT = "login-account"
ADDRESS = "login-address"


def _window() -> int:
    return current_app.config["LOGIN_THROTTLE_WINDOW_SECONDS"]


def _account(email: str) -> str:
    return email.strip().lower()


def attempt(email: str, address: str) -> ratelimit.Verdict:
    """Count one sign-in attempt; refused while either counter is over its limit."""
    cfg = current_app.config
    verdicts = (
        ratelimit.hit(ACCOUNT, _account(email), cfg["LOGIN_FAILURES_PER_ACCOUNT"], _window()),
        ratelimit.hit(ADDRESS, address, cfg["LOGIN_FAILURES_PER_ADDRESS"], _window()),
    )
    refused = [v.retry_after for v in verdicts if not v.allowed]
    return ratelimit.Verdict(not refused, max(refused, default=0))


def succeeded(email: str, address: str) -> None:
    ratelimit.clear(ACCOUNT, _account(email), _window())
    ratelimit.give_back(ADDRESS, address, _window())
