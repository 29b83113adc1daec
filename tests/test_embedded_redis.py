"""The embedded Redis that `make run` and the tests use when REDIS_URL is unset: it starts,
answers and stops, with every warning an error as in the suite (a newcomer's `make test`
without a Redis server goes through it)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.processes import ROOT

SCRIPT = """
import os, sys
from devtools.embedded_redis import start_embedded, stop_embedded
server, url = start_embedded(sys.argv[1])
import redis
conn = redis.Redis.from_url(url)
conn.set("k", "v")
print(url, conn.get("k").decode())
conn.close()
stop_embedded(server)
print("socket left:", os.path.exists(server.socket_file))
"""


def test_the_embedded_redis_starts_answers_and_stops_with_warnings_as_errors(tmp_path):
    run = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-W", "error", "-c", SCRIPT, str(tmp_path / "redis.db")],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "REDIS_URL"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    url_line, socket_line = run.stdout.splitlines()
    assert url_line.startswith("unix://") and url_line.endswith(" v")
    assert socket_line == "socket left: False"
