"""The overdue report: every reason built on purpose, with the near misses that must not count,
and the report, the CSV and the counts checked against each other."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock, labels
from app.candidates import services as candidate_services
from app.extensions import db
from app.models import (
    Notification,
    NState,
    OutcomeReason,
    OverdueCount,
    OverdueItem,
    Stage,
    Task,
)
from app.notifications.events import apply_events
from app.notifications.send import deliver
from app.pipeline import services
from app.reports import overdue, queries
from tests import factories as f
from tests.web import Web

# Wednesday 18 November 2026, noon in London (= UTC in November).
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
PASSWORD = "correct horse"


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def _deliver_owed(application_id: int) -> None:
    ids = list(
        db.session.scalars(
            sa.select(Notification.id).where(
                Notification.application_id == application_id,
                Notification.state.in_((NState.PENDING.value, NState.QUEUED.value)),
            )
        )
    )
    deliver(ids)


def _owed_ids(application) -> list[int]:
    return [s.id for s in services.settleable([application.id])[application.id]]


def _bounce(application_id: int) -> None:
    nid = db.session.scalar(
        sa.select(sa.func.max(Notification.id)).where(Notification.application_id == application_id)
    )
    apply_events(
        [
            {
                "event": "bounce",
                "type": "bounce",
                "notification_id": str(nid),
                "sg_event_id": uuid.uuid4().hex,
                "timestamp": int(clock.now().timestamp()),
                "reason": "550 5.1.1 no such user",
            }
        ]
    )


class Agency:
    """Two recruiters, two clients and one application per case, keyed by a short name."""

    def __init__(self):
        self.apps: dict[str, int] = {}

    def build(self, clk) -> Agency:
        self.manager = f.user("manager", password=PASSWORD, name="Morgan Manager")
        self.riley = f.user("recruiter", password=PASSWORD, name="Riley Recruiter")
        self.sofia = f.user("recruiter", password=PASSWORD, name="Sofia Recruiter")
        self.north = f.client("Northwind")
        self.bright = f.client("Brightwave")
        self.backend = f.position(owner=self.riley, client_=self.north, title="Backend Engineer")
        self.nurse = f.position(owner=self.sofia, client_=self.bright, title="Night Nurse")
        names = {
            # owed_unsent and its near misses
            "outcome_unsent": self.backend,
            "outcome_recent": self.backend,
            "outcome_sent": self.backend,
            "failed": self.backend,
            "failed_then_called": self.backend,
            "no_message": self.nurse,
            # undeliverable
            "bounced": self.nurse,
            "bounced_then_called": self.nurse,
            # promised date
            "promise_passed": self.backend,
            "promise_decided": self.backend,
            "promise_untold": self.nurse,
            "promise_told": self.nurse,
            # silent
            "silent": self.nurse,
            "called_yesterday": self.nurse,
            "candidate_called": self.nurse,
            "silent_boundary": self.nurse,
        }
        clk.current = START
        for name, position in names.items():
            if name == "silent_boundary":
                continue
            cand = f.candidate(
                name=f"Cand {name}",
                email=None if name.startswith("failed") else "default",
            )
            if name == "no_message":
                app = f.application(position_=position, candidate_=cand, stage=Stage.REJECTED)
                app.outcome_reason = OutcomeReason.CLIENT_DECLINED.value
            else:
                app = f.application(position_=position, candidate_=cand, stage=Stage.SUBMITTED)
            self.apps[name] = app.id
        # This candidate turned optional updates off: no "still deciding" can be sent.
        self._app("promise_untold").candidate.optional_updates = False
        db.session.commit()
        self._terminal(clk)
        self._undeliverable(clk)
        self._promises(clk)
        self._silence(clk)
        clk.current = NOW
        return self

    def _app(self, name):
        from app.models import Application

        return db.session.get(Application, self.apps[name])

    def _reject(self, name):
        return services.move_stage(
            self._app(name), Stage.REJECTED, actor=None, reason=OutcomeReason.AGENCY_DECISION
        )

    def _terminal(self, clk):
        clk.current = at(10)  # the no-message application ended a week ago, without a message
        app = self._app("no_message")
        app.stage_entered_at = clk.current
        db.session.commit()
        clk.current = at(16)  # Monday: more than one business day before Wednesday noon
        for name in ("outcome_unsent", "outcome_sent", "failed", "failed_then_called"):
            self._reject(name)
        clk.current = at(16, 11)  # the undo window is over: send what can be sent
        for name in ("outcome_sent", "failed", "failed_then_called"):
            _deliver_owed(self.apps[name])
        clk.current = at(17, 13)  # Tuesday 13:00: less than a business day before now
        self._reject("outcome_recent")
        clk.current = at(17, 15)
        services.log_contact(
            self._app("failed_then_called").candidate,
            actor=self.riley,
            channel="phone",
            summary="Told them by phone",
            application=self._app("failed_then_called"),
            settle=_owed_ids(self._app("failed_then_called")),  # ticked on the form
        )

    def _undeliverable(self, clk):
        clk.current = at(10)
        for name in ("bounced", "bounced_then_called"):
            services.move_stage(self._app(name), Stage.CLIENT_REVIEW, actor=None)
            _deliver_owed(self.apps[name])
        clk.current = at(11)
        for name in ("bounced", "bounced_then_called"):
            _bounce(self.apps[name])
        clk.current = at(12)
        services.log_contact(
            self._app("bounced_then_called").candidate,
            actor=self.sofia,
            channel="phone",
            summary="Called: their address changed",
            application=self._app("bounced_then_called"),
        )

    def _interview(self, name, promised):
        services.record_interview(
            self._app(name),
            actor=None,
            interview_at=at(13),
            interviewers="Ada",
            promised_response_at=promised,
            client_contact="Ada",
            next_step="Wait",
        )
        _deliver_owed(self.apps[name])

    def _promises(self, clk):
        clk.current = at(12)
        self._interview("promise_passed", at(18, 9))  # after the sweep below, before now
        self._interview("promise_decided", at(18, 9))
        self._interview("promise_untold", at(17, 10))
        self._interview("promise_told", at(17, 10))
        clk.current = at(16, 15)
        services.move_stage(self._app("promise_decided"), Stage.OFFER, actor=None)
        _deliver_owed(self.apps["promise_decided"])
        clk.current = at(17, 11)
        services.sweep_promised_dates(clk.current)  # told: still_deciding; untold: opted out
        _deliver_owed(self.apps["promise_told"])

    def _silence(self, clk):
        clk.current = at(17, 9)
        for name, application in (("called_yesterday", True), ("candidate_called", False)):
            app = self._app(name)
            services.log_contact(
                app.candidate,
                actor=self.sofia,
                channel="phone",
                summary="Checked in",
                application=app if application else None,
            )
        clk.current = at(9, 12, 1)  # a minute after the seven-business-day line
        cand = f.candidate(name="Cand silent_boundary")
        app = f.application(position_=self.nurse, candidate_=cand, stage=Stage.SUBMITTED)
        self.apps["silent_boundary"] = app.id
        db.session.commit()


EXPECTED = {
    ("outcome_unsent", "owed_unsent"),
    ("failed", "owed_unsent"),
    ("no_message", "owed_unsent"),
    ("bounced", "undeliverable"),
    ("promise_passed", "promise_missed"),
    ("promise_untold", "promise_missed"),
    ("silent", "silent"),
}


def _built(clk) -> Agency:
    built = Agency().build(clk)
    overdue.refresh()
    return built


@pytest.fixture
def agency(worlds):
    with clock.frozen(START) as clk:
        built = worlds.load("overdue-agency", lambda: _built(clk))
        clk.current = NOW
        yield built, clk


def _by_name(agency: Agency) -> dict[int, str]:
    return {v: k for k, v in agency.apps.items()}


def _materialised(agency: Agency) -> set[tuple[str, str]]:
    names = _by_name(agency)
    rows = db.session.execute(sa.select(OverdueItem.application_id, OverdueItem.reason)).all()
    return {(names[a], r) for a, r in rows}


def test_each_case_and_no_near_miss(agency):
    built, _ = agency
    assert _materialised(built) == EXPECTED


def test_the_live_definition_matches_what_was_stored(agency):
    built, _ = agency
    names = _by_name(built)
    live = {
        (names[r.application_id], r.reason)
        for r in db.session.execute(overdue.overdue_rows(overdue.thresholds()))
    }
    assert live == EXPECTED


def test_detail_and_age(agency):
    built, _ = agency
    items = {(i.application_id, i.reason): i for i in db.session.scalars(sa.select(OverdueItem))}
    unsent = items[(built.apps["outcome_unsent"], "owed_unsent")]
    assert unsent.message_kind == "not_selected_agency"
    assert unsent.message_state in ("pending", "queued")
    assert unsent.since == at(16) and unsent.owner_id == built.riley.id
    failed = items[(built.apps["failed"], "owed_unsent")]
    assert failed.message_state == "failed" and "phone" in failed.note
    assert items[(built.apps["no_message"], "owed_unsent")].note == "no outcome message recorded"
    bounced = items[(built.apps["bounced"], "undeliverable")]
    assert bounced.message_state == "bounced" and "no such user" in bounced.note
    assert bounced.since == at(11)
    untold = items[(built.apps["promise_untold"], "promise_missed")]
    assert untold.since == at(17, 11) and "not told" in untold.note
    assert items[(built.apps["promise_passed"], "promise_missed")].since == at(18, 9)
    silent = items[(built.apps["silent"], "silent")]
    assert silent.since == START and silent.note == "never contacted"
    rows, _ = queries.page(queries.Filters(reason="silent"))
    assert rows[0].business_days == 12  # 3..18 November, weekdays after the 2nd


def test_sorted_by_severity_then_age(agency):
    built, _ = agency
    rows, has_next = queries.page(queries.Filters())
    assert not has_next
    assert [r.severity for r in rows] == sorted(r.severity for r in rows)
    names = _by_name(built)
    assert [names[r.application_id] for r in rows[:3]] == ["no_message", "outcome_unsent", "failed"]
    assert rows[-1].reason == "silent"


def test_counts_agree_with_rows_and_csv(agency, web):
    built, _ = agency
    counts = queries.counts()
    assert counts.total == len(EXPECTED) == sum(counts.by_reason.values())
    assert counts.by_reason == {
        "owed_unsent": 3,
        "undeliverable": 1,
        "promise_missed": 2,
        "silent": 1,
        "reply_unanswered": 0,  # tests/test_replies.py
    }
    owners = {name: total for _, name, _, total in counts.by_owner}
    assert owners == {"Riley Recruiter": 3, "Sofia Recruiter": 4}
    clients = {name: total for _, name, _, total in counts.by_client}
    assert clients == {"Northwind": 3, "Brightwave": 4}
    _sign_in(web, built.manager)
    rows = _csv(web.get("/reports/overdue.csv"))
    names = _by_name(built)
    # The CSV says each reason in words, as the page does.
    words = {labels.overdue_reason(code): code for code in labels.OVERDUE_REASONS}
    assert {(names[int(r["application_id"])], words[r["reason"]]) for r in rows} == EXPECTED
    page = web.get("/reports/overdue").get_data(as_text=True)
    assert 'data-testid="total-count">7<' in page
    assert page.count("<tr data-application=") == 7
    # Filtered: the page, the CSV and the counts still agree.
    for args in ({"recruiter": built.sofia.id}, {"client": built.north.id}, {"reason": "silent"}):
        flt = queries.Filters.from_args({k: str(v) for k, v in args.items()})
        n = queries.counts(flt).total
        assert len(_csv(web.get("/reports/overdue.csv", query_string=args))) == n
        html = web.get("/reports/overdue", query_string=args).get_data(as_text=True)
        assert html.count("<tr data-application=") == n


def test_filters(agency):
    built, _ = agency
    names = _by_name(built)

    def found(**kw):
        rows, _ = queries.page(queries.Filters(**kw))
        return {names[r.application_id] for r in rows}

    assert found(owner_id=built.riley.id) == {
        "outcome_unsent",
        "failed",
        "promise_passed",
    }
    assert found(client_id=built.bright.id) == {
        "no_message",
        "bounced",
        "promise_untold",
        "silent",
    }
    assert found(position_id=built.nurse.id) == found(client_id=built.bright.id)
    assert found(reason="promise_missed") == {"promise_passed", "promise_untold"}
    assert found(min_age_days=7) == {"no_message", "bounced", "silent"}
    assert found(owner_id=built.sofia.id, reason="silent") == {"silent"}
    assert found(owner_id=10**6) == set()
    assert queries.Filters.from_args({"reason": "nonsense", "recruiter": "x"}) == (
        queries.Filters()
    )


def test_pagination(agency):
    first, has_next = queries.page(queries.Filters(), 1, per_page=4)
    second, more = queries.page(queries.Filters(), 2, per_page=4)
    assert has_next and not more
    assert len(first) == 4 and len(second) == 3
    assert not {r.application_id for r in first} & {r.application_id for r in second}


def test_resolving_from_the_page_removes_the_row(agency, web):
    built, clk = agency
    silent_id = built.apps["silent"]
    _sign_in(web, built.sofia)  # the position's recruiter logs the contact
    response = web.post(
        f"/reports/applications/{silent_id}/contact",
        data={"channel": "phone", "summary": "Caught up on the role", "next": "/reports/overdue"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/reports/overdue"
    db.session.expire_all()
    assert (built.apps["silent"], "silent") not in {
        (i.application_id, i.reason) for i in db.session.scalars(sa.select(OverdueItem))
    }
    assert queries.counts().by_reason["silent"] == 0
    assert queries.counts().total == len(EXPECTED) - 1
    # A full refresh agrees with the single-application one.
    overdue.refresh()
    assert queries.counts().total == len(EXPECTED) - 1


def _live(built) -> dict[tuple[str, str], int | None]:
    """(case, reason) -> the notification the live report names for it."""
    names = _by_name(built)
    return {
        (names[r.application_id], r.reason): r.notification_id
        for r in db.session.execute(overdue.overdue_rows(overdue.thresholds()))
        if r.application_id in names
    }


def test_a_bounce_answered_by_a_corrected_resend_leaves_the_report(agency):
    built, clk = agency
    bounced_n = _live(built)[("bounced", "undeliverable")]
    task = db.session.scalar(sa.select(Task).where(Task.notification_id == bounced_n))
    retry = candidate_services.fix_email_and_retry(
        task, actor=built.sofia, email="fixed@example.com"
    )
    # Owed again to the corrected address: no longer "undeliverable", and not yet late.
    assert ("bounced", "undeliverable") not in _live(built)
    assert deliver([retry.id])["sent"] == 1
    assert ("bounced", "undeliverable") not in _live(built)
    # If the corrected address bounces too, the report names the new message.
    clk.current += timedelta(minutes=5)
    _bounce(built.apps["bounced"])
    assert _live(built)[("bounced", "undeliverable")] == retry.id
    assert db.session.get(Notification, bounced_n).state == NState.BOUNCED  # history kept


def test_manager_exempts_an_owed_message(agency, web):
    built, _ = agency
    app_id = built.apps["outcome_unsent"]
    nid = db.session.scalar(
        sa.select(Notification.id).where(
            Notification.application_id == app_id, Notification.category == "outcome"
        )
    )
    _sign_in(web, built.riley)
    denied = web.post(f"/reports/applications/{app_id}/exempt", data={"notification_id": nid})
    assert denied.status_code == 403
    _sign_in(web, built.manager)
    page = web.get(f"/reports/applications/{app_id}").get_data(as_text=True)
    assert f'data-testid="exempt-form-{nid}"' in page
    empty = web.post(f"/reports/applications/{app_id}/exempt", data={"notification_id": nid})
    assert empty.status_code == 400  # a reason is required
    ok = web.post(
        f"/reports/applications/{app_id}/exempt",
        data={"notification_id": nid, "reason": "Candidate asked not to be emailed"},
    )
    assert ok.status_code == 302
    db.session.expire_all()
    assert db.session.get(Notification, nid).state == NState.DISCHARGED
    assert queries.counts().by_reason["owed_unsent"] == 2
    # A notification of another application cannot be exempted through this one.
    other = web.post(
        f"/reports/applications/{built.apps['failed']}/exempt",
        data={"notification_id": nid, "reason": "x"},
    )
    assert other.status_code == 404


def test_every_row_links_to_a_working_resolution(agency, web):
    built, _ = agency
    _sign_in(web, built.manager)
    page = web.get("/reports/overdue").get_data(as_text=True)
    for app_id in built.apps.values():
        if f'data-application="{app_id}"' in page:
            assert f"/reports/applications/{app_id}?next=" in page
            detail = web.get(f"/reports/applications/{app_id}")
            assert detail.status_code == 200
            assert 'data-testid="contact-form"' in detail.get_data(as_text=True)


def test_recruiters_see_only_their_applications(agency, web):
    built, _ = agency
    _sign_in(web, built.riley)
    assert web.get(f"/reports/applications/{built.apps['outcome_unsent']}").status_code == 200
    # Someone else's application answers as a missing one does (issue 12: was 403).
    assert web.get(f"/reports/applications/{built.apps['silent']}").status_code == 404
    refused = web.post(
        f"/reports/applications/{built.apps['silent']}/contact",
        data={"channel": "phone", "summary": "x"},
    )
    assert refused.status_code == 404
    for path in ("/reports/overdue", "/reports/overdue.csv", "/reports/sla", "/reports/engine"):
        assert web.get(path).status_code == 403
    assert web.get("/reports/applications/999999").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/reports/",
        "/reports/overdue",
        "/reports/overdue.csv",
        "/reports/overdue/counts.csv",
        "/reports/sla",
        "/reports/delivery",
        "/reports/engine",
        "/reports/digest",
        "/reports/applications/1",
        "/admin/rq/",
    ],
)
def test_anonymous_users_are_sent_to_sign_in(web, app, path):
    response = web.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_csv_streams_and_defuses_formulas(app, web):
    with clock.frozen(START) as clk:
        manager = f.user("manager", password=PASSWORD)
        position = f.position(title='=HYPERLINK("http://evil")')
        cand = f.candidate(name='=cmd|" /C calc"!A0')
        f.application(position_=position, candidate_=cand, stage=Stage.SUBMITTED)
        db.session.commit()
        clk.current = NOW
        overdue.refresh()
        _sign_in(web, manager)
        response = web.get("/reports/overdue.csv")
        assert response.is_streamed
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        (row,) = _csv(response)
        assert row["candidate"] == '\'=cmd|" /C calc"!A0'
        assert row["position"].startswith("'=HYPERLINK")
        assert row["reason"] == "Silent" and row["age_business_days"] == "12"


def test_page_escapes_everything(app, web):
    hostile = '<script>alert("x")</script>'
    with clock.frozen(START) as clk:
        manager = f.user("manager", password=PASSWORD)
        owner = f.user("recruiter", name=f"Rec {hostile}")
        position = f.position(owner=owner, client_=f.client(f"Cl {hostile}"), title=hostile)
        f.application(position_=position, candidate_=f.candidate(name=hostile))
        db.session.commit()
        clk.current = NOW
        overdue.refresh()
        _sign_in(web, manager)
        for path in ("/reports/overdue", "/reports/overdue?reason=silent"):
            page = web.get(path).get_data(as_text=True)
            assert "<script>alert" not in page
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_refresh_button_needs_a_manager_and_recomputes(agency, web):
    built, _ = agency
    db.session.execute(sa.delete(OverdueItem))
    db.session.execute(sa.delete(OverdueCount))
    db.session.commit()
    _sign_in(web, built.riley)
    assert web.post("/reports/overdue/refresh").status_code == 403
    _sign_in(web, built.manager)
    assert web.post("/reports/overdue/refresh").status_code == 302
    assert queries.counts().total == len(EXPECTED)


def test_trend_records_a_point_per_day(agency):
    built, clk = agency
    clk.current = NOW + timedelta(days=1)
    overdue.refresh()
    overdue.refresh()  # the day's last refresh replaces its earlier point
    series = queries.trend(30)
    assert [day.isoformat() for day, _ in series] == ["2026-11-18", "2026-11-19"]
    assert sum(series[0][1].values()) == len(EXPECTED)


def test_csrf_is_required_on_resolution_forms(agency, make_app):
    built, _ = agency
    web = Web(make_app(WTF_CSRF_ENABLED=True).test_client())
    page = web.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    web.post(
        "/login", data={"email": built.manager.email, "password": PASSWORD, "csrf_token": token}
    )
    app_id = built.apps["silent"]
    no_token = web.post(
        f"/reports/applications/{app_id}/contact", data={"channel": "phone", "summary": "x"}
    )
    assert no_token.status_code == 400
    detail = web.get(f"/reports/applications/{app_id}").get_data(as_text=True)
    assert 'name="csrf_token"' in detail


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


def _sign_in(web, user) -> None:
    web.post("/logout")
    response = web.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_postgres_and_python_write_the_same_csv(agency):
    """PostgreSQL's COPY path and the Python path say the same words in the same cells."""
    from app.reports.export import _stream_postgres, _stream_python

    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("the COPY path exists only on PostgreSQL")
    copied = b"".join(_stream_postgres(queries.Filters())).decode()  # the clock stands still
    written = "".join(_stream_python(queries.Filters()))
    assert list(csv.reader(io.StringIO(copied))) == list(csv.reader(io.StringIO(written)))
    assert "Owed, unsent" in copied and "owed_unsent" not in copied
