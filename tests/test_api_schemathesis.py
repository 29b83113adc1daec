"""schemathesis (4.x) against the live API, from its own OpenAPI document: every operation
with generated valid and invalid input (bounded examples, fixed seed), checking that nothing
answers 5xx, that every answer's status, content type and body are the ones the document
declares. The document is what the code validates with (app/api/spec.py), so a failure here
is the document and the code disagreeing, or a crash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app.api import tokens
from tests import world

CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance"
)
MAX_EXAMPLES = 4
SEED = 20261203


def _schemathesis() -> str:
    found = Path(sys.executable).with_name("schemathesis")
    return str(found) if found.exists() else (shutil.which("schemathesis") or "schemathesis")


@pytest.fixture
def live_api(db, make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False, API_REQUESTS_PER_MINUTE=1_000_000)
    team = world.staff()
    world.records(team.owner)
    world.records(team.other)
    _, raw = tokens.create(team.owner, "schemathesis", actor=None)
    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", raw
    finally:
        db.session.rollback()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_api_conforms_to_its_openapi_document(live_api, tmp_path):
    base, token = live_api
    command = [
        _schemathesis(),
        "run",
        f"{base}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--phases",
        "examples,fuzzing",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    result = subprocess.run(  # noqa: S603 - our own command line
        command,
        cwd=tmp_path,  # hypothesis keeps its example database there
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    output = result.stdout + result.stderr
    print(output[-3000:])
    assert result.returncode == 0, output[-8000:]
    assert "27/27" in output or "Selected:" in output
