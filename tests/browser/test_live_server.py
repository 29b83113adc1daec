"""The live server the browser tests run against: a page that goes away just as a download
ends (the next test's navigation, a closed tab) must not leave the download's file open for
the garbage collector to complain about in some later test's teardown (CI failed that way)."""

from __future__ import annotations

import gc
import socket
import struct
import time
import warnings
from urllib.parse import urlsplit

from flask import url_for


def _read_then_reset(base: str, path: str) -> None:
    """Ask for `path`, read the whole answer, then reset the connection: werkzeug is then
    reading what may be left of the request, and that read fails."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        head, body = answer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += sock.recv(65536)
        # SO_LINGER 0: close sends a reset rather than an orderly end.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_download_whose_client_went_away_has_its_file_closed(live_server, app):
    with app.test_request_context():
        path = url_for("bootstrap.static", filename="js/bootstrap.min.js")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(10):
            _read_then_reset(live_server, path)
        time.sleep(0.2)  # the server's threads see the reset and let go of the response
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []
