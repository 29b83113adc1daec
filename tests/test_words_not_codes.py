"""Words, not codes: no page, email or CSV shows a stored code (`position_cancelled`,
`budget_cut`, `on_hold`) or its mechanical title-casing ("Not Selected Agency", "Budget
Cut") to a person. Every code's words live in app/labels.py.

One agency is built through the real services so that it holds every stage, outcome
reason, message kind and state, contact channel, task kind, overdue reason, position status,
candidate action, delivery event and import status. Then every page a member of staff or a
candidate can open is rendered (found from the URL map, so a new page is checked without
anyone listing it), with every CSV export, every candidate email (text and HTML) and the
staff digest, and their visible text is searched for codes."""

from __future__ import annotations

import ast
import csv
import io
import json
import pathlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from app import clock, labels
from app.candidates import services as candidates
from app.decisions import links as decision_links
from app.decisions import services as decisions
from app.extensions import db as _db
from app.imports import running
from app.imports import services as imports
from app.models import (
    Application,
    Candidate,
    CandidateAction,
    CandidateImport,
    Client,
    Contact,
    ContactChannel,
    DeliveryEvent,
    ImportStatus,
    InboundReply,
    MailboxMessage,
    Notification,
    NState,
    OutcomeReason,
    OverdueItem,
    Position,
    PositionStatus,
    ReplyStatus,
    StaffMessage,
    StaffMessageState,
    Stage,
    StageEvent,
    Task,
    User,
    WebhookEndpoint,
)
from app.notifications import links, outbox
from app.notifications.events import apply_events
from app.notifications.kinds import KINDS
from app.notifications.render import render
from app.notifications.send import deliver
from app.pipeline import fanout, services
from app.pipeline.followups import sweep_after_interviews
from app.positions import services as positions
from app.privacy import services as privacy
from app.replies import services as replies
from app.reports import digest, overdue
from app.seed import seed_demo
from app.status import services as status
from tests.web import Web, sign_in

START = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)  # a Tuesday morning
LATER = START + timedelta(days=14)  # interviews held, promises missed, silence overdue
PASSWORD = "closeloop-demo"
APP_DIR = pathlib.Path(__file__).resolve().parent.parent / "app"


# -- the codes ----------------------------------------------------------------------------


def all_codes() -> set[str]:
    codes = set(KINDS)
    for table, members in labels.TABLES.values():
        codes |= {str(c) for c in table} | {str(c) for c in members}
    return codes


def forbidden_patterns() -> list[tuple[str, re.Pattern]]:
    """Each code of more than one word as stored, and as mechanically title-cased."""
    found = []
    for code in sorted(all_codes()):
        if "_" not in code:
            continue  # "pending", "offer": the code is a word
        titled = " ".join(w.capitalize() for w in code.split("_"))
        for text in (code, titled):
            found.append((text, re.compile(rf"(?<![\w/.-]){re.escape(text)}(?![\w/.-])")))
    return found


PATTERNS = forbidden_patterns()
URL = re.compile(r"https?://\S+")


def codes_in(text: str) -> list[str]:
    text = URL.sub(" ", text)  # codes may stand in a link; a link is not read as words
    # A pattern can only match where its code stands as plain text: the substring test
    # spares most regex searches (a page is checked against a few hundred patterns).
    return [code for code, pattern in PATTERNS if code in text and pattern.search(text)]


class VisibleText(HTMLParser):
    """What a person reads: text outside scripts and styles, plus the attributes shown or
    spoken (title, aria-label, placeholder, alt). Values and data attributes are not, and
    neither is template source a person writes (a `<textarea>` of the template editor, and
    `<code>`, which marks what to type: `{% if reason == "budget_cut" %}`)."""

    SHOWN = ("title", "aria-label", "placeholder", "alt")
    NOT_READ = ("script", "style", "textarea", "code")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.NOT_READ:
            self._hidden += 1
        self.parts += [value for name, value in attrs if name in self.SHOWN and value]

    def handle_endtag(self, tag):
        if tag in self.NOT_READ and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


# -- the agency -----------------------------------------------------------------------------


def _user(email: str) -> User:
    return _db.session.scalar(sa.select(User).where(User.email == email))


def _owed_ids() -> list[int]:
    return list(
        _db.session.scalars(
            sa.select(Notification.id).where(
                Notification.state.in_((NState.PENDING.value, NState.QUEUED.value)),
                Notification.due_at <= clock.now(),
            )
        )
    )


