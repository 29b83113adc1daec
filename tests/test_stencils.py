"""Fan-out rendering from stencils: one layout per shape of email, each candidate's own values
put in. Nothing of one candidate may ever reach another's email."""

from __future__ import annotations

import html as htmllib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from markupsafe import escape

from app import clock
from app.models import Application, MessageTemplate, Notification, NState, Stage
from app.notifications import custom_templates, links
from app.notifications.prepare import _load, prepare
from app.notifications.render import render_email
from app.notifications.send import claim, deliver
from app.notifications.sendgrid_backend import plan_requests
from app.notifications.stencils import Stencils, plain_uses_only
from app.pipeline import services
from tests import factories as f

# Every character autoescape changes, and a stray tag, in the first name too (the greeting).
ALICE = 'Zoë<b>&"O\'Neil"</b> Smith'
BOB = "Bob<script>alert(1)</script>&Ann Jones"
# Rendered first, in full: the stencil is then made from Alice's email and filled for Bob.
CAROL = "Carol Lead"


def first(name: str) -> str:
    return name.split()[0]


@pytest.fixture
def one_second():
    """A status link carries the second it was signed: tests comparing renders, or a render
    with a link they sign themselves, hold the clock still."""
    with clock.frozen(clock.now()) as c:
        yield c


def _candidates(db, names=(CAROL, ALICE, BOB), client=None):
    position = f.position(client_=client)
    apps = [
        f.application(position_=position, candidate_=f.candidate(name=name), stage=Stage.INTERVIEW)
        for name in names
    ]
    db.session.commit()
    return position, apps


def _owed(db, position_id) -> list[Notification]:
    ids = db.session.scalars(
        sa.select(Notification.id)
        .join(Application, Application.id == Notification.application_id)
        .where(Application.position_id == position_id)
        .order_by(Notification.id)
    ).all()
    return _load(list(ids))


def _assert_only_own(rendered, own: str, other: str, *, stencil: bool = True) -> None:
    """`own`, and nothing of `other`, in the text as is and in the HTML escaped."""
    assert own in rendered.text and other not in rendered.text
    assert other not in rendered.subject
    decoded = htmllib.unescape(rendered.html)
    assert own in decoded and other not in decoded
    assert own not in rendered.html and "<script>" not in rendered.html  # never unescaped
    if stencil:  # put in exactly as Jinja's autoescape writes it
        assert str(escape(own)) in rendered.html


def test_fanout_emails_carry_only_their_own_candidate(db, one_second):
    position, apps = _candidates(db)
    services.close_position(position, actor=None, status="cancelled", reason="budget_cut")
    owed = _owed(db, position.id)
    assert [n.candidate.name for n in owed] == [CAROL, ALICE, BOB]

    stencils = Stencils()
    carol, alice, bob = (render_email([n], stencils) for n in owed)

    # One stencil, made from Alice's email, served hers and Bob's: the cache was in the way.
    assert (stencils.full, stencils.made, stencils.hits) == (1, 1, 2)
    assert carol.shared is None and alice.shared is bob.shared is not None
    _assert_only_own(alice, first(ALICE), first(BOB))
    _assert_only_own(bob, first(BOB), first(ALICE))
    assert f"Hello {first(ALICE)}," in alice.text and f"Hello {first(BOB)}," in bob.text
    # Each has their own signed status link, and only theirs.
    for n, mine, theirs in ((owed[1], alice, bob), (owed[2], bob, alice)):
        link = links.status_url(n.candidate)
        assert link in mine.text and link in mine.html
        assert link not in theirs.text and link not in theirs.html
    # The same email as a full render: text and subject to the byte, HTML once entities
    # are decoded (CSS inlining re-serialises them, the stencil keeps markupsafe's).
    for n, got in zip(owed[1:], (alice, bob), strict=True):
        full = render_email([n])
        assert (got.subject, got.text) == (full.subject, full.text)
        assert htmllib.unescape(got.html) == htmllib.unescape(full.html)
        assert got.fills
    # What the provider gets: the shared layout has no one's values, the fills only theirs.
    assert "Zoë" not in alice.shared.html + alice.shared.text
    assert "Bob" not in alice.shared.html + alice.shared.text
    assert all("Zoë" not in v for v in bob.fills.values())
    assert any(first(BOB) == v for v in bob.fills.values())


