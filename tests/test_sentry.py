"""Sentry, on when SENTRY_DSN is set: a job that fails in a real worker is reported to a local
server speaking Sentry's envelope protocol, tagged with its request id, with the address in
its message masked."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rq import Queue

from app.redis_conn import get_redis
from tests.processes import Proc, wait_until

pytestmark = pytest.mark.workers


class _Envelopes(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        self.server.received.append((self.path, raw.decode("utf-8", "replace")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture
def sentry_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Envelopes)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _events(received) -> list[dict]:
    events = []
    for _, body in received:
        lines = body.splitlines()
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
    return events


def test_a_failing_job_is_reported_with_its_request_id_and_no_address(
    app, worker_env, sentry_server, tmp_path
):
    port = sentry_server.server_address[1]
    env = {**worker_env, "SENTRY_DSN": f"http://publickey0123@127.0.0.1:{port}/42"}
    Queue("maintenance", connection=get_redis()).enqueue(
        "workers.jobs.run_periodic",
        "app:nobody@example.com",  # no such function: AttributeError naming an address
        meta={"request_id": "req-sentry-7"},
    )
    worker = Proc(["-m", "workers", "worker", "--burst"], env, tmp_path / "worker.log")

    def ours() -> list[dict]:
        """This job's events (a job another test left in the queue may report too)."""
        return [
            e
            for e in _events(sentry_server.received)
            if e.get("tags", {}).get("request_id") == "req-sentry-7"
        ]

    try:
        wait_until(ours, timeout=60, message="the job's event")
    finally:
        worker.stop()
    (event,) = ours()
    assert sentry_server.received[0][0] == "/api/42/envelope/"
    assert event["exception"]["values"][-1]["type"] == "AttributeError"
    assert event["tags"]["request_id"] == "req-sentry-7"
    raw = "".join(body for _, body in sentry_server.received)
    assert "nobody@example.com" not in raw and "n***@example.com" in raw
    assert event["extra"]["rq-job"]["args"] != ["app:nobody@example.com"]


def test_without_a_dsn_a_job_never_loads_the_sdk(worker_env, tmp_path):
    """Each job of the fork worker runs in a new work horse: importing the SDK there would
    cost every job a few hundred milliseconds."""
    import subprocess
    import sys

    from tests.processes import ROOT

    script = (
        "import sys\n"
        "from workers.context import get_app, job_context\n"
        "get_app()\n"
        "with job_context():\n"
        "    pass\n"
        "print('sentry_sdk' in sys.modules)\n"
    )
    env = {k: v for k, v in worker_env.items() if k != "SENTRY_DSN"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
