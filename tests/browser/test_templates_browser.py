"""A manager rewords the rejection email in a real browser: live preview, a mistake shown
as they type, then saving. Screenshots: the list, the editor with its preview, the error."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import MessageTemplate
from app.notifications.kinds import KINDS
from tests import factories as f
from tests.browser.conftest import SCREENSHOTS, screenshot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def manager(app):
    user = f.user("manager", email="mona@agency.test", name="Mona Manager")
    f.client("Northwind Logistics")
    db.session.commit()
    return user


def test_manager_edits_the_rejection_template(app, manager, live_server, tab):
    sign_in(tab, live_server, "mona@agency.test", "correct horse")
    tab.get_by_role("link", name="Templates").click()
    tab.wait_for_load_state()
    rows = tab.locator("[data-testid=template-kinds] tbody tr")
    assert rows.count() == len(KINDS)  # one row per message kind
    screenshot(tab, path=str(SCREENSHOTS / "templates-list.png"), full_page=True)

    tab.get_by_role("link", name="Rejection email (client's decision)").first.click()
    tab.wait_for_load_state()
    subject = tab.get_by_test_id("preview-subject")
    assert "the client's decision" in subject.inner_text()  # the built-in wording

    happened = tab.locator("#text_happened")
    happened.fill("Thank you for your time with ")
    happened.press("End")
    tab.locator(".cl-tpl-field[data-field=client_name]").click()  # inserted at the cursor
    happened.press("End")
    happened.type(", {{ first_name }}.")
    expected = "Thank you for your time with {{ client_name }}, {{ first_name }}."
    assert happened.input_value() == expected
    preview_text = tab.get_by_test_id("preview-text")
    # Locators, not wait_for_function strings: the app's CSP forbids eval.
    expect(preview_text).to_contain_text("Thank you for your time with Northwind Logistics, Priya.")
    frame = tab.frame_locator("#preview-frame")
    assert "Thank you for your time with Northwind Logistics" in frame.locator("body").inner_text()
    assert tab.get_by_test_id("preview-state").inner_text() == "Up to date"
    screenshot(tab, path=str(SCREENSHOTS / "templates-editor.png"), full_page=True)

    next_part = tab.locator("#text_next")
    next_part.fill("Ask {{ favourite_colour }} about it.")
    errors = tab.get_by_test_id("template-errors")
    errors.wait_for(state="visible")
    assert 'unknown merge field "favourite_colour"' in errors.inner_text()
    assert "recruiter_name" in errors.inner_text()  # the valid ones are listed
    assert "is-invalid" in next_part.get_attribute("class")
    screenshot(tab, path=str(SCREENSHOTS / "templates-error.png"), full_page=True)
    assert "Priya" in preview_text.text_content()  # the last good preview stays

    next_part.fill("We will keep you in mind for other roles, {{ first_name | title }}.")
    expect(tab.locator("#tpl-errors")).to_have_class(re.compile(r"\bd-none\b"))
    tab.get_by_test_id("save").click()
    tab.wait_for_load_state()
    assert "Saved the agency-wide wording" in tab.content()
    assert "agency's own wording is in use" in tab.get_by_test_id("source").inner_text()
    db.session.rollback()
    row = db.session.scalars(sa.select(MessageTemplate)).one()
    assert "{{ client_name }}" in row.body_text and row.client_id is None
    db.session.rollback()  # on SQLite our open read would block the server's delete

    tab.once("dialog", lambda dialog: dialog.accept())  # "Delete this wording …?"
    tab.get_by_test_id("reset").click()
    tab.wait_for_load_state()
    assert "is back to built-in" in tab.content()
    assert "has decided not to move forward" in tab.locator("#text_happened").input_value()
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MessageTemplate)) == 0
