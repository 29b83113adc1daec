"""The audit log: staff actions that matter are recorded where they happen, admins read them,
and nothing in the app (nor, on PostgreSQL, in the database) can change or remove an entry."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import audit, clock
from app.cli import users_cli
from app.extensions import db as _db
from app.models import AuditEntry, OutcomeReason, Stage
from app.notifications import outbox
from app.pipeline import services
from tests import factories as f
from tests.web import Web, sign_in


def entries(action=None) -> list[AuditEntry]:
    _db.session.expire_all()
    query = sa.select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(_db.session.scalars(query))


@pytest.fixture
def admin(db):
    u = f.user("admin", name="Dana Admin")
    db.session.commit()
    return u


@pytest.fixture
def manager(db):
    u = f.user("manager", name="Marcus Manager")
    db.session.commit()
    return u


def web_as(make_app, user) -> Web:
    return sign_in(Web(make_app().test_client()), user)


# -- recorded where it happens -------------------------------------------------------------


def test_template_edits_are_recorded(make_app, manager):
    web = web_as(make_app, manager)
    form = {
        "subject": "Sorry, {{ first_name }}",
        "text_happened": "{{ client_name }} said no.",
        "text_next": "We keep looking.",
        "text_when": "This is the last message.",
    }
    assert web.post("/templates/not_selected_client", data=form).status_code == 302
    assert web.post("/templates/not_selected_client/reset").status_code == 302
    saved, reset = entries()
    assert (saved.action, saved.actor_id) == ("template.saved", manager.id)
    assert saved.target == "template not_selected_client (agency-wide)"
    assert saved.detail == "subject: Sorry, {{ first_name }}"
    assert saved.origin.startswith("web, ")
    assert (reset.action, reset.actor_id) == ("template.reset", manager.id)


def test_an_exemption_is_recorded_with_its_reason(db, manager):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = outbox.owe(a, "still_deciding")
    db.session.commit()
    services.exempt(n, actor=manager, reason="told them in person")
    (entry,) = entries("message.exempted")
    assert entry.actor_id == manager.id
    assert entry.target == f"message {n.id}" and entry.detail == "told them in person"


def test_privacy_actions_are_recorded_without_personal_data(db, make_app, admin):
    c = f.candidate(name="Amelia Hart", email="amelia@example.com")
    f.application(candidate_=c, stage=Stage.SUBMITTED)
    db.session.commit()
    web = web_as(make_app, admin)
    assert web.post(f"/admin/privacy/candidates/{c.id}/export").status_code == 200
    web.post(f"/admin/privacy/candidates/{c.id}/revoke")
    web.post(f"/admin/privacy/candidates/{c.id}/erase", data={"confirm": "ERASE"})
    actions = [(e.action, e.actor_id, e.target) for e in entries()]
    assert actions == [
        ("candidate.exported", admin.id, f"candidate {c.id}"),
        ("candidate.links_revoked", admin.id, f"candidate {c.id}"),
        ("candidate.erased", admin.id, f"candidate {c.id}"),
    ]
    assert "1 application(s) withdrawn" in entries("candidate.erased")[0].detail
    text = " ".join(f"{e.target} {e.detail}" for e in entries())
    assert "Amelia" not in text and "amelia@" not in text


def test_a_report_export_is_recorded_with_its_filters(make_app, manager):
    web = web_as(make_app, manager)
    response = web.get("/reports/overdue.csv?reason=silent")
    assert response.status_code == 200
    response.close()
    (entry,) = entries("report.exported")
    assert entry.actor_id == manager.id and entry.detail == "reason=silent"


def test_staff_account_changes_from_the_command_line_are_recorded(runner, db):
    email = "pat@agency.test"
    steps = [
        ["create", "--name", "Pat Doe", "--email", email, "--role", "recruiter",
         "--password", "long enough secret"],
        ["set-role", email, "manager"],
        ["deactivate", email],
        ["activate", email],
        ["set-password", email, "--password", "another long secret"],
    ]  # fmt: skip
    for args in steps:
        result = runner.invoke(users_cli, args)
        assert result.exit_code == 0, result.output
    got = [(e.action, e.actor_id, e.detail) for e in entries()]
    assert got == [
        ("user.created", None, "role: recruiter"),
        ("user.role_changed", None, "recruiter → manager"),
        ("user.deactivated", None, None),
        ("user.activated", None, None),
        ("user.password_set", None, None),
    ]
    assert all(e.target.endswith(f"<{email}>") for e in entries())
    assert all(e.origin.startswith("command line") for e in entries())


def test_unknown_actions_are_refused(db):
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(None, "user.deleted", "user 1")


# -- the admins' page ----------------------------------------------------------------------


def _fill(db, actor, n, action="candidate.exported"):
    start = clock.now() - timedelta(hours=1)
    for i in range(n):
        with clock.frozen(start + timedelta(seconds=i)):
            audit.record(actor, action, f"candidate {i}")
    db.session.commit()


def test_admins_read_it_filtered_and_paginated(db, make_app, admin, manager):
    _fill(db, manager, 55)
    _fill(db, None, 2, action="user.deactivated")
    web = web_as(make_app, admin)
    page = web.get("/admin/audit/").get_data(as_text=True)
    assert "1–50 of 57" in page
    assert page.index("Deactivated a staff account") < page.index("Exported a candidate")
    second = web.get("/admin/audit/?page=2").get_data(as_text=True)
    assert "candidate 0<" in second and "candidate 54<" not in second

    by_cli = web.get("/admin/audit/?actor=cli").get_data(as_text=True)
    assert "1–2 of 2" in by_cli and "Command line" in by_cli
    by_manager = web.get(f"/admin/audit/?actor={manager.id}&action=candidate.exported")
    assert "1–50 of 55" in by_manager.get_data(as_text=True)
    nothing = web.get("/admin/audit/?action=user.deactivated&actor=" + str(manager.id))
    assert "Nothing recorded for this filter" in nothing.get_data(as_text=True)
    # Nonsense filters are ignored, not errors.
    assert web.get("/admin/audit/?actor=99999999999999&action=nope").status_code == 200


@pytest.mark.parametrize("role", ["recruiter", "manager"])
def test_only_admins_read_it(db, make_app, role):
    _fill(db, None, 1)
    web = web_as(make_app, f.user(role))
    response = web.get("/admin/audit/")
    assert response.status_code == 403
    assert "candidate 0" not in response.get_data(as_text=True)


def test_the_app_has_no_way_to_edit_it(app):
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin/audit")]
    assert rules
    assert all(r.methods <= {"GET", "HEAD", "OPTIONS"} for r in rules)


# -- append-only ---------------------------------------------------------------------------


def test_the_session_refuses_to_change_or_delete_an_entry(db):
    _fill(db, None, 1)
    (entry,) = entries()
    entry.detail = "rewritten"
    with pytest.raises(audit.AuditLogReadOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(entries()[0])
    with pytest.raises(audit.AuditLogReadOnly):
        db.session.flush()
    db.session.rollback()
    for statement in (sa.update(AuditEntry).values(detail="x"), sa.delete(AuditEntry)):
        with pytest.raises(audit.AuditLogReadOnly):
            db.session.execute(statement)
        db.session.rollback()
    assert entries()[0].detail is None


def test_postgresql_refuses_update_and_delete_whoever_asks(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the trigger is PostgreSQL's; SQLite relies on the session's guard")
    _fill(db, None, 1)
    for sql in ("UPDATE audit_log SET detail = 'x'", "DELETE FROM audit_log"):
        with db.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as err:
            conn.execute(sa.text(sql))
        assert re.search("audit_log is append-only: (UPDATE|DELETE)", str(err.value))
    assert len(entries()) == 1


def test_an_action_and_its_entry_commit_or_roll_back_together(db, manager):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED)
    audit.record(manager, "message.exempted", n, "changed my mind")
    db.session.rollback()
    assert entries() == []