def test_a_shape_seen_once_is_rendered_once(db):
    """A small mixed job (one email per position) lays out nothing twice; a shape that
    comes again gets a stencil, checked against its first email, which then joins it."""
    singles = [_candidates(db, names=(f"Solo {i} Person",))[0] for i in range(3)]
    pair, _ = _candidates(db, names=(ALICE, BOB))
    for position in (*singles, pair):
        services.close_position(position, actor=None, status="cancelled", reason="budget_cut")
    stencils = Stencils()
    owed = [n for p in (*singles, pair) for n in _owed(db, p.id)]
    rendered = [render_email([n], stencils) for n in owed]
    assert (stencils.full, stencils.made, stencils.hits) == (4, 1, 1)
    alice, bob = owed[3:]
    assert rendered[3].shared is None  # rendered in full before its shape came again
    assert list(stencils.upgrades) == [alice.id]
    shared, fills = stencils.upgrades[alice.id]
    assert shared is rendered[4].shared and set(fills) == set(rendered[4].fills)
    assert any(first(ALICE) == v for v in fills.values())
    assert all(first(BOB) not in v for v in fills.values())


def test_the_first_email_of_a_shape_goes_with_the_rest_of_it(db):
    singles = [_candidates(db, names=(f"Solo {i} Person",))[0] for i in range(2)]
    pair, _ = _candidates(db, names=(ALICE, BOB))
    ids = [
        nid
        for p in (*singles, pair)
        for nid in services.close_position(p, actor=None, status="cancelled", reason="budget_cut")[
            "notification_ids"
        ]
    ]
    with clock.frozen(clock.now() + timedelta(hours=1)):  # after the undo window
        plan = prepare(claim(ids, clock.now()), clock.now())
    by_name = {p.message.to_name: p.message for p in plan.ready}
    alice, bob = by_name[ALICE], by_name[BOB]
    assert alice.shared is not None and alice.shared is bob.shared  # one request for both
    assert by_name["Solo 0 Person"].shared is None and by_name["Solo 1 Person"].shared is None
    assert plan_requests([alice, bob]) == [[0, 1]]
    # What the provider makes of Alice's fills is the email rendered for her in full.
    filled = alice.shared.text
    for tag, value in alice.fills.items():
        filled = filled.replace(tag, value)
    assert filled == alice.text


def test_whole_fanout_records_each_candidate_their_own_email(db):
    position, apps = _candidates(db)
    result = services.close_position(position, actor=None, status="cancelled", reason="budget_cut")
    with clock.frozen(clock.now() + timedelta(hours=1)):  # after the undo window
        assert deliver(result["notification_ids"])["sent"] == 3
    rows = db.session.scalars(
        sa.select(Notification).where(Notification.id.in_(result["notification_ids"]))
    ).all()
    by_name = {n.candidate.name: n for n in rows}
    assert {n.state for n in rows} == {NState.SENT.value}
    for own, other in ((ALICE, BOB), (BOB, ALICE)):
        n = by_name[own]
        assert first(own) in n.body_text and first(other) not in n.body_text
        assert str(escape(first(own))) in n.body_html
        assert first(other) not in n.body_html
        assert str(escape(first(other))) not in n.body_html


def _override(db, client, subject: str, happened: str) -> None:
    draft = custom_templates.Draft(
        subject=subject,
        text={"happened": happened, "next": "Nothing to do.", "when": "This is the last one."},
        html={},
    )
    db.session.add(
        MessageTemplate(
            kind="position_cancelled",
            client_id=client.id,
            subject=draft.subject,
            body_text=draft.body_text,
            body_html=draft.body_html,
        )
    )
    db.session.commit()
    custom_templates.invalidate()


