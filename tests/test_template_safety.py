"""Staff-edited wording cannot exhaust a web or worker process, and its HTML is sanitised.

Found by a probe: `{% if first_name < 'z' * 200000000 %}` passed the check (Jinja's optimizer
had folded it before the check walked the tree) and took 8 s and ~1 GB to preview; 5,000
nested `{% if %}` was a 500; `<script>` and `javascript:` links went into candidates' emails.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from jinja2.exceptions import SecurityError

from app.message_templates import services as svc
from app.models import MessageTemplate, Notification, NState, OutcomeReason, Stage
from app.notifications import custom_templates as ct
from app.notifications.render import RenderError, render
from app.notifications.send import deliver
from app.pipeline import services
from tests import factories as f
from tests.web import Web

PASSWORD = "correct horse"


def _form(**overrides):
    data = {
        "subject": "Sorry, {{ first_name }}",
        "text_happened": "{{ client_name }} said no.",
        "text_next": "We keep looking.",
        "text_when": "This is the last message.",
        "html_happened": "",
        "html_next": "",
        "html_when": "",
    }
    return {**data, **overrides}


def _draft(**overrides) -> ct.Draft:
    from app.message_templates.forms import draft_from

    return draft_from(_form(**overrides))


@pytest.fixture
def manager(db):
    u = f.user("manager")
    db.session.commit()
    return u


@pytest.fixture
def web(client, manager):
    web = Web(client)
    assert web.post("/login", data={"email": manager.email, "password": PASSWORD}).status_code
    return web


def _rejected(db):
    a = f.application(stage=Stage.INTERVIEW, candidate_=f.candidate(name="Ada Lovelace"))
    db.session.commit()
    return services.move_stage(a, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED)


# -- what the check refuses, before anything is compiled -----------------------------------

AMPLIFIERS = [
    "{% if first_name < 'z' * 200000000 %}x{% endif %}",
    "{{ 'z' * 100 }}",
    "{{ first_name * 3 }}",
    "{% if 9 ** 9 ** 9 %}x{% endif %}",
    "{{ first_name ~ first_name }}",
    "{{ first_name + first_name }}",
    "{{ -first_name }}",
    "{{ first_name[0] }}",
    "{{ first_name[:1] }}",
    "{{ ['a', 'b'] }}",
    "{{ {'a': first_name} }}",
    "{{ first_name if client_name else agency_name }}",
    "{{ first_name | center(100000000) }}",
    "{{ 1 }}",
]


@pytest.mark.parametrize("source", AMPLIFIERS)
def test_expressions_that_could_grow_are_refused(source):
    problems = ct.check_source(source, "What happened")
    assert problems, source
    assert all(p.startswith("What happened: ") for p in problems)


def test_the_probes_payload_is_refused_by_the_preview(web):
    attack = "{% if first_name < 'z' * 200000000 %}x{% endif %}"
    body = web.post("/templates/offer/preview", json=_form(text_happened=attack)).get_json()
    assert body["ok"] is False
    assert "arithmetic" in body["errors"]["text_happened"][0]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% if first_name %}" * 5000 + "x" + "{% endif %}" * 5000, "at most 5,000 characters"),
        ("{%if first_name%}" * 180 + "x" + "{%endif%}" * 180, "nested too deeply"),
        ("{{ " + "(" * 2000 + "first_name" + ")" * 2000 + " }}", "nested too deeply"),
        ("{% if " + "not " * 1200 + "first_name %}x{% endif %}", "nested too deeply"),
        ("{{ " + "9" * 4400 + " }}", "cannot be read"),
    ],
)
def test_deep_or_huge_input_is_a_clear_error_not_a_500(web, source, expected):
    response = web.post("/templates/offer/preview", json=_form(text_happened=source))
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is False
    assert expected in " ".join(body["errors"]["text_happened"])


def test_the_subject_is_bounded_outside_the_form_too(web):
    body = web.post("/templates/offer/preview", json=_form(subject="x" * 301)).get_json()
    assert "at most 300 characters" in body["errors"]["subject"][0]


def test_ordinary_wording_still_passes(web):
    text = (
        '{% if reason == "budget_cut" and not interviewers %}The budget went.'
        "{% elif first_name < client_name %}{{ first_name | title }}{% else %}Sorry.{% endif %}"
    )
    body = web.post("/templates/offer/preview", json=_form(text_happened=text)).get_json()
    assert body["ok"], body


# -- the sandbox itself: a bound for whatever reaches a worker ------------------------------


def test_the_sandbox_refuses_arithmetic_when_a_template_runs():
    with pytest.raises(SecurityError, match="arithmetic"):
        ct.TEXT_ENV.from_string("{{ x * 3 }}").render(x="z")
    # Nor does compiling fold it: a constant expression is not evaluated at compile time.
    template = ct.TEXT_ENV.from_string("{% if 'z' * 200000000 %}x{% endif %}")
    with pytest.raises(SecurityError):
        template.render()


def test_a_row_saved_before_the_checks_is_never_compiled(db):
    # Written straight to the database, as the probe's manager could save it before.
    attack = "{% if first_name < 'z' * 20000000 %}x{% endif %}"
    db.session.add(
        MessageTemplate(
            kind="offer", subject="News", body_text=_draft(text_happened=attack).body_text
        )
    )
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)  # an update: leaves at once
    ct.invalidate()
    with pytest.raises(RenderError, match="fails the template checks.*save it again"):
        render(n)
    # The send job keeps the message owed and raises the render alert; nothing is lost.
    assert deliver([n.id])["unrendered"] == 1
    db.session.expire_all()
    assert db.session.get(Notification, n.id).state != NState.SENT.value


# -- HTML parts: sanitised on save, and again for rows saved before -------------------------

UNSAFE_HTML = (
    '<p onclick="steal()">Hi {{ first_name }}</p><script>alert(1)</script>'
    '<a href="javascript:alert(2)">details</a><style>p { display: none }</style>'
    '<img src="x" onerror="alert(3)">{% if first_name < "b" %}<em>early</em>{% endif %}'
)


def test_unsafe_html_is_removed_on_save(web, db):
    response = web.post("/templates/not_selected_client", data=_form(html_happened=UNSAFE_HTML))
    assert response.status_code == 302
    row = db.session.scalars(sa.select(MessageTemplate)).one()
    for bad in ("<script", "onclick", "javascript:", "<style", "onerror"):
        assert bad not in row.body_html, bad
    # The wording, merge fields and comparisons inside {% if %} survive untouched.
    assert "<p>Hi {{ first_name }}</p>" in row.body_html
    assert '{% if first_name < "b" %}<em>early</em>{% endif %}' in row.body_html
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "The HTML was tidied for email" in page


def test_rows_saved_before_are_sanitised_when_rendered(db):
    db.session.add(
        MessageTemplate(
            kind="not_selected_client",
            subject="News",
            body_text=_draft().body_text,
            body_html=ct.Draft("", {}, {"happened": UNSAFE_HTML}).body_html,
        )
    )
    n = _rejected(db)
    ct.invalidate()
    html = render(n).html
    assert "<p>Hi Ada</p>" in html
    for bad in ("alert(1)", "onclick", "javascript:", "onerror", "display: none"):
        assert bad not in html, bad


def test_merge_fields_inside_html_attributes_are_refused(manager):
    draft = _draft(html_happened='<a href="{{ recruiter_email }}">write to us</a>')
    with pytest.raises(ct.TemplateInvalid) as err:
        svc.save("offer", None, draft, manager)
    assert "not inside an HTML tag" in err.value.errors["html_happened"][0]


# -- previews are rate-limited per user ---------------------------------------------------


@pytest.mark.app_config(TEMPLATE_PREVIEWS_PER_MINUTE=3)
def test_previews_are_limited_per_user(web, client, make_app, db):
    for _ in range(3):
        assert web.post("/templates/offer/preview", json=_form()).get_json()["ok"]
    refused = web.post("/templates/offer/preview", json=_form())
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Too many previews" in refused.get_json()["message"]
    # Another user has their own allowance.
    other = f.user("recruiter")
    db.session.commit()
    second = Web(make_app().test_client())
    second.post("/login", data={"email": other.email, "password": PASSWORD})
    assert second.post("/templates/offer/preview", json=_form()).get_json()["ok"]
