""" "Email me a new link" benchmark: does the answer's timing say whether an address is on
file? In PostgreSQL (the benchmarks' database, `BENCH_DATABASE_URL` or `BENCH_DB_NAME`,
dropped, created and migrated here).

Seeds candidates (each with an application), then posts the public form (POST /status/link,
through the app's test client) for addresses on file and for unknown ones, alternating, and
reports the median time of each. In the same run, the baseline: the work the form did in
the request before it queued a job (`app.status.services.request_link`: look the address
up, owe the email, commit), timed for the same two kinds of address.

    make bench-links     # or: .venv/bin/python bench/link_requests.py --requests 200

The last line is `links: requests=<n> known_ms=<m> unknown_ms=<m> ratio=<r>
baseline_known_ms=<m> baseline_unknown_ms=<m> baseline_ratio=<r>`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (make bench-links)
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402


def seed(n: int) -> list[str]:
    """n candidates with an application each; their addresses."""
    from app.extensions import db
    from app.models import Application, Candidate, Client, Position, User

    owner = User(name="Rita Bench", email="rita@agency.test", role="recruiter")
    owner.set_password("correct horse")
    position = Position(client=Client(name="Bench Client"), title="Engineer", owner=owner)
    emails = [f"known{i}@example.com" for i in range(n)]
    for i, email in enumerate(emails):
        candidate = Candidate(name=f"Known {i}", email=email, timezone="Europe/London")
        db.session.add(Application(position=position, candidate=candidate, stage="submitted"))
    db.session.commit()
    return emails


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed_posts(app, known: list[str], unknown: list[str]) -> tuple[float, float]:
    client = app.test_client()
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for k, u in zip(known, unknown, strict=True):
        for kind, email in (("known", k), ("unknown", u)):
            start = time.perf_counter()
            response = client.post("/status/link", data={"email": email})
            times[kind].append(time.perf_counter() - start)
            assert response.status_code == 200, response.status_code
    return _median_ms(times["known"]), _median_ms(times["unknown"])


def timed_inline(app, known: list[str], unknown: list[str]) -> tuple[float, float]:
    from app.status.services import request_link

    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for k, u in zip(known, unknown, strict=True):
        for kind, email in (("known", k), ("unknown", u)):
            with app.test_request_context("/status/link", method="POST"):
                start = time.perf_counter()
                request_link(email)
                times[kind].append(time.perf_counter() - start)
    return _median_ms(times["known"]), _median_ms(times["unknown"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="posts of each kind")
    n = parser.parse_args().requests
    env = common.base_env(EMAIL_BACKEND="mailbox", LINK_REQUESTS_PER_IP=10 * n)
    common.reset_database(env)
    common.flush_redis()
    print(common.machine())
    app = common.make_app(env)
    app.config["WTF_CSRF_ENABLED"] = False  # the form's token is not what is measured
    with app.app_context():
        emails = seed(2 * n)
    unknown = [f"nobody{i}@example.com" for i in range(2 * n)]
    known_ms, unknown_ms = timed_posts(app, emails[:n], unknown[:n])
    with app.app_context():
        base_known, base_unknown = timed_inline(app, emails[n:], unknown[n:])
    common.flush_redis()
    print(
        f"links: requests={n} known_ms={known_ms:.2f} unknown_ms={unknown_ms:.2f} "
        f"ratio={known_ms / unknown_ms:.2f} baseline_known_ms={base_known:.2f} "
        f"baseline_unknown_ms={base_unknown:.2f} baseline_ratio={base_known / base_unknown:.2f}"
    )


if __name__ == "__main__":
    main()
