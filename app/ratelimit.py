"""A small fixed-window rate limit in Redis for the public, unauthenticated forms."""

from __future__ import annotations

import hashlib
import logging

import redis

from app import clock
from app.redis_conn import get_redis

log = logging.getLogger(__name__)


def allow(scope: str, who: str, limit: int, window_seconds: int) -> bool:
    """True while `who` has made at most `limit` attempts in the current window. Addresses
    are hashed: no raw IP is kept. If Redis is down, let the request through: the database
    still limits what it can cause (one link per candidate per quarter hour)."""
    window = int(clock.now().timestamp()) // window_seconds
    digest = hashlib.sha256(who.encode()).hexdigest()[:32]
    key = f"closeloop:ratelimit:{scope}:{digest}:{window}"
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, window_seconds + 5)
        count, _ = pipe.execute()
    except (redis.exceptions.RedisError, OSError) as exc:
        log.warning("rate limit not checked (Redis unavailable): %s", exc)
        return True
    return int(count) <= limit
