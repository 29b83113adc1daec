"""Shared browser fixtures: a live server on the test app and a Chromium tab.

Screenshots go to test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app.extensions import db

# Debian's chromium-headless-shell (Chromium's old headless mode, the same Blink) when it is
# there: the browser tests took 27-38% less CPU with it than with the full browser in its new
# headless mode (45-49 against 67-73 CPU-s for tests/browser on 2 workers, alternating runs).
# CHROMIUM picks another binary.
HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"
CHROMIUM = os.environ.get("CHROMIUM") or (
    HEADLESS_SHELL if Path(HEADLESS_SHELL).exists() else "/usr/bin/chromium"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1440, "height": 900}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is missing: apt-get install -y chromium-headless-shell"
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must run the browser tests)")
    pytest.skip(reason)


class _Requests:
    """WSGI middleware that knows which requests are still being answered, so the server
    can be stopped only once they are done: a request a page sent just before its test
    ended (a card moved, a button pressed) must not write into the next test's data.

    A request counts until its response is closed or its thread ends: werkzeug skips
    closing the response when the client went away first (reading what is left of the
    request raises), so the thread's end is what tells the request is over then, and the
    response closes itself when it is let go of (see _Response)."""

    def __init__(self, app):
        self.app = app
        self.active: dict[int, threading.Thread] = {}
        self.closed = False
        self.done = threading.Condition()

    def __call__(self, environ, start_response):
        with self.done:
            if self.closed:
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"the test is over"]
            self.active[threading.get_ident()] = threading.current_thread()
        finished = functools.partial(
            self._finished, threading.get_ident(), threading.current_thread()
        )
        try:
            return _Response(self.app(environ, start_response), finished)
        except BaseException:
            finished()
            raise

    def _finished(self, ident: int, thread: threading.Thread) -> None:
        """The request `thread` started is over. A response closed late (by the garbage
        collector) must not end a later request whose thread got the same ident."""
        with self.done:
            if self.active.get(ident) is thread:
                del self.active[ident]
            self.done.notify_all()

    def _running(self) -> int:
        for ident, thread in list(self.active.items()):
            if not thread.is_alive():
                del self.active[ident]
        return len(self.active)

    def close(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self.done:
            self.closed = True
            while self._running():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.active)} request(s) still running {timeout}s on:\n"
                        + _server_stacks()
                    )
                self.done.wait(min(left, 0.05))


class _Response:
    """A response that is closed when werkzeug lets go of it without closing it (the client
    went away): a static file's response otherwise left its file open until the garbage
    collector found it, and the ResourceWarning failed whichever test was then ending."""

    def __init__(self, iterable, finished):
        self._iterable = iterable
        self._finished = finished
        self._closed = False

    def __iter__(self):
        return iter(self._iterable)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._iterable, "close", None)
            if close is not None:
                close()
        finally:
            self._finished()

    __del__ = close


def _server_stacks() -> str:
    """Where the live server's request threads are, for a request that does not finish."""
    import sys
    import traceback

    frames = sys._current_frames()
    stacks = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident)
        if frame is not None and thread is not threading.current_thread():
            stacks.append(f"--- {thread.name}\n" + "".join(traceback.format_stack(frame)))
    return "\n".join(stacks)


@pytest.fixture
def live_server(app):
    db.session.commit()  # on SQLite an open transaction would block the server's writes
    requests = _Requests(app)
    server = make_server("127.0.0.1", 0, requests, threaded=True)
    # It checks for shutdown between requests every poll_interval: werkzeug's 0.5 s made
    # every browser test's teardown wait up to half a second for the server to stop.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="live-server", daemon=True
    )
    thread.start()
    # Links in the emails the tests open point at this server.
    app.config["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    try:
        yield app.config["PUBLIC_BASE_URL"]
    finally:
        # The test's own open transaction must not hold up a request still being answered.
        db.session.rollback()
        server.shutdown()
        requests.close()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def _chromium():
    """One Chromium per session (per xdist worker): starting it costs seconds."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser(_chromium):
    """The session's Chromium; whatever context (cookies, tabs) a test opens in it is closed
    after the test, so the next one starts clean."""
    yield _chromium
    for context in list(_chromium.contexts):
        context.close()


def new_tab(browser, viewport: dict, **options):
    """A tab in a fresh context (its own cookies) with the given viewport (and other
    context options, e.g. reduced_motion)."""
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def screenshot(page, **options) -> None:
    """`page.screenshot(**options)`, for a person to look at later (test-artifacts/). Chromium
    now and then refuses a capture it has no composited frame for yet ("Unable to capture
    screenshot", seen in CI on a phone-sized tab just opened, full page): it is asked once
    more after the page has painted a frame. Whatever the page shows is still asserted by
    the test itself, never by its picture."""
    from playwright.sync_api import Error

    try:
        page.screenshot(**options)
    except Error as exc:
        if "Unable to capture screenshot" not in str(exc):
            raise
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => done()))")
        page.screenshot(**options)


@pytest.fixture
def tab(browser):
    """A desktop-sized Chromium tab."""
    page = new_tab(browser, DESKTOP)
    yield page
    page.context.close()


def sign_in(page, base_url: str, email: str, password: str) -> None:
    """Sign in through the login form, as a person would."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
