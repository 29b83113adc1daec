"""The app at the edge of the network: what every response tells the browser about itself,
and who the client is when requests come through our TLS proxy.

Headers: one after-request hook sets them on every response (staff pages, status pages,
JSON, files), unless a view set its own. The Content Security Policy allows our own
scripts and styles only; inline `style` is allowed because the email previews (srcdoc
frames inherit the page's policy) are emails, styled inline by css-inline. rq-dashboard
(admins only) runs an inline script and compiles its templates with `new Function`, so its
pages get a policy that allows exactly that. Status pages keep their own no-store and
noindex headers (app/status/routes.py).

Proxy: with TRUSTED_PROXY_COUNT=N (default 0), werkzeug's ProxyFix takes the client
address and scheme from the last N proxies' X-Forwarded-For / X-Forwarded-Proto, so rate
limits count each client (not the proxy) and HTTPS requests are known as such (secure
cookies, HSTS, Flask-WTF's referrer check). With 0 these headers are ignored: a client
cannot pick its own address by sending them.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Per blueprint, what differs from POLICY.
BLUEPRINT_POLICY = {
    "rq_dashboard": {"script-src": "'self' 'unsafe-inline' 'unsafe-eval'"},
}
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Never the address (status links carry a token) to another site; our own pages still
    # get it, which Flask-WTF's CSRF check requires on HTTPS.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # for browsers without frame-ancestors
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000"


def content_security_policy(blueprint: str | None) -> str:
    policy = {**POLICY, **BLUEPRINT_POLICY.get(blueprint or "", {})}
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def register(app: Flask) -> None:
    proxies = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.after_request(_headers)


def _headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(request.blueprint))
    for name, value in HEADERS.items():
        headers.setdefault(name, value)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response
