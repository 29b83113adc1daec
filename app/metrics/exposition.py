"""Serving the metrics: `/metrics` on the web (process counters of every gunicorn worker plus
the state gauges), and a small server of its own in each RQ worker (the counters of the
worker and its work horses) for deployments where workers run on other hosts.

Both need `Authorization: Bearer <METRICS_TOKEN>`; without a configured token they are off
(404, or no server), so nothing is exposed by accident.
"""

from __future__ import annotations

import hmac
import logging
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)


def authorized(header: str | None, token: str) -> bool:
    """Is `header` (an Authorization header) `Bearer <token>`? Constant time."""
    if not token:
        return False
    scheme, _, supplied = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        supplied.strip().encode(), token.encode()
    )


def render(multiproc_dir: str | None, *extra) -> bytes:
    """The exposition text: counters of every process writing to `multiproc_dir` (or of
    this process alone when there is none), then the `extra` collectors."""
    if multiproc_dir:
        processes = CollectorRegistry()
        MultiProcessCollector(processes, path=multiproc_dir)
    else:
        processes = REGISTRY
    body = generate_latest(processes)
    if extra:
        registry = CollectorRegistry(auto_describe=False)
        for collector in extra:
            registry.register(collector)
        body += generate_latest(registry)
    return body


def register_view(app) -> None:
    """GET /metrics on the web app."""
    from flask import Response, abort, request

    from app.metrics.state import StateCollector

    def metrics_view():
        token = app.config.get("METRICS_TOKEN") or ""
        if not token:
            abort(404)
        if not authorized(request.headers.get("Authorization"), token):
            return Response(
                "metrics need Authorization: Bearer <METRICS_TOKEN>\n",
                401,
                {"WWW-Authenticate": 'Bearer realm="metrics"'},
                mimetype="text/plain",
            )
        body = render(app.config.get("PROMETHEUS_MULTIPROC_DIR"), StateCollector(app))
        return Response(body, mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass  # a scrape every few seconds is not news


def serve_worker_metrics(port: int, token: str, multiproc_dir: str | None, host: str = "0.0.0.0"):  # noqa: S104 - scraped from other hosts; the token guards it
    """Serve this worker's counters at http://host:port/metrics in a daemon thread."""

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not authorized(environ.get("HTTP_AUTHORIZATION"), token):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
            return [b"metrics need Authorization: Bearer <METRICS_TOKEN>\n"]
        body = render(multiproc_dir)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [body]

    server = make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    log.info("worker metrics at http://%s:%d/metrics", host, server.server_port)
    return server
