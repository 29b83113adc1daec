"""What a fan-out keeps of the emails it sent: the layout its emails shared, once, and each
email's own values; read back, every email is exactly what the provider delivered."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db as _db
from app.models import EmailLayout, MailboxMessage, Notification, NState, Stage
from app.notifications import layouts
from app.notifications.backends import SharedBody
from app.notifications.send import deliver
from app.pipeline import services
from app.privacy import services as privacy
from devtools.sendgrid_stub import SendGridStub
from tests import factories as f

# Hostile names: every character HTML escaping changes, and a stray tag.
NAMES = (
    "Carol Lead",
    'Zoë<b>&"O\'Neil"</b> Smith',
    "Bob<script>alert(1)</script>&Ann Jones",
    "-cl0123456789abcdeft0- Dana",  # a first name that looks like a tag: kept as typed
    "Eve Plain",
)


def _position(names=NAMES):
    position = f.position(title="Platform Engineer")
    apps = [
        f.application(position_=position, candidate_=f.candidate(name=name), stage=Stage.INTERVIEW)
        for name in names
    ]
    _db.session.commit()
    return position, apps


def _sent(ids) -> list[Notification]:
    _db.session.expire_all()
    return _db.session.scalars(
        sa.select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)
    ).all()


def _layout_count() -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(EmailLayout))


def test_a_fanout_keeps_one_layout_and_reads_back_what_the_provider_delivered(app, db):
    with SendGridStub(api_key="SG.test") as stub:
        app.config.update(
            EMAIL_BACKEND="sendgrid", SENDGRID_API_KEY="SG.test", SENDGRID_API_HOST=stub.url
        )
        position, _ = _position()
        ids = services.close_position(
            position, actor=None, status="cancelled", reason="budget_cut"
        )["notification_ids"]
        with clock.frozen(clock.now() + timedelta(hours=1)):  # after the undo window
            assert deliver(ids)["sent"] == len(NAMES)
        delivered = {int(m["notification_id"]): m for m in stub.messages()}
        assert stub.stats()["requests"] == 1  # one layout, one request
    rows = _sent(ids)
    assert {n.state for n in rows} == {NState.SENT.value}
    # One layout for the five (the first, rendered in full, joined the rest of its shape).
    assert _layout_count() == 1
    assert {n.layout_id for n in rows} == {_db.session.scalar(sa.select(EmailLayout.id))}
    for n in rows:
        got = delivered[n.id]
        assert (n.stored_text, n.stored_html) == (None, None)  # no whole bodies kept
        assert n.fills
        assert (n.subject, n.body_text, n.body_html) == (got["subject"], got["text"], got["html"])
        assert n.candidate.name.split()[0] in n.body_text  # their own first name
    dana = next(n for n in rows if n.candidate.name.endswith("Dana"))
    assert "-cl0123456789abcdeft0-" in dana.body_text
    # What is kept per email: its own values, a small part of its whole bodies.
    own = sum(len(json.dumps(n.fills)) for n in rows)
    whole = sum(len(n.body_text) + len(n.body_html) for n in rows)
    assert own * 5 < whole


def test_the_same_layout_from_another_job_is_stored_once(app, db):
    position, _ = _position(names=("Ann One", "Ben Two", "Cy Three", "Di Four"))
    ids = services.close_position(position, actor=None, status="cancelled", reason="budget_cut")[
        "notification_ids"
    ]
    with clock.frozen(clock.now() + timedelta(hours=1)):
        assert deliver(ids[:2])["sent"] == 2
        assert deliver(ids[2:])["sent"] == 2
    rows = _sent(ids)
    assert _layout_count() == 1
    assert len({n.layout_id for n in rows}) == 1
    mailbox = {
        m.notification_id: m
        for m in db.session.scalars(sa.select(MailboxMessage)).all()  # what each received
    }
    for n in rows:
        assert (n.body_text, n.body_html) == (mailbox[n.id].body_text, mailbox[n.id].body_html)


def test_erasing_a_candidate_clears_their_values_and_the_layout_once_nobody_uses_it(app, db):
    position, apps = _position(names=("Ann One", "Ben Two"))
    ids = services.close_position(position, actor=None, status="cancelled", reason="budget_cut")[
        "notification_ids"
    ]
    with clock.frozen(clock.now() + timedelta(hours=1)):
        assert deliver(ids)["sent"] == 2
    ann, ben = _sent(ids)
    ben_text, ben_html = ben.body_text, ben.body_html
    ann_text = ann.body_text
    assert ann.layout_id == ben.layout_id is not None
    exported = privacy.export_candidate(apps[0].candidate)
    assert [m["body_text"] for m in exported["messages"] if m["id"] == ann.id] == [ann_text]

    privacy.erase_candidate(apps[0].candidate)
    ann, ben = _sent(ids)
    assert (ann.layout_id, ann.fills, ann.body_text, ann.body_html) == (None, None, None, None)
    assert "Ann" not in json.dumps(ann.context)
    assert _layout_count() == 1  # Ben's email still refers to it
    assert (ben.body_text, ben.body_html) == (ben_text, ben_html)

    privacy.erase_candidate(apps[1].candidate)
    assert _layout_count() == 0


def test_bodies_set_directly_replace_a_layout_and_keep_the_other_part(app, db):
    position, _ = _position(names=("Ann One", "Ben Two"))
    ids = services.close_position(position, actor=None, status="cancelled", reason="budget_cut")[
        "notification_ids"
    ]
    with clock.frozen(clock.now() + timedelta(hours=1)):
        deliver(ids)
    ann = _sent(ids)[0]
    html = ann.body_html
    ann.body_text = "replaced"
    db.session.commit()
    ann = _sent(ids)[0]
    assert (ann.layout_id, ann.fills, ann.body_text, ann.body_html) == (
        None,
        None,
        "replaced",
        html,
    )


def test_a_tag_without_a_value_and_a_value_that_looks_like_a_tag_are_kept_as_they_are():
    tag, other = "-cl0123456789abcdeft0-", "-cl0123456789abcdeft1-"
    fills = {tag: f"x{other}y"}
    assert EmailLayout.fill(f"a {tag} b {other}", fills) == f"a x{other}y b {other}"
    assert EmailLayout.fill(None, fills) is None


def test_an_erasure_never_deletes_a_layout_a_send_job_is_taking_up(app, db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: the two transactions never overlap")
    position, _ = _position(names=("Ann One", "Ben Two"))
    ids = services.close_position(position, actor=None, status="cancelled", reason="budget_cut")[
        "notification_ids"
    ]
    with clock.frozen(clock.now() + timedelta(hours=1)):
        deliver(ids)
    layout = db.session.get(EmailLayout, _sent(ids)[0].layout_id)
    shared = SharedBody(key="again", text=layout.body_text, html=layout.body_html)
    layout_id = layout.id
    # Both emails lose it, as if erased: the layout is unused ...
    db.session.execute(
        sa.update(Notification).where(Notification.id.in_(ids)).values(layout_id=None)
    )
    db.session.commit()
    stored, go_on, seen = threading.Event(), threading.Event(), {}

    def send_job():  # ... when a send job of the same layout finds it again
        with app.app_context():
            seen["job"] = layouts.store([shared])["again"]
            stored.set()
            go_on.wait(10)
            _db.session.execute(
                sa.update(Notification).where(Notification.id == ids[0]).values(layout_id=layout_id)
            )
            _db.session.commit()
            _db.session.remove()

    def erasure():
        with app.app_context():
            seen["deleted"] = layouts.forget_unused({layout_id})
            _db.session.commit()
            _db.session.remove()

    job = threading.Thread(target=send_job)
    job.start()
    assert stored.wait(10)
    eraser = threading.Thread(target=erasure)
    eraser.start()
    eraser.join(1.0)
    waited = eraser.is_alive()  # the erasure waits for the job's transaction
    go_on.set()
    job.join(10)
    eraser.join(10)
    assert seen["job"] == layout_id
    assert waited
    assert seen["deleted"] == 0
    db.session.expire_all()
    assert db.session.get(EmailLayout, layout_id) is not None
    assert _sent(ids)[0].body_text  # the job's email reads back whole
