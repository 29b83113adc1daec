"""Candidates' replies (SendGrid Inbound Parse): real multipart posts to the webhook, each
kind of mail stored as what it is, and the one that owes an answer answered from My queue
through the outbox."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.candidates import worklist
from app.extensions import db as _db
from app.models import (
    InboundReply,
    MailboxMessage,
    Notification,
    NState,
    ReplyStatus,
    Stage,
    Task,
)
from app.notifications import reply_tokens
from app.notifications.backends import OutgoingEmail
from app.notifications.send import deliver
from app.notifications.sendgrid_backend import SendGridBackend
from app.pipeline import services
from app.reports import digest, overdue
from devtools.sendgrid_stub import SendGridStub
from tests import factories as f
from tests.web import Web, sign_in

DOMAIN = "reply.agency.test"
SECRET = "in-8f3Yq2-secret"
pytestmark = pytest.mark.app_config(INBOUND_DOMAIN=DOMAIN, INBOUND_PARSE_SECRET=SECRET)
# A Tuesday morning.
NOW = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
QUOTED = (
    "Thanks! Could I get some feedback on the interview?\n\nBest,\nAnna\n\n"
    "On Mon, 16 Nov 2026 at 10:00, Closeloop <jobs@agency.test> wrote:\n"
    "> The client is reviewing your profile.\n> We will write to you by Friday.\n"
)


@pytest.fixture
def frozen():
    with clock.frozen(NOW) as c:
        yield c


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


@pytest.fixture
def sent(db, frozen):
    """A candidate who has been sent a message (through the outbox and the mailbox)."""
    owner = f.user(name="Riley Stone")
    a = f.application(
        candidate_=f.candidate(name="Anna Reply", email="anna@example.test"),
        position_=f.position(owner=owner),
    )
    n = services.move_stage(a, Stage.CLIENT_REVIEW, actor=owner)
    deliver([n.id])
    db.session.expire_all()
    mail = db.session.scalar(
        sa.select(MailboxMessage).where(MailboxMessage.notification_id == n.id)
    )
    return {"owner": owner, "application": a, "notification": n, "mail": mail}


def post(
    web,
    *,
    to,
    sender="Anna <anna@example.test>",
    subject="Re: your profile",
    text=QUOTED,
    headers="",
    files=(),
    secret=SECRET,
    envelope=None,
):
    data = {
        "to": to,
        "from": sender,
        "subject": subject,
        "text": text,
        "html": "<p>" + text.replace("\n", "<br>") + "</p>",
        "headers": headers or f"Message-ID: <{abs(hash((to, sender, subject, text)))}@mail>\n",
        "envelope": json.dumps(envelope or {"to": [to.strip("<>")], "from": "anna@example.test"}),
        "charsets": json.dumps({"text": "utf-8"}),
        "SPF": "pass",
        "attachments": str(len(files)),
    }
    for i, (name, content, mimetype) in enumerate(files, start=1):
        data[f"attachment{i}"] = (io.BytesIO(content), name, mimetype)
    return web.post(
        f"/webhooks/sendgrid/inbound/{secret}", data=data, content_type="multipart/form-data"
    )


def reply_to(sent) -> str:
    return sent["mail"].headers["Reply-To"]


def only_reply() -> InboundReply:
    (reply,) = _db.session.scalars(sa.select(InboundReply)).all()
    return reply


# -- Reply-To ------------------------------------------------------------------------------


def test_candidate_emails_reply_to_a_signed_address_naming_the_message(sent):
    address = reply_to(sent)
    local, domain = address.split("@")
    assert domain == DOMAIN and local.startswith("reply+") and len(local) <= 64
    token = reply_tokens.token_in(address)
    assert reply_tokens.read_token(token).notification_id == sent["notification"].id
    assert reply_tokens.read_token(token.upper()).notification_id == sent["notification"].id


@pytest.mark.app_config(INBOUND_DOMAIN="", INBOUND_PARSE_SECRET=SECRET)
def test_without_an_inbound_domain_replies_go_to_the_recruiter(sent):
    assert reply_to(sent) == sent["owner"].email


def test_sendgrid_gets_the_reply_to_and_each_token_goes_in_its_own_request(app):
    with SendGridStub(api_key="k") as stub:
        backend = SendGridBackend("k", host=stub.url, timeout=5, from_email="jobs@agency.test")
        messages = [
            OutgoingEmail(
                i,
                f"c{i}@example.test",
                "C",
                "S",
                "T",
                None,
                "submitted",
                reply_to=reply_tokens.reply_to(i, "r@agency.test"),
            )
            for i in (1, 2)
        ]
        backend.send_batch(messages)
        got = {m["notification_id"]: m["reply_to"] for m in stub.messages()}
        assert stub.stats()["requests"] == 2
    assert got == {str(m.notification_id): m.reply_to for m in messages}


# -- What arrives ------------------------------------------------------------------------


def test_a_reply_is_stored_without_its_quoted_history_and_owes_an_answer(db, web, sent):
    response = post(web, to=f"<{reply_to(sent)}>")
    assert response.status_code == 200 and response.get_json()["status"] == "accepted"
    reply = only_reply()
    assert reply.body == "Thanks! Could I get some feedback on the interview?\n\nBest,\nAnna"
    assert "wrote:" in reply.full_text
    assert (reply.application_id, reply.notification_id) == (
        sent["application"].id,
        sent["notification"].id,
    )
    task = db.session.get(Task, reply.task_id)
    assert task.kind == "reply_owed" and task.assignee_id == sent["owner"].id
    assert task.due_at == NOW + timedelta(hours=24)  # UPDATE_REQUEST_SLA_HOURS
    sign_in(web, sent["owner"])
    queue = web.get("/queue").get_data(as_text=True)
    assert 'data-testid="row-reply"' in queue and "Could I get some feedback" in queue
    profile = web.get(f"/candidates/{reply.candidate_id}").get_data(as_text=True)
    assert "Replied by email: Re: your profile" in profile
    page = web.get(f"/reports/applications/{reply.application_id}").get_data(as_text=True)
    assert 'data-testid="replies"' in page and "Could I get some feedback" in page


def test_the_same_post_twice_stores_one_reply(db, web, sent):
    first = post(web, to=reply_to(sent))
    again = post(web, to=reply_to(sent))
    assert first.get_json()["stored"] is True and again.get_json()["stored"] is False
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundReply)) == 1
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Task).where(Task.kind == "reply_owed")
        )
        == 1
    )


@pytest.mark.parametrize(
    "headers, subject",
    [
        ("Auto-Submitted: auto-replied\n", "Out of Office: back on Monday"),
        ("Precedence: bulk\n", "Re: your profile"),
        ("X-Autoreply: yes\n", "Re: your profile"),
        ("", "Automatic reply: Anna is away"),
    ],
)
def test_automatic_replies_are_recorded_and_owe_nothing(db, web, sent, headers, subject):
    headers = headers + "Message-ID: <ooo-1@mail>\n"
    response = post(
        web,
        to=reply_to(sent),
        subject=subject,
        headers=headers,
        text="I am out of the office until Monday.",
    )
    assert response.status_code == 200
    reply = only_reply()
    assert reply.status == "auto_reply" and reply.task_id is None
    assert not db.session.scalars(sa.select(Task).where(Task.kind == "reply_owed")).all()


def test_a_bounce_arriving_as_mail_owes_nothing(db, web, sent):
    post(
        web,
        to=reply_to(sent),
        sender="MAILER-DAEMON@mx.example.test",
        subject="Undelivered Mail Returned to Sender",
        text="This is the mail system.",
        envelope={"to": [reply_to(sent)], "from": ""},
    )
    assert only_reply().status == "bounce" and only_reply().task_id is None


def test_forged_expired_and_unknown_tokens_are_recorded_and_owe_nothing(db, web, sent, frozen):
    token = reply_tokens.token_in(reply_to(sent))
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    post(web, to=f"reply+{forged}@{DOMAIN}", text="forged")
    post(web, to=f"reply+{reply_tokens.make_token(999999)}@{DOMAIN}", text="unknown")
    post(web, to=f"someone@{DOMAIN}", text="no token")
    frozen.advance(timedelta(days=182))
    post(web, to=reply_to(sent), text="too late")
    statuses = {r.full_text.strip(): r.status for r in db.session.scalars(sa.select(InboundReply))}
    assert statuses == {
        "forged": "forged",
        "unknown": "unknown",
        "no token": "no_token",
        "too late": "expired",
    }
    assert not db.session.scalars(sa.select(Task).where(Task.kind == "reply_owed")).all()


def test_a_reply_from_another_address_is_flagged_not_trusted(db, web, sent):
    post(
        web,
        to=reply_to(sent),
        sender="Boss <boss@elsewhere.test>",
        envelope={"to": [reply_to(sent)], "from": "boss@elsewhere.test"},
    )
    reply = only_reply()
    assert reply.status == "other_sender"
    task = db.session.get(Task, reply.task_id)
    assert "another address" in task.title and "boss@elsewhere.test" in task.detail
    sign_in(web, sent["owner"])
    profile = web.get(f"/candidates/{reply.candidate_id}").get_data(as_text=True)
    assert 'data-testid="reply-other-sender"' in profile


def test_attachments_are_listed_by_name_and_size_and_not_stored(db, web, sent):
    cv = b"%PDF-1.4 " + b"x" * 5000
    post(web, to=reply_to(sent), files=[("My CV.pdf", cv, "application/pdf")])
    reply = only_reply()
    assert reply.attachments == [{"name": "My CV.pdf", "size": len(cv), "type": "application/pdf"}]
    assert b"%PDF" not in json.dumps(reply.attachments).encode()
    sign_in(web, sent["owner"])
    profile = web.get(f"/candidates/{reply.candidate_id}").get_data(as_text=True)
    assert "My CV.pdf" in profile and "not kept" in profile


# -- Refused posts -------------------------------------------------------------------------


def test_a_wrong_secret_is_refused_and_nothing_is_stored(db, web, sent):
    assert post(web, to=reply_to(sent), secret="in-8f3Yq2-secreT").status_code == 403
    assert post(web, to=reply_to(sent), secret="x").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundReply)) == 0


@pytest.mark.app_config(INBOUND_DOMAIN=DOMAIN, INBOUND_PARSE_SECRET="")
def test_without_a_secret_configured_mail_waits(db, web, sent):
    assert post(web, to=reply_to(sent), secret="anything").status_code == 503


@pytest.mark.app_config(
    INBOUND_DOMAIN=DOMAIN, INBOUND_PARSE_SECRET=SECRET, INBOUND_MAX_BYTES=20_000
)
def test_a_post_larger_than_the_bound_is_refused(db, web, sent):
    big = [("big.bin", b"0" * 50_000, "application/octet-stream")]
    assert post(web, to=reply_to(sent), files=big).status_code == 413
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundReply)) == 0


def test_a_post_that_is_not_inbound_parse_is_refused(db, web):
    response = web.post(f"/webhooks/sendgrid/inbound/{SECRET}", data={"subject": "hi"})
    assert response.status_code == 400


# -- Answering -----------------------------------------------------------------------------


def test_the_recruiter_answers_from_the_queue_through_the_outbox(db, web, sent):
    post(web, to=reply_to(sent))
    task = db.session.get(Task, only_reply().task_id)
    sign_in(web, sent["owner"])
    empty = web.post(f"/queue/replies/{task.id}/answer", data={"message": "  "})
    assert empty.status_code == 400
    assert "Write a short answer for the candidate." in empty.get_data(as_text=True)
    response = web.post(
        f"/queue/replies/{task.id}/answer", data={"message": "Feedback: strong on design."}
    )
    assert response.status_code == 302
    answer = db.session.scalar(sa.select(Notification).where(Notification.kind == "reply_answer"))
    assert answer.personal_note == "Feedback: strong on design." and answer.due_at <= clock.now()
    deliver([answer.id])
    db.session.expire_all()
    assert db.session.get(Notification, answer.id).state == NState.SENT
    mail = db.session.scalar(
        sa.select(MailboxMessage).where(MailboxMessage.notification_id == answer.id)
    )
    assert mail.to_email == "anna@example.test" and "strong on design" in mail.body_text
    assert db.session.get(Task, task.id).resolved_at is not None
    assert "row-reply" not in web.get("/queue").get_data(as_text=True)
    again = web.post(f"/queue/replies/{task.id}/answer", data={"message": "Twice"})
    assert again.status_code == 302
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.kind == "reply_answer")
        )
        == 1
    )


def test_another_recruiter_cannot_answer(db, web, sent):
    post(web, to=reply_to(sent))
    task = db.session.get(Task, only_reply().task_id)
    sign_in(web, f.user())
    assert web.post(f"/queue/replies/{task.id}/answer", data={"message": "hi"}).status_code == 404


def test_unanswered_past_the_sla_it_is_overdue_in_the_report_and_digest(db, web, sent, frozen):
    post(web, to=reply_to(sent))
    reply = only_reply()
    manager = f.user("manager")
    db.session.commit()
    frozen.advance(timedelta(hours=23))
    overdue.refresh()
    assert not _reply_items()
    frozen.advance(timedelta(hours=2))
    overdue.refresh()
    (item,) = _reply_items()
    assert item.application_id == reply.application_id
    assert item.owner_id == sent["owner"].id
    mail = digest.build_digest(manager)
    assert mail is not None and "Reply unanswered" in mail.text
    sign_in(web, manager)
    report = web.get("/reports/overdue").get_data(as_text=True)
    assert "Reply unanswered" in report
    assert worklist.counts(sent["owner"]).sections["replies"] == 1


def _reply_items():
    from app.models import OverdueItem

    return _db.session.scalars(
        sa.select(OverdueItem).where(OverdueItem.reason == "reply_unanswered")
    ).all()


def test_erasing_the_candidate_erases_what_they_wrote(db, web, sent):
    from app.privacy.services import erase_candidate

    address = reply_to(sent)  # the erasure deletes the mailbox's copy
    post(web, to=address, files=[("cv.pdf", b"%PDF", "application/pdf")])
    reply = only_reply()
    erase_candidate(db.session.get(type(sent["application"].candidate), reply.candidate_id))
    db.session.expire_all()
    reply = only_reply()
    assert (reply.body, reply.full_text, reply.from_email, reply.attachments) == (
        None,
        None,
        None,
        [],
    )
    # A later reply to the same message names nobody any more: recorded, owes nothing.
    post(web, to=address, text="Hello again", headers="Message-ID: <again@mail>\n")
    statuses = sorted(r.status for r in db.session.scalars(sa.select(InboundReply)))
    assert statuses == ["accepted", "unknown"]


def test_a_reply_owed_an_answer_is_pushed_to_the_ats_and_an_auto_reply_is_not(db, web, sent):
    """Outbound webhooks (issue 13): `candidate.replied` for a reply that owes an answer."""
    from app.models import WebhookDelivery
    from app.outbound import services as outbound

    admin = f.user(name="Ada Admin")
    endpoint = outbound.create_endpoint(
        url="https://ats.example.test/hooks",
        events=["candidate.replied"],
        description=None,
        actor=admin,
    )
    db.session.commit()
    assert post(web, to=reply_to(sent)).status_code == 200
    away = "Auto-Submitted: auto-replied\nMessage-ID: <away-1@mail>\n"
    assert post(web, to=reply_to(sent), subject="Out of Office", headers=away).status_code == 200
    assert outbound.collect() == 1
    assert outbound.collect() == 0
    (delivery,) = db.session.scalars(
        sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    ).all()
    reply = db.session.scalar(
        sa.select(InboundReply).where(InboundReply.status == ReplyStatus.ACCEPTED.value)
    )
    assert delivery.event_type == "candidate.replied"
    assert delivery.payload["data"] == {
        "reply_id": reply.id,
        "candidate_id": sent["application"].candidate_id,
        "application_id": sent["application"].id,
        "in_reply_to_notification_id": sent["notification"].id,
        "task_id": reply.task_id,
        "from_candidate": True,
    }
    assert "Anna" not in json.dumps(delivery.payload)  # ids only: the text stays with us