def test_an_override_printing_full_names_still_keeps_each_to_their_own(db, one_second):
    client = f.client()
    position, apps = _candidates(db, client=client)
    _override(db, client, "News for {{ candidate_name }}", "Dear {{ candidate_name }}, sorry.")
    services.close_position(position, actor=None, status="cancelled", reason="budget_cut")

    stencils = Stencils()
    owed = _owed(db, position.id)
    _, alice, bob = (render_email([n], stencils) for n in owed)
    assert (stencils.full, stencils.made, stencils.hits) == (1, 1, 2)
    _assert_only_own(alice, ALICE, BOB)
    _assert_only_own(bob, BOB, ALICE)
    assert alice.subject == f"News for {ALICE}" and bob.subject == f"News for {BOB}"
    for n, got in zip(owed[1:], (alice, bob), strict=True):
        full = render_email([n])
        assert (got.subject, got.text) == (full.subject, full.text)
        assert htmllib.unescape(got.html) == htmllib.unescape(full.html)


def test_an_override_that_filters_a_personal_value_is_rendered_in_full(db):
    client = f.client()
    position, apps = _candidates(db, client=client)
    _override(
        db,
        client,
        "{{ position_title }}: news for {{ first_name|upper }}",
        "Dear {{ first_name|upper }}, the role is cancelled.",
    )
    services.close_position(position, actor=None, status="cancelled", reason="budget_cut")

    stencils = Stencils()
    _, alice, bob = (render_email([n], stencils) for n in _owed(db, position.id))
    assert stencils.hits == 0 and stencils.full == 3  # `upper` defeats a placeholder
    up_alice, up_bob = first(ALICE).upper(), first(BOB).upper()
    assert f"Dear {up_alice}," in alice.text and f"Dear {up_bob}," in bob.text
    assert alice.subject.endswith(up_alice) and bob.subject.endswith(up_bob)
    _assert_only_own(alice, up_alice, up_bob, stencil=False)


def test_client_overrides_and_built_in_wording_never_share_a_stencil(db):
    with_override, plain = f.client(), f.client()
    p1, _ = _candidates(db, names=("Ann One", "Ann Two"), client=with_override)
    p2, _ = _candidates(db, names=("Ben One", "Ben Two"), client=plain)
    p2.title, p2.owner_id = p1.title, p1.owner_id
    _override(
        db, with_override, "Custom: {{ position_title }}", "Custom wording for {{ first_name }}."
    )
    for p in (p1, p2):
        services.close_position(p, actor=None, status="cancelled", reason="budget_cut")

    stencils = Stencils()
    custom = [render_email([n], stencils) for n in _owed(db, p1.id)]
    built_in = [render_email([n], stencils) for n in _owed(db, p2.id)]
    assert (stencils.full, stencils.made, stencils.hits) == (2, 2, 2)
    assert [r.text.count("Custom wording for Ann") for r in custom] == [1, 1]
    assert all("Custom" not in r.text and "Custom" not in r.subject for r in built_in)
    assert "Custom wording for Ann." in custom[0].text and "Ben" not in custom[0].text


@pytest.mark.parametrize(
    "source, plain",
    [
        ("Hello {{ first_name }}, {{ item.candidate_name }} {{ items[0]['status_url'] }}", True),
        ("{% if unsubscribe_url %}{{ unsubscribe_url }}{% endif %}", True),
        ("{{ first_name|upper }}", False),
        ("{% if first_name == 'Bob' %}hi{% endif %}", False),
        ("{{ items | map(attribute='application_id') | list | length }}", False),
        ("{% set x = status_url %}{{ x }}", False),
        ("{{ first_name ~ '!' }}", False),
    ],
)
def test_which_uses_of_personal_values_a_stencil_can_stand_for(app, source, plain):
    from app.notifications.stencils import PERSONAL

    assert plain_uses_only(app.jinja_env.parse(source), PERSONAL) is plain


def test_built_in_templates_only_print_personal_values(app):
    from app.notifications.kinds import KINDS
    from app.notifications.stencils import LAYOUTS, PERSONAL

    env = app.jinja_env
    names = [*LAYOUTS, *(f"email/kinds/{kind}.txt" for kind in KINDS)]
    for name in names:
        source = env.loader.get_source(env, name)[0]
        assert plain_uses_only(env.parse(source), PERSONAL), name
