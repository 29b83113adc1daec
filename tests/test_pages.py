"""Dashboard, health check, dev mailbox and error pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.main import queries
from app.models import MailboxMessage, Task, User
from app.seed import DEMO_PASSWORD, seed_demo
from tests import factories

RILEYS = ("Senior Backend Engineer", "Clinical Data Analyst", "Data Platform Engineer")
SOFIAS = ("Warehouse Operations Lead", "Registered Nurse (Night Shift)")


@pytest.fixture
def web(app, make_app):
    """A client whose requests each get their own app context (see test_auth.web)."""
    return make_app().test_client()


def login(web, email, password=DEMO_PASSWORD):
    response = web.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return web


@pytest.fixture
def seeded(worlds):
    worlds.load("seed_demo", seed_demo)
    db.session.commit()


def test_healthz_needs_no_login(web):
    response = web.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_reports_an_unreachable_database(app, make_app, tmp_path):
    broken = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"


@pytest.mark.parametrize("email", ["manager@closeloop.test", "admin@closeloop.test"])
def test_dashboard_shows_everything_to_managers(web, seeded, email):
    page = login(web, email).get("/").get_data(as_text=True)
    for title in RILEYS + SOFIAS:
        assert title in page
    for client in ("Northwind Logistics", "Brightwave Health", "Helix Analytics"):
        assert client in page
    assert "Riley Chen" in page and "Sofia Okafor" in page
    assert "Recent candidates" in page
    assert "Outbox" in page and "Superseded" in page
    assert "Cancelled" in page  # the Helix position
    assert "Freya Lindqvist" in page  # the newest candidate


def test_dashboard_shows_a_recruiter_only_their_positions(web, seeded):
    page = login(web, "recruiter@closeloop.test").get("/").get_data(as_text=True)
    for title in RILEYS:
        assert title in page
    for title in SOFIAS:
        assert title not in page
    assert "Sofia Okafor" not in page


def test_queries_scope_by_role(app, seeded):
    manager, riley = (
        db.session.scalar(sa.select(User).where(User.email == email))
        for email in ("manager@closeloop.test", "recruiter@closeloop.test")
    )
    everything = queries.positions_overview(manager)
    mine = queries.positions_overview(riley)
    assert len(everything) == 5
    assert sorted(p.title for p in mine) == sorted(RILEYS)
    assert sum(sum(p.stage_counts.values()) for p in everything) == 26
    interview = {p.title: p.stage_counts.get("interview", 0) for p in everything}
    assert interview["Senior Backend Engineer"] == 2
    assert queries.outbox_summary(riley).total < queries.outbox_summary(manager).total
    assert queries.outbox_summary(manager).owed > 0
    for row in queries.recent_candidates(riley, limit=50):
        assert all(title in RILEYS for title, _stage in row.applications)


def test_recruiter_sees_own_tasks_only(app):
    from app.candidates import worklist

    riley, sofia = factories.user(), factories.user()
    db.session.add_all(
        [
            _task("Call back", riley.id, overdue=True),
            _task("Chase client", sofia.id),
        ]
    )
    db.session.flush()
    assert worklist.counts(riley).tasks == 1
    assert worklist.counts(riley).overdue == 1
    manager = factories.user("manager")
    assert worklist.counts(manager).tasks == 2


def _task(title, assignee_id, overdue=False):
    due = clock.now() + timedelta(days=-1 if overdue else 1)
    candidate = factories.candidate()
    return Task(
        kind="test", title=title, assignee_id=assignee_id, due_at=due, candidate_id=candidate.id
    )


def test_dashboard_warns_everyone_when_sending_is_paused(web):
    from app.notifications.send import pause_sending, resume_sending

    email = factories.user(password="correct horse").email
    db.session.commit()
    login(web, email, "correct horse")
    assert "Email sending is paused" not in web.get("/").get_data(as_text=True)
    pause_sending("SendGrid rejected our API key (401): check <SENDGRID_API_KEY>")
    page = web.get("/").get_data(as_text=True)
    assert "Email sending is paused" in page and "Nothing is lost" in page
    assert "check &lt;SENDGRID_API_KEY&gt;" in page
    resume_sending()
    assert "Email sending is paused" not in web.get("/").get_data(as_text=True)


def test_navbar(web, seeded):
    page = login(web, "manager@closeloop.test").get("/").get_data(as_text=True)
    assert "Marcus Bell" in page and "Manager" in page
    assert 'action="/logout"' in page and 'method="post"' in page


@pytest.mark.app_config(DEV_MAILBOX_ENABLED=True)
@pytest.mark.parametrize(
    ("email", "shown"),
    [("admin@closeloop.test", True), ("manager@closeloop.test", False)],
)
def test_navbar_shows_mail_to_admins_when_the_mailbox_is_on(web, seeded, email, shown):
    page = login(web, email).get("/").get_data(as_text=True)
    assert ('href="/dev/mailbox/"' in page) is shown


def test_navbar_hides_mail_without_the_mailbox(web, seeded):
    page = login(web, "admin@closeloop.test").get("/").get_data(as_text=True)
    assert "/dev/mailbox" not in page
    assert "Dashboard" in page


def test_friendly_404(web):
    response = web.get("/no/such/page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page not found" in page
    assert "Closeloop" in page and "bootstrap.min.css" in page


@pytest.mark.app_config(DEV_MAILBOX_ENABLED=True)
class TestDevMailbox:
    HOSTILE = '<script>alert("x")</script>'

    @pytest.fixture
    def signed_in(self, web, app):
        email = factories.user("admin", password="correct horse").email
        db.session.commit()
        return login(web, email, "correct horse")

    @pytest.mark.parametrize("role", ["recruiter", "manager"])
    def test_admins_only(self, web, app, role):
        message = self._message(body_text="Your status page: http://127.0.0.1/status/secret")
        email = factories.user(role, password="correct horse").email
        db.session.commit()
        message_id = message.id
        db.session.commit()
        login(web, email, "correct horse")
        for path in ("/dev/mailbox/", f"/dev/mailbox/{message_id}"):
            response = web.get(path)
            assert response.status_code == 403, path
            assert "/status/secret" not in response.get_data(as_text=True)

    def _message(self, n=0, **kwargs):
        values = {
            "message_id": f"mailbox-test-{n}",
            "to_email": f"person{n}@example.com",
            "from_email": "updates@closeloop.example",
            "subject": f"Update {n}",
            "body_text": "Hello",
            "body_html": "<p>Hello</p>",
            "headers": {},
        }
        values.update(kwargs)
        message = MailboxMessage(**values)
        db.session.add(message)
        return message

    def test_requires_login(self, web):
        self._message()
        db.session.commit()
        for path in ("/dev/mailbox/", "/dev/mailbox/1"):
            response = web.get(path)
            assert response.status_code == 302
            assert response.headers["Location"].startswith("/login")

    def test_everything_is_escaped(self, signed_in):
        message = self._message(
            subject=f"Your application {self.HOSTILE}",
            to_email="amelia@example.com",
            body_text=f"Plain {self.HOSTILE} & more",
            body_html=f'<p onclick="steal()">Hi</p>{self.HOSTILE}',
            headers={"X-Closeloop-Kind": self.HOSTILE},
        )
        db.session.commit()
        message_id = message.id
        db.session.commit()  # end the read transaction before the app's requests

        listing = signed_in.get("/dev/mailbox/").get_data(as_text=True)
        assert "<script>alert" not in listing
        assert "Your application &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in listing

        detail = signed_in.get(f"/dev/mailbox/{message_id}").get_data(as_text=True)
        assert "<script>alert" not in detail
        assert '<p onclick="steal()">' not in detail
        assert 'srcdoc="&lt;p onclick=&#34;steal()&#34;&gt;Hi&lt;/p&gt;&lt;script&gt;' in detail
        assert 'sandbox=""' in detail
        assert "allow-scripts" not in detail
        assert "Plain &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more</pre>" in detail

    def test_newest_first_and_paginated(self, signed_in):
        start = clock.now()
        for n in range(30):
            self._message(n, created_at=start + timedelta(minutes=n))
        db.session.commit()
        first = signed_in.get("/dev/mailbox/").get_data(as_text=True)
        assert first.index("Update 29") < first.index("Update 28")
        assert "Update 5<" in first and "Update 4<" not in first
        assert "1–25 of 30" in first
        second = signed_in.get("/dev/mailbox/?page=2").get_data(as_text=True)
        assert "Update 4<" in second and "Update 0<" in second and "Update 5<" not in second

    def test_search_by_recipient(self, signed_in):
        self._message(1, to_email="Amelia.Hart@example.com")
        self._message(2, to_email="oliver@example.com")
        self._message(3, to_email="100%sure@example.com", subject="Ihre Bewerbung – Zoë")
        db.session.commit()
        page = signed_in.get("/dev/mailbox/?q=amelia").get_data(as_text=True)
        assert "Amelia.Hart@example.com" in page and "oliver@example.com" not in page
        # LIKE wildcards in the query are matched literally.
        page = signed_in.get("/dev/mailbox/?q=%25").get_data(as_text=True)
        assert "100%sure@example.com" in page and "oliver@example.com" not in page
        assert "Ihre Bewerbung – Zoë" in page
        page = signed_in.get("/dev/mailbox/?q=nobody").get_data(as_text=True)
        assert "No messages to recipients matching" in page

    def test_unknown_message_is_404(self, signed_in):
        assert signed_in.get("/dev/mailbox/999999").status_code == 404
