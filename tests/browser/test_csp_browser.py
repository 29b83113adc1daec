"""Chromium under the app's Content Security Policy (app/edge.py): a walk through the pages
that run our scripts or show email previews, as a recruiter, an admin and a candidate.
The browser reports nothing blocked, and the scripts still do their work."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import db
from tests import world
from tests.browser.conftest import new_tab, sign_in

pytestmark = pytest.mark.browser


def _watch(tab) -> list[str]:
    blocked: list[str] = []
    tab.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return blocked


def test_nothing_the_pages_need_is_blocked(app, live_server, browser):
    team = world.staff()
    rec = world.records(team.owner)
    owner, admin_email = team.owner.email, team.admin.email
    db.session.commit()  # on SQLite an open transaction would block the server
    tab = new_tab(browser, {"width": 1280, "height": 900})
    blocked = _watch(tab)
    sign_in(tab, live_server, owner, world.PASSWORD)
    for path in (
        f"/positions/{rec.position_id}",  # the board: drag and drop, move menus
        f"/candidates/{rec.candidate_id}",  # the timeline, with sandboxed email frames
        f"/applications/{rec.application_id}/move?to=client_review",  # email preview
        f"/positions/{rec.position_id}/lifecycle/hold?hold_reason=Budget",  # samples
        "/templates/submitted",  # the live preview
        "/imports/new",
        "/queue",
    ):
        tab.goto(live_server + path)
        tab.wait_for_load_state("networkidle")
    tab.context.close()

    admin = new_tab(browser, {"width": 1280, "height": 900})
    blocked += _watch(admin)
    sign_in(admin, live_server, admin_email, world.PASSWORD)
    admin.goto(live_server + "/admin/rq/")
    admin.wait_for_load_state("networkidle")
    # rq-dashboard's own script filled in the queue list (it is allowed its inline code).
    admin.get_by_text("maintenance").first.wait_for()
    # The template editor's script still previews as one types (managers and admins edit).
    admin.goto(live_server + "/templates/submitted")
    admin.locator("#text_happened").fill("Hello {{ first_name }}, it moved.")
    expect(admin.get_by_test_id("preview-text")).to_contain_text("it moved.")
    admin.context.close()

    candidate = new_tab(browser, {"width": 390, "height": 844})
    blocked += _watch(candidate)
    candidate.goto(f"{live_server}/status/{rec.token}")
    candidate.wait_for_load_state("networkidle")
    candidate.context.close()
    assert blocked == []
