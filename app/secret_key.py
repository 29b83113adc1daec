"""SECRET_KEY: required and strong, except on a laptop where one is kept in the instance folder.

The key signs sessions, CSRF tokens and the candidates' status links, and every process (web,
workers, scheduler) must hold the same one: a link a worker signs is checked by the web. So a
key generated per instance folder is only safe where the instance folder is shared by every
process: the development setup, whose database (SQLite) lives in that same folder. Anywhere
else (DATABASE_URL set: several machines or containers may share the database), the key must
come from the environment, and a weak one is refused at start rather than trusted.
"""

from __future__ import annotations

import math
import os
import secrets
from collections import Counter

MIN_LENGTH = 32
# Random hex measures 3.1 per character typically, but a fair 32-character hex key measured
# 2.67 once in a few hundred thousand draws (8c808c88…): 2.5 refuses a five-letter alphabet
# and never an honest `token_hex(16)`.
MIN_BITS_PER_CHAR = 2.5
# A key "repeats itself" when some run of this many characters appears in it twice
# (overlapping counts: "xxxxxxxxx" holds "xxxxxxxx" twice). Chance for an honest
# `token_hex(16)`: about 7 in 100 million; none in a million draws of `token_hex(16)`,
# `token_hex(32)` or `token_urlsafe(32)`. The rule it replaces (nine in ten of the key's
# 4-character runs must differ) refused 33 in a million honest `token_hex(16)` keys, such as
# d458395596ab60b31d4583927b63f11d, whose only repeat is "d45839".
REPEAT_LENGTH = 8
GENERATE_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class ConfigError(RuntimeError):
    """The app must not start with this configuration; the message says what to change."""


def weakness(key: str) -> str | None:
    """Why `key` is too weak to sign anything, or None when it will do."""
    if len(key) < MIN_LENGTH:
        return f"it is {len(key)} characters long; it needs at least {MIN_LENGTH}"
    if key != key.strip() or any(ch.isspace() for ch in key):
        return "it contains spaces or line breaks (a quoting mistake?)"
    if _repeats(key, REPEAT_LENGTH):
        return "it repeats itself"
    counts = Counter(key)
    bits = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    if bits < MIN_BITS_PER_CHAR:
        return "it is too predictable (too few different characters)"
    return None


def _repeats(key: str, length: int) -> bool:
    """Whether some run of `length` characters occurs twice in `key`."""
    seen: set[str] = set()
    for i in range(len(key) - length + 1):
        run = key[i : i + length]
        if run in seen:
            return True
        seen.add(run)
    return False


def instance_key(instance_path: str) -> str:
    """The key kept in `instance_path`/secret_key, created on first use (development only)."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        # Written whole, then linked into place: two processes starting together (make run)
        # never read a half-written key, and the second one keeps the first one's.
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.remove(tmp)
    with open(path) as fh:
        return fh.read().strip()


def resolve(configured: str, *, instance_path: str, database_in_instance: bool) -> str:
    """The key to use, or ConfigError naming SECRET_KEY and how to fix it."""
    if configured:
        problem = weakness(configured)
        if problem:
            raise ConfigError(
                f"SECRET_KEY is too weak: {problem}. Set SECRET_KEY to a random value, "
                f"e.g. the output of: {GENERATE_HINT}"
            )
        return configured
    if not database_in_instance:
        raise ConfigError(
            "SECRET_KEY is not set. It is required whenever DATABASE_URL is set, so that every "
            "web, worker and scheduler process signs and checks links with the same key. "
            f"Set SECRET_KEY to a random value, e.g. the output of: {GENERATE_HINT}"
        )
    return instance_key(instance_path)
