"""A recruiter's day in a real browser: sign in, land on the queue, answer an update request,
open a candidate, log a phone call and see it on the timeline. Screenshots of the queue, the
candidates list, the profile and the candidate form with errors."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from app import clock
from app.models import Client, Stage
from app.notifications.events import apply_events
from app.notifications.send import deliver
from app.pipeline import services
from app.status import services as status_services
from tests import factories as f
from tests.browser.conftest import SCREENSHOTS, screenshot, sign_in

pytestmark = pytest.mark.browser

PASSWORD = "correct horse"


def _bounce(n) -> None:
    apply_events(
        [
            {
                "event": "bounce",
                "type": "bounce",
                "reason": "550 5.1.1 The email account that you tried to reach does not exist",
                "timestamp": int(clock.now().timestamp()),
                "sg_event_id": uuid.uuid4().hex,
                "notification_id": str(n.id),
            }
        ]
    )


def _interview(a, actor, promised_in: timedelta):
    n = services.record_interview(
        a,
        actor=actor,
        interview_at=clock.now() + timedelta(hours=2),
        interviewers="Hannah Cole",
        promised_response_at=clock.now() + promised_in,
        client_contact="Hannah Cole",
        next_step="A short call with the team lead",
    )
    deliver([n.id])


@pytest.fixture
def riley(app, db):
    """Riley's desk: an update request, a bounced email, a decision due tomorrow, and a
    rejection owed since last week."""
    riley = f.user(name="Riley Chen", email="riley@agency.example")
    northwind, helix = Client(name="Northwind Logistics"), Client(name="Helix Analytics")
    db.session.add_all([northwind, helix])
    backend = f.position(owner=riley, client_=northwind, title="Senior Backend Engineer")
    analyst = f.position(owner=riley, client_=helix, title="Clinical Data Analyst")
    people = {
        name: f.candidate(name=name, email=email, phone=phone, timezone=tz)
        for name, email, phone, tz in [
            ("Amelia Hart", "amelia.hart@example.com", "+44 7700 900123", "Europe/London"),
            ("Bruno Diaz", "bruno.diaz@example.com", "+34 600 123 456", "Europe/Madrid"),
            ("Chen Wei", "chen.wei@example.com", "+65 8123 4567", "Asia/Singapore"),
            ("Dara Okoye", "dara@exmaple.com", "+234 803 555 0101", "Africa/Lagos"),
        ]
    }
    for c in people.values():
        c.owner_id = riley.id
    with clock.frozen(clock.now() - timedelta(days=8)):
        chen = services.add_to_position(people["Chen Wei"], analyst, actor=riley)
        services.move_stage(chen, Stage.REJECTED, actor=riley, reason="agency_decision")
    amelia = services.add_to_position(people["Amelia Hart"], backend, actor=riley)
    deliver([services.move_stage(amelia, Stage.SUBMITTED, actor=riley, note="Strong CV").id])
    _interview(amelia, riley, timedelta(days=4))
    bruno = services.add_to_position(people["Bruno Diaz"], backend, actor=riley)
    _interview(bruno, riley, timedelta(hours=26))
    dara = services.add_to_position(people["Dara Okoye"], analyst, actor=riley)
    n = services.move_stage(dara, Stage.SUBMITTED, actor=riley)
    deliver([n.id])
    _bounce(n)
    status_services.request_update(people["Amelia Hart"], amelia.id)
    email = riley.email
    # Return plain values: touching an expired object later would open a transaction here,
    # and on SQLite that holds the write lock the live server needs.
    db.session.commit()
    return email


def test_recruiter_answers_a_request_and_logs_a_call(riley, live_server, tab):
    from playwright.sync_api import expect

    sign_in(tab, live_server, riley, PASSWORD)
    expect(tab).to_have_url(f"{live_server}/queue")
    expect(tab.get_by_role("heading", name="My queue")).to_be_visible()
    # Every open task is listed: both interviews' "chase the client" reminders too.
    expect(tab.get_by_test_id("queue-badge")).to_have_text("5")
    expect(tab.get_by_test_id("section-owed")).to_contain_text("Chen Wei")
    expect(tab.get_by_test_id("section-due")).to_contain_text("Bruno Diaz")
    expect(tab.get_by_test_id("section-due")).to_contain_text("Amelia Hart")
    expect(tab.get_by_test_id("section-bounced")).to_contain_text("Dara Okoye")
    requests = tab.get_by_test_id("section-requests")
    expect(requests).to_contain_text("Amelia Hart")
    screenshot(tab, path=SCREENSHOTS / "queue.png", full_page=True)

    # Answer the update request from the queue.
    requests.get_by_role("button", name="Reply").click()
    answer = requests.get_by_label("Your answer")
    expect(answer).to_be_focused()
    answer.fill("Hi Amelia, Northwind liked your profile; the interview is confirmed.")
    requests.get_by_role("button", name="Send answer").click()
    expect(tab.locator(".alert-success")).to_contain_text("on its way")
    expect(tab.get_by_test_id("empty-requests")).to_be_visible()
    expect(tab.get_by_test_id("queue-badge")).to_have_text("4")

    # The candidates list, a search, then the profile.
    tab.get_by_role("link", name="Candidates").click()
    expect(tab.get_by_test_id("candidates")).to_contain_text("Bruno Diaz")
    screenshot(tab, path=SCREENSHOTS / "candidates-list.png", full_page=True)
    tab.get_by_label("Search").fill("exmaple")
    tab.get_by_role("button", name="Search").click()
    expect(tab.get_by_test_id("result-count")).to_have_text("1 candidate")
    tab.get_by_role("link", name="Dara Okoye").click()
    expect(tab.get_by_role("heading", name="Dara Okoye")).to_be_visible()
    expect(tab.get_by_test_id("timeline")).to_contain_text("550 5.1.1")

    # Log the phone call that answers the bounced email.
    form = tab.get_by_test_id("contact-form")
    form.get_by_label("Channel").select_option("phone")
    form.get_by_label("About").select_option(label="Clinical Data Analyst at Helix Analytics")
    form.get_by_label("What was discussed").fill(
        "Called Dara: email address had a typo; told her she is with Helix."
    )
    form.get_by_role("button", name="Log contact").click()
    expect(tab.locator(".alert-success")).to_contain_text(
        "This also settles the bounced submission update"
    )
    first = tab.get_by_test_id("entry").first
    expect(tab.get_by_test_id("timeline")).to_contain_text("email address had a typo")
    expect(first).to_contain_text("Task resolved")
    tab.get_by_test_id("content").first.get_by_text("Show the email as sent").click()
    expect(tab.locator("iframe.cl-mail-frame").first).to_have_attribute("sandbox", "")
    screenshot(tab, path=SCREENSHOTS / "candidate-profile.png", full_page=True)
    expect(tab.get_by_test_id("queue-badge")).to_have_text("3")

    # A new candidate with mistakes: the form says what is wrong and keeps the rest.
    tab.goto(f"{live_server}/candidates/new")
    tab.get_by_label("Email").fill("amelia.hart@")
    tab.get_by_label("Phone").fill("+44 7700 900999")
    tab.get_by_label("Time zone").select_option("Asia/Tokyo")
    tab.get_by_role("button", name="Add candidate").click()
    expect(tab.get_by_test_id("form-errors")).to_be_visible()
    expect(tab.get_by_text("Enter the name.")).to_be_visible()
    expect(tab.get_by_text("Enter a valid email address")).to_be_visible()
    expect(tab.get_by_label("Phone")).to_have_value("+44 7700 900999")
    expect(tab.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
    screenshot(tab, path=SCREENSHOTS / "candidate-form-errors.png", full_page=True)
    tab.get_by_label("Name").fill("Amelia Hart")
    tab.get_by_label("Email").fill("amelia.hart@EXAMPLE.com")
    tab.get_by_role("button", name="Add candidate").click()
    duplicate = tab.get_by_test_id("duplicate")
    expect(duplicate).to_contain_text("already belongs to a candidate")
    screenshot(tab, path=SCREENSHOTS / "candidate-form-duplicate.png", full_page=True)
    duplicate.get_by_role("link", name="Amelia Hart").click()
    expect(tab.get_by_role("heading", name="Amelia Hart")).to_be_visible()
    expect(tab.get_by_test_id("timeline")).to_contain_text("Asked for an update")