def _send_what_is_due() -> None:
    ids = _owed_ids()
    if ids:
        deliver(ids)


class Agency:
    """The demo agency (app/seed.py), plus what the demo does not reach on its own."""

    def __init__(self, clk):
        self.clk = clk
        seed_demo()
        self.admin = _user("admin@closeloop.test")
        self.manager = _user("manager@closeloop.test")
        self.riley = _user("recruiter@closeloop.test")
        self.client = _db.session.scalar(sa.select(Client).order_by(Client.id))
        self.positions: dict[str, Position] = {}
        self._endings()
        self._candidates_act()
        self._replies()
        self._contacts()
        self._superseded()
        clk.advance(hours=1)  # past the undo window
        _send_what_is_due()
        services.reopen_position(self.positions["reopened"], actor=self.manager)
        _send_what_is_due()
        clk.current = START + timedelta(days=5)  # some interviews held, decisions ahead
        sweep_after_interviews(clk.current)
        _send_what_is_due()
        clk.current = LATER
        services.sweep_promised_dates(LATER)
        _send_what_is_due()
        # A client's new date that has passed since the sweep: the decision is late again.
        self._application_of("Hannah Schmidt").promised_response_at = LATER - timedelta(hours=2)
        self._delivery_events()
        self._other_states()
        self._client_decisions()
        self._tasks_of_every_kind()
        self._data_protection()
        self._imports()
        overdue.refresh(LATER)
        self._staff_messages()  # the digest reads the refreshed report

    def _position(
        self, key: str, title: str, *, phone_only: bool = False, count: int = 2
    ) -> Position:
        position = positions.save_position(
            None, actor=self.manager, client_id=self.client.id, title=title, owner_id=self.riley.id
        )
        for i in range(count):
            email = None if phone_only and i == 0 else f"{key}{i}@example.com"
            person = candidates.save_candidate(
                None,
                actor=self.riley,
                data={
                    "name": f"{title.split()[0]} Person {i}",
                    "email": email,
                    "phone": f"+44 7700 9001{i:02d}",
                    "timezone": "Europe/London",
                    "optional_updates": True,
                },
            )
            application = services.add_to_position(person, position, actor=self.riley)
            services.move_stage(application, Stage.SUBMITTED, actor=self.riley)
        self.positions[key] = position
        return position

    def _endings(self) -> None:
        """Every way a position ends or pauses; the demo already cancels one (budget cut)."""
        for key, title, to, reason in (
            ("held", "Forklift Driver", PositionStatus.ON_HOLD, "Client paused hiring"),
            ("reopened", "Night Porter", PositionStatus.ON_HOLD, "Waiting for the budget"),
            ("filled", "Shift Supervisor", PositionStatus.FILLED, OutcomeReason.FILLED_INTERNALLY),
            ("taken", "Route Planner", PositionStatus.FILLED, OutcomeReason.FILLED_BY_OTHER),
            ("pulled", "Fleet Analyst", PositionStatus.CANCELLED, OutcomeReason.CLIENT_WITHDREW),
        ):
            position = self._position(key, title, phone_only=key == "pulled")
            services.close_position(position, actor=self.manager, status=to, reason=reason)
        closed = self._position("closed", "Archive Clerk")
        closed.status = PositionStatus.CLOSED.value  # no page closes one; older data may
        _db.session.commit()

    def _application_of(self, name: str) -> Application:
        return _db.session.scalar(
            sa.select(Application)
            .join(Candidate, Candidate.id == Application.candidate_id)
            .where(Candidate.name == name)
            .order_by(Application.id)
        )

    def _candidates_act(self) -> None:
        """What candidates do from their status page and emails."""
        noah = self._application_of("Noah Patel")
        status.withdraw(noah.candidate, noah.id)
        status.request_link("lucy.evans@example.com")
        task = _db.session.scalar(sa.select(Task).where(Task.kind == "update_request"))
        status.answer_update_request(task, actor=self.riley, message="The client meets on Friday.")
        grace = self._application_of("Grace O'Connor").candidate
        status.set_optional_updates(grace, False)
        status.set_optional_updates(grace, True, via="unsubscribe")
        status.set_optional_updates(grace, False, via="unsubscribe")
        status.set_language(grace, "de")  # language_changed

    def _replies(self) -> None:
        """Email replies of every status; one answered, one left unanswered (overdue)."""
        amelia = self._application_of("Amelia Hart")
        for status_ in ReplyStatus:
            _db.session.add(
                InboundReply(
                    dedupe_key=f"words:{status_}",
                    status=status_.value,
                    candidate_id=amelia.candidate_id,
                    application_id=amelia.id,
                    from_email=amelia.candidate.email,
                    subject="Re: your application",
                    body="Any news?",
                    attachments=[{"name": "cv.pdf", "size": 2048, "type": "application/pdf"}],
                )
            )
        for key in ("answered", "unanswered"):
            outbox.open_task(
                kind=replies.TASK_KIND,
                title=f"{amelia.candidate.name} replied",
                dedupe_key=f"words:reply:{key}",
                candidate_id=amelia.candidate_id,
                application_id=amelia.id,
                assignee_id=self.riley.id,
                due_at=START + timedelta(days=1),
            )
        _db.session.commit()
        task = _db.session.scalar(sa.select(Task).where(Task.dedupe_key == "words:reply:answered"))
        replies.answer(task, actor=self.riley, message="We will hear on Friday.")

    def _contacts(self) -> None:
        for channel, name in zip(
            ContactChannel, ("Priya Raman", "Arjun Nair", "Chloé Martin", "Lucy Evans"), strict=True
        ):
            application = self._application_of(name)
            services.log_contact(
                application.candidate,
                actor=application.position.owner,
                channel=channel,
                summary="Talked through where things stand.",
                application=application,
                settle=[s.id for s in services.settleable([application.id])[application.id]],
            )

    def _superseded(self) -> None:
        daniel = self._application_of("Daniel Kim")
        services.move_stage(daniel, Stage.SUBMITTED, actor=self.riley)
        services.move_stage(daniel, Stage.CLIENT_REVIEW, actor=self.riley)

    def _delivery_events(self) -> None:
        sent = list(
            _db.session.scalars(
                sa.select(Notification)
                .where(Notification.state == NState.SENT.value)
                .order_by(Notification.id)
            )
        )
        events = [
            ("processed", None),
            ("delivered", None),
            ("deferred", None),
            ("open", None),
            ("click", None),
            ("spamreport", None),
            ("unsubscribe", None),
            ("group_unsubscribe", None),
            ("group_resubscribe", None),
            ("dropped", None),
            ("bounce", "bounce"),
            ("bounce", "blocked"),
        ]
        assert len(sent) > len(events)
        apply_events(
            [
                {
                    "event": event,
                    **({"type": kind} if kind else {}),
                    "notification_id": str(n.id),
                    "sg_event_id": uuid.uuid4().hex,
                    "timestamp": int(clock.now().timestamp()),
                    "reason": "550 5.1.1 no such user" if kind or event == "dropped" else None,
                }
                for (event, kind), n in zip(events, sent[: len(events)], strict=True)
            ]
        )

    def _other_states(self) -> None:
        """Owed messages in each state a worker would leave them in, and settled ones."""
        yard = self._position("yard", "Yard Marshal", count=5)
        apps = list(
            _db.session.scalars(sa.select(Application).where(Application.position_id == yard.id))
        )
        fresh = [services.move_stage(a, Stage.CLIENT_REVIEW, actor=self.riley) for a in apps[:4]]
        # An outcome waits the undo window: still pending when the pages are read.
        services.move_stage(
            apps[4], Stage.REJECTED, actor=self.riley, reason=OutcomeReason.AGENCY_DECISION
        )
        queued, sending, failed, exempted = fresh
        queued.state = NState.QUEUED.value
        sending.state, sending.lease_expires_at = NState.SENDING.value, LATER + timedelta(hours=1)
        # As a worker would: claimed (sending), then failed.
        failed.state = NState.SENDING.value
        _db.session.flush()
        failed.state, failed.failed_at = NState.FAILED.value, LATER
        failed.last_error = "Invalid email address"
        outbox.open_task(
            kind="send_failed",
            title=f"Email to {failed.candidate.name} could not be sent",
            dedupe_key=outbox.undeliverable_task_key(failed.id),
            candidate_id=failed.candidate_id,
            application_id=failed.application_id,
            notification_id=failed.id,
            assignee_id=failed.application.position.owner_id,
            due_at=LATER,
        )
        _db.session.commit()
        services.exempt(exempted, actor=self.manager, reason="Told in person at the office.")

    def _client_decisions(self) -> None:
        """A client declines on their decision page: a prepared change in the queue."""
        waiting = _db.session.scalar(
            sa.select(Application)
            .where(
                Application.stage == Stage.INTERVIEW.value,
                Application.promised_response_at.is_not(None),
            )
            .order_by(Application.id)
        )
        decisions.decide(waiting.position, waiting.id, "decline", reason="Another candidate")

    def _tasks_of_every_kind(self) -> None:
        have = set(_db.session.scalars(sa.select(Task.kind).distinct()))
        anyone = self._application_of("Amelia Hart")
        for kind in sorted(set(labels.TASK_KINDS) - have):
            outbox.open_task(
                kind=kind,
                title=f"{anyone.candidate.name} needs a person",
                dedupe_key=f"words:{kind}",
                candidate_id=anyone.candidate_id,
                application_id=anyone.id,
                assignee_id=self.riley.id,
                due_at=LATER,
            )
        _db.session.commit()

    def _data_protection(self) -> None:
        rahul = self._application_of("Rahul Mehta").candidate
        privacy.export_candidate(rahul, actor=self.admin)
        privacy.revoke(rahul, actor=self.admin)
        privacy.erase_candidate(self._application_of("Emily Carter").candidate, actor=self.admin)

    def _imports(self) -> None:
        data = b"name,email\nBo Diaz,bo.diaz@example.com\nBad Row,not-an-address\n"
        made = [
            imports.create_preview(self.riley, filename=f"people{i}.csv", data=data, position=None)
            for i in range(4)
        ]
        running.confirm(self.riley, made[0])
        made[1].status = ImportStatus.IMPORTING.value
        _db.session.commit()
        made[2].status, made[2].error = ImportStatus.FAILED.value, "The database refused row 3."
        _db.session.commit()

    def _staff_messages(self) -> None:
        built = digest.build_digest(self.admin, LATER)
        for i, state in enumerate(StaffMessageState):
            _db.session.add(
                StaffMessage(
                    user_id=self.admin.id,
                    kind=digest.KIND,
                    idempotency_key=f"words-{i}",
                    state=state.value,
                    to_email=self.admin.email,
                    subject=built.subject,
                    body_text=built.text,
                    body_html=built.html,
                    due_at=LATER,
                    created_at=LATER - timedelta(days=i),
                )
            )
        _db.session.commit()


