"""The app's one rate limiter: fixed-window counters in Redis, shared by every web process.

Used for the public "email me a new link" form, sign-in attempts (per account and per client
address) and template previews (per user). Who is counted is hashed: no raw address or email
is kept in Redis. If Redis is down the request is let through, with a warning: the limits
protect against abuse, and shutting every user out while Redis restarts would be worse.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import redis

from app import clock
from app.redis_conn import get_redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the current window ends (for a Retry-After header)


def _window(window_seconds: int) -> tuple[int, int]:
    now = int(clock.now().timestamp())
    return now // window_seconds, window_seconds - now % window_seconds


def _key(scope: str, who: str, window: int) -> str:
    digest = hashlib.sha256(who.encode()).hexdigest()[:32]
    return f"closeloop:ratelimit:{scope}:{digest}:{window}"


def hit(scope: str, who: str, limit: int, window_seconds: int) -> Verdict:
    """Count one attempt by `who`; allowed while at most `limit` were made this window.
    Counting first and deciding after is what keeps parallel requests from all slipping in."""
    window, left = _window(window_seconds)
    key = _key(scope, who, window)
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, window_seconds + 5)
        count, _ = pipe.execute()
    except (redis.exceptions.RedisError, OSError) as exc:
        log.warning("rate limit %s not checked (Redis unavailable): %s", scope, exc)
        return Verdict(True, 0)
    return Verdict(int(count) <= limit, left)


def give_back(scope: str, who: str, window_seconds: int) -> None:
    """Uncount one attempt of this window (it turned out not to be one that counts)."""
    window, _ = _window(window_seconds)
    try:
        get_redis().decr(_key(scope, who, window))
    except (redis.exceptions.RedisError, OSError) as exc:
        log.warning("rate limit %s not updated (Redis unavailable): %s", scope, exc)


def clear(scope: str, who: str, window_seconds: int) -> None:
    """Forget `who`'s attempts in this window."""
    window, _ = _window(window_seconds)
    try:
        get_redis().delete(_key(scope, who, window))
    except (redis.exceptions.RedisError, OSError) as exc:
        log.warning("rate limit %s not cleared (Redis unavailable): %s", scope, exc)


def allow(scope: str, who: str, limit: int, window_seconds: int) -> bool:
    return hit(scope, who, limit, window_seconds).allowed
