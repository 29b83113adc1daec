"""Security headers on every response, and the trusted-proxy setting (issue 12, item 9)."""

from __future__ import annotations

import re
from pathlib import Path

from app import edge
from tests import world
from tests.web import Web

TEMPLATES = Path(__file__).resolve().parents[1] / "app" / "templates"


def _policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def test_every_kind_of_response_carries_the_headers(staff, role_clients):
    rec = world.records(staff.owner)
    responses = {
        "staff page": role_clients["owner"].get("/queue"),
        "sign-in page": role_clients["anon"].get("/login"),
        "status page": role_clients["link"].get(f"/status/{rec.token}"),
        "JSON": role_clients["anon"].get("/healthz"),
        "static file": role_clients["anon"].get("/static/closeloop.css"),
        "error page": role_clients["owner"].get("/candidates/999999"),
        "CSV export": role_clients["manager"].get("/reports/overdue.csv"),
    }
    for what, response in responses.items():
        response.close()
        policy = _policy(response)
        assert policy.get("frame-ancestors") == "'none'", what
        assert policy.get("script-src") == "'self'", what
        assert policy.get("object-src") == "'none'", what
        assert response.headers["X-Content-Type-Options"] == "nosniff", what
        assert response.headers["Referrer-Policy"] == "same-origin", what
        assert response.headers["X-Frame-Options"] == "DENY", what
        assert "Strict-Transport-Security" not in response.headers, what  # plain HTTP
    # The status page's own: never cached, never indexed.
    assert responses["status page"].headers["Cache-Control"] == "no-store"


def test_rq_dashboard_alone_may_run_its_inline_script(role_clients):
    page = role_clients["admin"].get("/admin/rq/")
    assert page.status_code == 200
    assert "'unsafe-inline'" in _policy(page)["script-src"]
    assert "'unsafe-inline'" not in _policy(role_clients["admin"].get("/"))["script-src"]


def test_no_template_needs_more_than_the_policy_allows():
    """Our pages run only script files (no inline <script>, event handler attributes or
    javascript: URLs), which is what script-src 'self' permits. A JSON data block (the
    words a script shows, templates/_js_strings.html) is never run, so the policy allows it."""
    inline_script = re.compile(
        r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"application/json\")[^>]*>", re.I
    )
    handler = re.compile(
        r"\son(?:click|change|submit|input|load|error|focus|blur|key\w+|mouse\w+)\s*=", re.I
    )
    found = []
    for path in TEMPLATES.rglob("*.html"):
        if "email" in path.relative_to(TEMPLATES).parts:
            continue  # emails: not pages (their previews are sandboxed frames)
        text = path.read_text()
        for pattern in (inline_script, handler, re.compile("javascript:", re.I)):
            found += [
                f"{path.relative_to(TEMPLATES)}: {m.group(0)}" for m in pattern.finditer(text)
            ]
    assert not found


def _through_proxy(make_app, proxies: int, **config):
    app = make_app(TRUSTED_PROXY_COUNT=proxies, PROPAGATE_EXCEPTIONS=False, **config)
    return Web(app.test_client())


def _link_request(client, address: str) -> int:
    """Ask for a fresh status link as a client at `address` (per the forwarded header)."""
    return client.post(
        "/status/link",
        data={"email": "someone@example.com"},
        headers={"X-Forwarded-For": address},
    ).status_code


def test_behind_a_trusted_proxy_each_client_has_its_own_rate_limit(db, make_app):
    client = _through_proxy(make_app, 1, LINK_REQUESTS_PER_IP=1)

    def ask(address: str) -> int:
        return _link_request(client, address)

    assert ask("203.0.113.7") == 200
    assert ask("203.0.113.7") == 429
    assert ask("198.51.100.23") == 200  # another candidate, another bucket


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(db, make_app):
    client = _through_proxy(make_app, 0, LINK_REQUESTS_PER_IP=1)
    assert _link_request(client, "203.0.113.7") == 200
    assert (
        _link_request(client, "198.51.100.23") == 429
    )  # a made-up address does not buy a fresh bucket


def test_https_through_the_proxy_gets_hsts_and_the_status_forms_still_pass_csrf(
    db, make_app, staff
):
    """Over HTTPS Flask-WTF requires a same-site Referer on every form post: the referrer
    policy must keep sending it to our own pages (the status pages used `no-referrer`)."""
    rec = world.records(staff.owner)
    client = _through_proxy(make_app, 1, WTF_CSRF_ENABLED=True)
    https = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    url = f"/status/{rec.token}"
    page = client.get(url, headers=https)
    assert page.headers["Strict-Transport-Security"] == edge.HSTS
    assert page.headers["Referrer-Policy"] == "same-origin"
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(True))
    posted = client.post(
        f"{url}/preferences",
        data={"csrf_token": token.group(1), "optional_updates": "y"},
        headers={**https, "Referer": f"https://localhost{url}"},  # what same-origin sends
    )
    assert posted.status_code == 302