@pytest.fixture
def agency(app, db):
    with clock.frozen(START) as clk:
        yield Agency(clk)


# -- the agency holds every code ------------------------------------------------------------


def _present(column) -> set[str]:
    return {v for v in _db.session.scalars(sa.select(column).distinct()) if v is not None}


def test_every_code_has_words():
    for name, (table, members) in labels.TABLES.items():
        assert set(members) <= set(table), name
    assert set(labels.KINDS) == set(KINDS)
    assert set(labels.CATEGORIES) == {k.category for k in KINDS.values()}
    assert task_kinds_in_code() <= set(labels.TASK_KINDS)
    # The mechanical fallback is never what a person sees for a known code.
    for table, _ in labels.TABLES.values():
        for code, words in table.items():
            assert words != code and "_" not in words, (code, words)


def task_kinds_in_code() -> set[str]:
    """Every literal `kind=` given to Task(...) or outbox.open_task(...) in app/."""
    kinds = set()
    for path in APP_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name not in ("Task", "open_task"):
                continue
            for kw in node.keywords:
                if kw.arg == "kind" and isinstance(kw.value, ast.Constant):
                    kinds.add(kw.value.value)
    assert {"undeliverable", "call_candidate", "update_request"} <= kinds  # the scan works
    return kinds


def _assert_covers(agency) -> None:
    """The pages below can only prove something if the agency holds every code."""
    with_reason = _present(StageEvent.reason) | _present(Application.outcome_reason)
    expected = {
        "stages": (_present(Application.stage), set(Stage)),
        "reasons": (with_reason, set(OutcomeReason)),
        "kinds": (_present(Notification.kind), set(KINDS)),
        "states": (_present(Notification.state), set(NState)),
        "channels": (_present(Contact.channel), set(ContactChannel)),
        "tasks": (_present(Task.kind), set(labels.TASK_KINDS)),
        "overdue": (_present(OverdueItem.reason), set(labels.OVERDUE_REASONS)),
        "statuses": (_present(Position.status), set(PositionStatus)),
        "actions": (_present(CandidateAction.action), set(labels.ACTIONS)),
        "events": (
            _present(DeliveryEvent.event) | _present(DeliveryEvent.event_type),
            set(labels.DELIVERY_EVENTS),
        ),
        "imports": (_present(CandidateImport.status), set(ImportStatus)),
        "replies": (_present(InboundReply.status), set(ReplyStatus)),
        "staff": (_present(StaffMessage.state), set(StaffMessageState)),
    }
    missing = {name: want - have for name, (have, want) in expected.items() if want - have}
    assert missing == {}


