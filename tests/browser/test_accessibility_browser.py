"""axe-core (WCAG 2.0/2.1, A and AA rules) in a real Chromium on every staff page, the
candidate's status page and the email HTML: no serious or critical violation anywhere.

Each page's result is printed (`pytest -s` shows it) so the figures can be quoted.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe, AxeResults

from app.extensions import db
from app.models import Application, Candidate, Client, Notification, Position, Stage, User
from app.notifications import links
from app.notifications.render import render
from app.seed import seed_demo
from tests import world
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.app_config(DEV_MAILBOX_ENABLED=True)]

WCAG = {
    "resultTypes": ["violations"],
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    # Experimental in axe-core, so off unless asked for: a visible label that the accessible
    # name does not contain (WCAG 2.5.3, the board's "Move to…" buttons).
    "rules": {"label-content-name-mismatch": {"enabled": True}},
}
BLOCKING = ("serious", "critical")


# axe-core as the package ships it. The tab loads it with every page (below): handing the
# 570 kB script to each page over the DevTools pipe cost ~0.15 s a page. Only the top
# document: the pages' frames are sandboxed emails, which run no script (the email HTML is
# checked on its own).
AXE_JS = Axe().axe_script
AXE_ON_EVERY_PAGE = f"if (window === window.top) {{\n{AXE_JS}\n}}"


def _check(page, label: str, found: dict, *, inject: bool = False) -> None:
    if inject or not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS)
    results = AxeResults(page.evaluate("options => axe.run(options)", WCAG))
    violations = results.response["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING]
    found[label] = blocking
    summary = ", ".join(f"{v['id']} ({v['impact']}, {len(v['nodes'])})" for v in violations)
    print(f"axe {label}: {len(blocking)} serious/critical; all: {summary or 'none'}")


# What a screen reader's user navigates by, beyond axe's WCAG rules: one h1 and headings
# that go down one level at a time; each progress bar named, with its value, and beside a
# live region that says in words how far it has got.
STRUCTURE_JS = """() => {
  const out = [];
  const shown = (el) => el.getClientRects().length > 0 || !!el.closest('.visually-hidden');
  const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(shown);
  const ones = headings.filter((h) => h.tagName === 'H1').length;
  if (ones !== 1) out.push(`${ones} h1 headings`);
  let previous = 0;
  for (const h of headings) {
    const level = Number(h.tagName[1]);
    if (previous && level > previous + 1) {
      out.push(`h${previous} then h${level} (${h.textContent.trim().slice(0, 40)})`);
    }
    previous = level;
  }
  for (const bar of document.querySelectorAll('[role=progressbar]')) {
    if (!bar.getAttribute('aria-label') && !bar.getAttribute('aria-labelledby')) {
      out.push('a progress bar without a name');
    }
    if (!bar.hasAttribute('aria-valuenow')) out.push('a progress bar without aria-valuenow');
    const box = bar.closest('.card, section') || bar.parentElement;
    if (!box.querySelector('[aria-live], [role=status]')) {
      out.push('a progress bar without a live region beside it');
    }
  }
  return out;
}"""


def _structure(page, label: str, found: dict, *, staff: bool = True, banner: bool = True) -> None:
    """Landmarks (banner, main, and the staff navigation), headings, progress bars. The sign-in
    page is a lone form: its main landmark is all there is."""
    problems = list(page.evaluate(STRUCTURE_JS))
    roles = ("banner", "main") if banner else ("main",)
    counts = {role: page.get_by_role(role).count() for role in roles}
    for role, count in counts.items():
        if count != 1:
            problems.append(f"{count} {role} landmarks")
    if staff and page.get_by_role("navigation", name="Main").count() != 1:
        problems.append("no main navigation landmark")
    if problems:
        found[label] = problems


def _describe(found: dict) -> str:
    lines = []
    for label, violations in found.items():
        for v in violations:
            for node in v["nodes"][:8]:
                why = " ".join((node.get("failureSummary") or "").split())[:300]
                where = " ".join(map(str, node["target"]))
                lines.append(f"{label}: {v['id']} ({v['impact']}) {where}: {why}")
    return "\n".join(lines)


@pytest.fixture
def world_ids(app):
    seed_demo()
    team = world.staff()
    rec = world.records(team.admin)
    admin_email = team.admin.email
    # An application still in the pipeline, for the move and bulk pages: opened without a
    # stage and a selection they only send the user back to the board.
    active = db.session.scalars(
        sa.select(Application)
        .where(Application.stage.in_([Stage.SUBMITTED, Stage.CLIENT_REVIEW, Stage.OFFER]))
        .order_by(Application.id)
        .limit(1)
    ).one()
    ids = {
        "active_application": active.id,
        "active_position": active.position_id,
        "move_to": Stage.OFFER if active.stage != Stage.OFFER else Stage.CLIENT_REVIEW,
        "position": db.session.scalar(sa.select(sa.func.min(Position.id))),
        "client": db.session.scalar(sa.select(sa.func.min(Client.id))),
        "candidate": db.session.scalar(sa.select(sa.func.min(Candidate.id))),
        "application": db.session.scalar(sa.select(sa.func.min(Application.id))),
        "import": rec.import_id,
        "mailbox": rec.mailbox_id,
        "token": rec.token,
        "decision_token": rec.decision_token,
    }
    demo = db.session.scalar(sa.select(Candidate).where(Candidate.name == "Amelia Hart"))
    ids["demo_token"] = links.status_token(demo) if demo else rec.token
    sent = (
        db.session.scalars(
            sa.select(Notification).where(Notification.kind == "not_selected_client").limit(1)
        ).first()
        or db.session.scalars(sa.select(Notification).limit(1)).first()
    )
    ids["email_html"] = render(sent).html
    admin = db.session.get(User, team.admin.id)
    assert admin is not None
    db.session.commit()
    return admin_email, ids


# Pages whose address is only a way in: /reports/ opens the overdue report.
REDIRECTS = {"reports"}

STAFF_PAGES = (
    ("dashboard", "/"),
    ("candidates", "/candidates"),
    ("candidate profile", "/candidates/{candidate}"),
    ("candidate form (new)", "/candidates/new"),
    ("candidate form (edit)", "/candidates/{candidate}/edit"),
    ("my queue", "/queue"),
    ("clients", "/clients"),
    ("client", "/clients/{client}"),
    ("client form", "/clients/new"),
    ("client form (edit)", "/clients/{client}/edit"),
    ("positions", "/positions"),
    ("position form", "/positions/new"),
    ("position form (edit)", "/positions/{position}/edit"),
    ("board", "/positions/{position}"),
    ("move form (preview)", "/applications/{active_application}/move?to={move_to}"),
    ("move form (reason)", "/applications/{active_application}/move?to=rejected"),
    ("interview form", "/applications/{application}/interview"),
    (
        "bulk review (move)",
        "/positions/{active_position}/bulk?action=move&stage={move_to}&application_ids={active_application}",
    ),
    (
        "bulk review (reject)",
        "/positions/{active_position}/bulk?action=reject&application_ids={active_application}",
    ),
    ("imports (new)", "/imports/new"),
    ("import preview", "/imports/{import}"),
    ("templates", "/templates"),
    ("template editor", "/templates/not_selected_client"),
    ("reports", "/reports/"),
    ("overdue report", "/reports/overdue"),
    ("application report", "/reports/applications/{application}"),
    ("SLA report", "/reports/sla"),
    ("delivery report", "/reports/delivery"),
    ("engine report", "/reports/engine"),
    ("digest settings", "/reports/digest"),
    ("audit log", "/admin/audit/"),
    ("privacy", "/admin/privacy/"),
    ("privacy (candidate)", "/admin/privacy/candidates/{candidate}"),
    ("dev mailbox", "/dev/mailbox/"),
    ("dev mailbox message", "/dev/mailbox/{mailbox}"),
    ("my profile", "/profile"),
    ("API tokens", "/profile/tokens"),
    ("users", "/admin/users"),
    ("new user", "/admin/users/new"),
    ("webhook endpoints", "/admin/webhooks/"),
    ("API docs", "/api/docs"),
)


def test_no_serious_or_critical_violation_anywhere(live_server, tab, world_ids):
    email, ids = world_ids
    page = tab
    page.context.add_init_script(script=AXE_ON_EVERY_PAGE)
    found: dict = {}

    structure: dict = {}

    page.goto(f"{live_server}/login")
    _check(page, "sign in", found)
    _structure(page, "sign in", structure, staff=False, banner=False)
    page.goto(f"{live_server}/status/link")
    _check(page, "status link request", found)
    _structure(page, "status link request", structure, staff=False)
    for label, token in (("status page", ids["demo_token"]), ("status page (2)", ids["token"])):
        page.goto(f"{live_server}/status/{token}")
        _check(page, label, found)
        _structure(page, label, structure, staff=False)
    page.goto(f"{live_server}/status/not-a-token")
    _check(page, "status link problem", found)
    _structure(page, "status link problem", structure, staff=False)
    page.goto(f"{live_server}/decide/{ids['decision_token']}")
    _check(page, "client decision page", found)
    _structure(page, "client decision page", structure, staff=False)
    page.set_content(ids["email_html"])  # the same document, written anew: load axe again
    _check(page, "email HTML", found, inject=True)

    sign_in(page, live_server, email, world.PASSWORD)
    for label, path in STAFF_PAGES:
        url = live_server + path.format(**ids)
        response = page.goto(url)
        assert response is not None and response.status < 400, (label, response and response.status)
        # Checked where it was meant to be: a page that sends the user elsewhere (back to the
        # board with a warning) would leave itself unchecked.
        assert page.url == url or label in REDIRECTS, (label, page.url)
        _check(page, label, found)
        _structure(page, label, structure)

    problems = _describe(found)
    assert not problems, "serious or critical accessibility violations:\n" + problems
    assert not structure, "landmarks, headings or progress bars:\n" + "\n".join(
        f"{label}: {'; '.join(p)}" for label, p in structure.items()
    )
