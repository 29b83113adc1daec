"""The web as production runs it: gunicorn with two workers and gunicorn.conf.py. /metrics
adds up what each worker counted, and gunicorn's own lines come out as the app's JSON."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.metrics_text import AUTH, TOKEN, Scrape
from tests.processes import Proc, wait_until

pytestmark = pytest.mark.workers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, *, data: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    try:
        # A worker replaced after max_requests loads the app again first: seconds here.
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


@pytest.fixture
def gunicorn(tmp_path, worker_env):
    port = free_port()
    env = {
        **worker_env,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "METRICS_TOKEN": TOKEN,
        "LOG_FORMAT": "json",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        # Each worker is replaced after 4 requests: the counts of dead workers must stay.
        "GUNICORN_MAX_REQUESTS": "4",
        "SENDGRID_WEBHOOK_PUBLIC_KEY": "",
    }
    proc = Proc(["-m", "gunicorn", "app:create_app()"], env, tmp_path / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return call(f"{base}/healthz")[0] == 200
        except OSError:
            return False

    try:
        wait_until(up, timeout=60, message="gunicorn answering")
        yield base, proc
    finally:
        proc.stop()
        print(proc.output()[-4000:])


def test_metrics_add_up_every_gunicorn_worker_dead_or_alive(gunicorn):
    base, proc = gunicorn
    posts = 12
    for _ in range(posts):
        status, _ = call(f"{base}/webhooks/sendgrid", data=b"[]")
        assert status == 503  # no verification key configured: refused, counted
    # Workers are replaced every 4 requests, so at least three processes counted some.
    files = list((proc.log_path.parent / "prometheus").glob("counter_*.db"))
    assert len(files) >= 3, files
    status, body = call(f"{base}/metrics", headers=AUTH)
    assert status == 200
    got = Scrape(body.decode())
    assert got.value("closeloop_webhook_refusals_total", reason="not_configured") == posts
    assert got.value("closeloop_state_source_up", source="database") == 1
    assert call(f"{base}/metrics")[0] == 401


def test_gunicorn_lines_are_the_apps_json_with_the_request_id(gunicorn):
    base, proc = gunicorn
    status, _ = call(f"{base}/login", headers={"X-Request-ID": "gw-123-abc"})
    assert status == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "gw-123-abc" not in proc.output():
        time.sleep(0.2)
    entries = [json.loads(line) for line in proc.output().splitlines() if line.startswith("{")]
    access = [e for e in entries if e["logger"] == "gunicorn.access"]
    assert any("request_id=gw-123-abc" in e["message"] for e in access), access[-5:]
    assert any(
        e["logger"] == "gunicorn.error" and "Booting worker" in e["message"] for e in entries
    )
    assert all(e["component"] == "web" for e in entries)