# -- every page, CSV and email --------------------------------------------------------------

# The favicon is an image: no words in it.
SKIP_ENDPOINTS = {"static", "bootstrap.static", "main.healthz", "main.favicon", "auth.logout"}
# A third party's pages; and the REST API, whose codes are its contract with other systems
# (it answers 401 to a session anyway; its messages carry labels beside the codes).
SKIP_PREFIXES = ("rq_dashboard.", "api.")


def _values(agency) -> dict[str, list]:
    """The records each kind of id in a URL can name: every candidate (each profile tells
    its own story), and one position and application of each status and stage (their pages
    differ in words only by those)."""
    apps = list(_db.session.scalars(sa.select(Application).order_by(Application.id)))
    positions = list(_db.session.scalars(sa.select(Position).order_by(Position.id)))
    return {
        "position_id": list({p.status: p.id for p in positions}.values()),
        "application_id": list({a.stage: a.id for a in apps}.values()),
        "candidate_id": list(_db.session.scalars(sa.select(Candidate.id))),
        "client_id": list(_db.session.scalars(sa.select(Client.id))),
        "import_id": list(_db.session.scalars(sa.select(CandidateImport.id))),
        "message_id": list(_db.session.scalars(sa.select(MailboxMessage.id))),
        "endpoint_id": list(_db.session.scalars(sa.select(WebhookEndpoint.id))),
        "token_id": [],  # only ever POSTed to (revoke)
        "kind": sorted(KINDS),
        "action": sorted(fanout.ACTIONS),
        "task_id": list(
            _db.session.scalars(sa.select(Task.id).where(Task.kind == decisions.TASK_KIND))
        ),
    }


