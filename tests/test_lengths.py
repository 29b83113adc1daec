"""Every form field that is stored takes exactly what its column holds (issue 12, item 4):
a value as long as the column is saved, one character more is refused with a message and
nothing is written. Run on PostgreSQL, which enforces column lengths (SQLite does not).

The forms read their limits from the model columns (app.validators.fits), so these tests
fail if a form and its column disagree in either direction.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.models import (
    Application,
    Candidate,
    Client,
    Contact,
    Notification,
    Position,
)
from app.orm import max_length
from tests import world


@dataclass(frozen=True)
class Case:
    column: Any  # the model attribute the field is stored in
    role: str
    url: str  # formatted with the records
    form: dict  # ordinary values; "{value}" marks the field under test
    stored: Any  # (records) -> the stored value
    query: dict | None = None


def _note_of(kind: str):
    return lambda r: db.session.scalar(
        sa.select(Notification.personal_note)
        .where(Notification.application_id == r.application_id, Notification.kind == kind)
        .order_by(Notification.id.desc())
        .limit(1)
    )


def _contact(r):
    return db.session.scalar(
        sa.select(Contact.summary).where(Contact.candidate_id == r.candidate_id).limit(1)
    )


def _get(model, attribute, id_name):
    return lambda r: getattr(db.session.get(model, getattr(r, id_name)), attribute)


CANDIDATE = {"name": "Cara", "email": "cara@example.test", "phone": "", "timezone": "UTC"}
CLIENT = {"name": "Client {tag}", "contact_name": "", "contact_email": "", "notes": ""}
SOON = clock.now().date() + timedelta(days=30)
INTERVIEW = {
    "date": SOON.isoformat(),
    "time": "10:00",
    "promised_date": (SOON + timedelta(days=7)).isoformat(),
    "interviewers": "",
    "client_contact": "",
    "next_step": "",
    "note": "",
    "confirm": "1",
}
CASES = {
    "candidate name": Case(
        Candidate.name,
        "owner",
        "/candidates/{candidate_id}/edit",
        {**CANDIDATE, "name": "{value}"},
        _get(Candidate, "name", "candidate_id"),
    ),
    "candidate phone": Case(
        Candidate.phone,
        "owner",
        "/candidates/{candidate_id}/edit",
        {**CANDIDATE, "phone": "{value}"},
        _get(Candidate, "phone", "candidate_id"),
    ),
    "client name": Case(
        Client.name,
        "owner",
        "/clients/{client_id}/edit",
        {**CLIENT, "name": "{value}"},
        _get(Client, "name", "client_id"),
    ),
    "client contact name": Case(
        Client.contact_name,
        "owner",
        "/clients/{client_id}/edit",
        {**CLIENT, "contact_name": "{value}"},
        _get(Client, "contact_name", "client_id"),
    ),
    "client notes": Case(
        Client.notes,
        "owner",
        "/clients/{client_id}/edit",
        {**CLIENT, "notes": "{value}"},
        _get(Client, "notes", "client_id"),
    ),
    "position title": Case(
        Position.title,
        "owner",
        "/positions/{position_id}/edit",
        {"client_id": "{client_id}", "owner_id": "{owner_id}", "title": "{value}"},
        _get(Position, "title", "position_id"),
    ),
    "position location": Case(
        Position.location,
        "owner",
        "/positions/{position_id}/edit",
        {
            "client_id": "{client_id}",
            "owner_id": "{owner_id}",
            "title": "Engineer",
            "location": "{value}",
        },
        _get(Position, "location", "position_id"),
    ),
    "interviewers": Case(
        Application.interviewers,
        "owner",
        "/applications/{application_id}/interview",
        {**INTERVIEW, "interviewers": "{value}"},
        _get(Application, "interviewers", "application_id"),
    ),
    "client contact": Case(
        Application.client_contact,
        "owner",
        "/applications/{application_id}/interview",
        {**INTERVIEW, "client_contact": "{value}"},
        _get(Application, "client_contact", "application_id"),
    ),
    "next step": Case(
        Application.next_step,
        "owner",
        "/applications/{application_id}/interview",
        {**INTERVIEW, "next_step": "{value}"},
        _get(Application, "next_step", "application_id"),
    ),
    "interview note": Case(
        Notification.personal_note,
        "owner",
        "/applications/{application_id}/interview",
        {**INTERVIEW, "note": "{value}"},
        _note_of("interview_scheduled"),
    ),
    "move note": Case(
        Notification.personal_note,
        "owner",
        "/applications/{application_id}/move",
        {"note": "{value}", "confirm": "1"},
        _note_of("client_review"),
        query={"to": "client_review"},
    ),
    "contact summary (profile)": Case(
        Contact.summary,
        "owner",
        "/candidates/{candidate_id}/contacts",
        {"channel": "phone", "summary": "{value}", "application_id": "{application_id}"},
        _contact,
    ),
    "contact summary (report)": Case(
        Contact.summary,
        "owner",
        "/reports/applications/{application_id}/contact",
        {"channel": "phone", "summary": "{value}"},
        _contact,
    ),
    "exemption reason": Case(
        Notification.discharge_reason,
        "manager",
        "/reports/applications/{application_id}/exempt",
        {"notification_id": "{notification_id}", "reason": "{value}"},
        # The record says it was an exemption.
        lambda r: (
            (_get(Notification, "discharge_reason", "notification_id")(r) or "").removeprefix(
                "exempt: "
            )
            or None
        ),
    ),
    "answer to an update request": Case(
        Notification.personal_note,
        "owner",
        "/queue/tasks/{update_task_id}/reply",
        {"message": "{value}"},
        _note_of("update_reply"),
    ),
    "hold reason": Case(
        Position.status_reason,
        "owner",
        "/positions/{position_id}/lifecycle/hold",
        {"hold_reason": "{value}", "shown_reason": "{value}", "confirm": "1"},
        _get(Position, "status_reason", "position_id"),
    ),
}


def _fill(template: dict, rec: world.Records, team: world.Staff, value: str) -> dict:
    names = {**vars(rec), "owner_id": team.owner.id, "tag": rec.client_id, "value": value}
    return {k: v.format(**names) if "{" in v else v for k, v in template.items()}


def _count() -> int:
    return sum(
        db.session.scalar(sa.select(sa.func.count()).select_from(t))
        for t in db.metadata.sorted_tables
    )


@pytest.mark.parametrize("name", list(CASES))
def test_a_field_takes_what_its_column_holds_and_refuses_one_character_more(
    staff, role_clients, name
):
    team, clients = staff, role_clients
    case = CASES[name]
    limit = max_length(case.column)
    web = clients[case.role]

    rec = world.records(team.owner)
    fits = ("Ωx" * limit)[:limit]  # not only ASCII: limits count characters
    response = web.post(
        case.url.format(**vars(rec)),
        query_string=case.query,
        data=_fill(case.form, rec, team, fits),
    )
    assert response.status_code in (200, 302), response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert case.stored(rec) == fits

    rec = world.records(team.owner)
    before = (_count(), case.stored(rec))
    response = web.post(
        case.url.format(**vars(rec)),
        query_string=case.query,
        data=_fill(case.form, rec, team, fits + "x"),
    )
    page = response.get_data(as_text=True)
    assert response.status_code in (200, 400), page[:2000]
    assert f"{limit:,} characters or fewer" in page
    db.session.expire_all()
    assert (_count(), case.stored(rec)) == before


def test_a_hold_reason_longer_than_a_message_reason_is_reviewed_and_held(staff, role_clients):
    """The probe's case: 41 to 200 characters were a 500 on the review page on PostgreSQL
    (the reason was copied into each candidate's message, whose reason holds 40)."""
    team, clients = staff, role_clients
    rec = world.records(team.owner)
    reason = "The client is reviewing its budget for the whole engineering team this quarter"
    url = f"/positions/{rec.position_id}/lifecycle/hold"
    review = clients["owner"].get(url, query_string={"hold_reason": reason})
    assert review.status_code == 200
    assert 'data-testid="sample"' in review.get_data(as_text=True)
    done = clients["owner"].post(
        url, data={"hold_reason": reason, "shown_reason": reason, "confirm": "1"}
    )
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Position, rec.position_id).status_reason == reason
    held = db.session.scalars(
        sa.select(Notification).where(
            Notification.application_id == rec.application_id,
            Notification.kind == "position_on_hold",
        )
    ).all()
    # Candidates hear only that the role is paused: the reason stays with the position.
    assert held and all(n.reason is None for n in held)


@pytest.mark.parametrize("field,column", [("name", Candidate.name), ("phone", Candidate.phone)])
def test_an_imported_row_takes_what_the_candidates_table_holds(role_clients, field, column):
    clients = role_clients
    limit = max_length(column)
    row = {"name": "Ivy", "email": "", "phone": "", "timezone": ""}

    def preview(value: str) -> str:
        values = {**row, field: value}
        body = "name,email,phone,timezone\n" + ",".join(values.values()) + "\n"
        response = clients["owner"].post(
            "/imports/new",
            data={"target": "", "file": (io.BytesIO(body.encode()), "c.csv")},
            follow_redirects=True,
        )
        assert response.status_code == 200
        return response.get_data(as_text=True)

    assert f"The {field} is longer than" not in preview("7" * limit)
    assert f"The {field} is longer than {limit} characters." in preview("7" * (limit + 1))