def _status_links() -> list[dict]:
    """Each live candidate's status link, with each of their applications."""
    combos = []
    for c in _db.session.scalars(sa.select(Candidate).where(Candidate.anonymised_at.is_(None))):
        token = links.status_token(c)
        combos.append({"token": token})
        combos += [
            {"token": token, "application_id": a_id}
            for a_id in _db.session.scalars(
                sa.select(Application.id).where(Application.candidate_id == c.id)
            )
        ]
    return combos


def _queries(endpoint: str, args: dict, agency) -> list[dict]:
    """Query strings that open more of a page (a filter, a preview, a chosen reason)."""
    if endpoint == "reports.overdue_report":
        return [{}] + [{"reason": r} for r in labels.OVERDUE_REASONS]
    if endpoint == "positions.move":
        return [{"to": Stage.OFFER}] + [{"to": s} for s in Stage if s != Stage.OFFER]
    if endpoint == "bulk.lifecycle":
        reasons = fanout.ACTIONS[args["action"]].reasons or ("Client paused hiring",)
        return [{}] + [{"reason": r} for r in reasons]
    if endpoint in ("bulk.review", "bulk.result"):
        ids = list(
            _db.session.scalars(
                sa.select(Application.id).where(Application.position_id == args["position_id"])
            )
        )
        return [{"application_ids": ids, "stage": s, "action": "move"} for s in Stage] + [
            {"application_ids": ids, "action": "reject"}
        ]
    if endpoint == "message_templates.edit":
        return [{}, {"client": agency.client.id}]
    if endpoint == "candidates.queue":
        return [{}, {"recruiter": agency.riley.id}]
    return [{}]


def _get_urls(app, values: dict, agency) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if (
            "GET" not in rule.methods
            or rule.endpoint in SKIP_ENDPOINTS
            or rule.endpoint.startswith(SKIP_PREFIXES)
        ):
            continue
        names = sorted(rule.arguments)
        if rule.rule.startswith("/decide/"):
            combos = [
                {"token": decision_links.token(p)}
                for p in _db.session.scalars(sa.select(Position).order_by(Position.id))
            ]
        elif "token" in names:
            combos = [c for c in _status_links() if set(c) == set(names)]
        else:
            assert all(n in values for n in names), f"{rule.rule}: no records for {names}"
            combos = [{}]
            for name in names:
                combos = [dict(c, **{name: v}) for c in combos for v in values[name]]
        combos = combos[: SAMPLED.get(rule.endpoint, len(combos))]
        for i, combo in enumerate(combos):
            queries = _queries(rule.endpoint, combo, agency)
            if i and rule.endpoint in VARIANTS_ONCE:
                queries = queries[:1]
            for query in queries:
                urls.append(rule.build({**combo, **query}, append_unknown=True)[1])
    return urls


# Pages whose words differ only by the query string: every variant on one record is enough.
VARIANTS_ONCE = {"positions.move", "bulk.review", "bulk.result"}
# The same form for every candidate: a few will do.
SAMPLED = {"candidates.edit_candidate": 3}


def _previews(values: dict) -> list[tuple[str, dict]]:
    """Pages shown after a POST that writes nothing: move and template previews."""
    posts = []
    for app_id in values["application_id"][:2]:
        for stage, reasons in (
            (Stage.REJECTED, (OutcomeReason.AGENCY_DECISION, OutcomeReason.CLIENT_DECLINED)),
            (Stage.HIRED, (OutcomeReason.HIRED,)),
            (Stage.WITHDRAWN, (OutcomeReason.CANDIDATE_WITHDREW,)),
        ):
            for reason in reasons:
                posts.append((f"/applications/{app_id}/move?to={stage}", {"reason": reason}))
    for kind in KINDS:
        posts.append((f"/templates/{kind}/preview", {}))
    return posts


def _findings(where: str, text: str) -> list[str]:
    return [f"{where}: {code!r}" for code in codes_in(text)]


def _response_text(response) -> str:
    body = response.get_data(as_text=True)
    if response.mimetype == "text/csv":
        return "\n".join(" | ".join(row) for row in csv.reader(io.StringIO(body)))
    if response.mimetype == "application/json":
        return "\n".join(_strings(json.loads(body)))
    return visible(body)


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_no_page_email_or_csv_shows_a_code(app, agency, make_app):
    _assert_covers(agency)
    values = _values(agency)
    found: list[str] = []
    opened = 0
    urls = _get_urls(app, values, agency)
    # The admin opens every page; a recruiter's own views (dashboard, queue, lists) too.
    mine = [u for u in urls if not re.search(r"/\d+(/|$|\?)", u) and "/status/" not in u]
    for who, pages in ((agency.admin, urls), (agency.riley, mine)):
        role = who.role
        web = sign_in(Web(make_app().test_client()), who, PASSWORD)
        requests = [("get", u, None) for u in pages]
        if who is agency.admin:
            requests += [("post", u, d) for u, d in _previews(values)]
        for method, url, data in requests:
            response = getattr(web, method)(url, data=data)
            with response:  # a streamed CSV holds its transaction until closed
                if response.status_code in (302, 403, 404):
                    continue  # not this person's page, or a redirect to one checked anyway
                assert response.status_code in (200, 400), (role, url, response.status_code)
                found += _findings(f"{role} {method.upper()} {url}", _response_text(response))
            opened += 1
    assert opened > 300  # the walk reached the agency's pages, not a wall of 404s
    for n in _db.session.scalars(sa.select(Notification).order_by(Notification.id)):
        if n.candidate.anonymised_at:
            continue
        email = render(n)
        found += _findings(f"email {n.kind} (text)", email.text + "\n" + email.subject)
        found += _findings(f"email {n.kind} (html)", visible(email.html))
    for m in _db.session.scalars(sa.select(MailboxMessage)):
        found += _findings(f"sent email {m.subject!r}", m.body_text + visible(m.body_html or ""))
    for user in (agency.admin, agency.riley):
        staff = digest.build_digest(user, LATER)
        found += _findings(f"digest for {user.role}", staff.text + "\n" + visible(staff.html))
    assert found == [], _summary(found)


def _summary(found: list[str]) -> str:
    """Each code once, with a few of the places that show it."""
    by_code: dict[str, list[str]] = {}
    for item in found:
        where, _, code = item.rpartition(": ")
        by_code.setdefault(code, []).append(where)
    return "\n".join(
        f"{code} ({len(places)}x): " + "; ".join(sorted(set(places))[:4])
        for code, places in sorted(by_code.items())
    )
