"""CSV import of candidates: preview, confirm, import. Views and a future REST API call these.

The promise: nothing is written to candidates or applications before the user confirms,
and then the rows that were valid at the preview are written in ONE transaction, or none
are. Confirming re-validates (someone may have added one of these people since), and a
row that became invalid stops the whole import and sends the user back to the preview.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from flask import current_app

from app import labels, languages
from app.access import can_see_position, candidate_filter, visible_positions
from app.extensions import db
from app.imports.parsing import FileProblem, parse
from app.models import (
    Application,
    Candidate,
    CandidateImport,
    ImportStatus,
    Position,
    PositionStatus,
    User,
)
from app.orm import chunks, max_length
from app.template_gettext import fast_gettext as _
from app.validators import InvalidEmail, normalize_email

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_ROWS = 5000
# Larger files go to a worker, with a progress page; smaller ones import in the request.
DEFAULT_INLINE_ROWS = 200


class ImportRefused(ValueError):
    """The import cannot go ahead as asked; the message is shown to the user as is."""


@dataclass
class Outcome:
    """What confirming did: "done", "queued" (a worker has it), or "changed" (re-validation
    found new errors; nothing was written and the preview shows them)."""

    state: str
    candidate_import: CandidateImport


def max_bytes() -> int:
    return current_app.config.get("IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)


def size_label(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def inline_rows() -> int:
    return current_app.config.get("IMPORT_INLINE_ROWS", DEFAULT_INLINE_ROWS)


def open_positions(user: User) -> list[Position]:
    """The positions `user` may import into: visible to them and open."""
    return list(
        db.session.scalars(
            sa.select(Position)
            .where(Position.id.in_(visible_positions(user)))
            .where(Position.status == PositionStatus.OPEN.value)
            .order_by(Position.title)
        )
    )


def check_target(user: User, position: Position | None) -> None:
    if position is None:
        return
    if not can_see_position(user, position):
        raise ImportRefused(_("Choose one of your open positions, or the candidate pool."))
    if position.status != PositionStatus.OPEN.value:
        raise ImportRefused(
            _(
                "%(title)s is %(status)s: candidates can only be added to open positions.",
                title=position.title,
                status=labels.phrase(labels.position_status(position.status)),
            )
        )


# -- preview ---------------------------------------------------------------------------


def create_preview(
    user: User, *, filename: str, data: bytes, position: Position | None
) -> CandidateImport:
    """Parse and validate an upload and keep it server-side; writes no candidate."""
    if len(data) > max_bytes():
        raise FileProblem(
            _(
                "The file is larger than %(size)s. Split it into smaller files.",
                size=size_label(max_bytes()),
            )
        )
    check_target(user, position)
    parsed = parse(data, max_rows=current_app.config.get("IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS))
    rows = validate(parsed.rows, position)
    candidate_import = CandidateImport(
        user_id=user.id,
        filename=_display_name(filename),
        position_id=position.id if position else None,
        status=ImportStatus.PREVIEWED.value,
        rows=rows,
        result={"ignored_columns": parsed.ignored_columns, "delimiter": parsed.delimiter},
    )
    recount(candidate_import)
    db.session.add(candidate_import)
    db.session.commit()
    return candidate_import


def _display_name(filename: str) -> str:
    # Some browsers send the whole path; only the name means anything to the user. Control
    # characters (a NUL cannot be stored) are dropped, and the name is cut to fit.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[: max_length(CandidateImport.filename)] or "upload.csv"


def recount(candidate_import: CandidateImport) -> None:
    candidate_import.total_rows = len(candidate_import.rows)
    candidate_import.valid_rows = sum(1 for r in candidate_import.rows if not r["errors"])


@cache
def _zones() -> dict[str, str]:
    return {z.lower(): z for z in zoneinfo.available_timezones()}


def validate(rows: list[dict], position: Position | None) -> list[dict]:
    """Each row with its errors (the file's own problems kept) and what importing it would
    do: "create" a candidate, or "attach" an existing one to the position."""
    default_zone = current_app.config["AGENCY_TIMEZONE"]
    checked = [_check_fields(row, default_zone) for row in rows]
    _mark_file_duplicates(checked)
    existing = _existing_by_email([r["email"] for r in checked if r["email"]])
    in_position = _already_in(position, [c.id for c in existing.values()])
    for row in checked:
        match = existing.get(row["email"].lower()) if row["email"] else None
        row["existing_id"] = match.id if match else None
        row["existing_name"] = match.name if match else None
        if match is None:
            row["action"] = "create"
        elif position is None:
            row["errors"].append(_("Already a candidate (same email)."))
            row["action"] = None
        elif match.id in in_position:
            row["errors"].append(_("Already in %(title)s.", title=position.title))
            row["action"] = None
        else:
            row["action"] = "attach"
        if row["errors"]:
            row["action"] = None
    return checked


def _check_fields(row: dict, default_zone: str) -> dict:
    row = {**row, "errors": list(row.get("parse_errors", row["errors"]))}
    row["parse_errors"] = list(row["errors"])  # kept apart, so re-validating starts clean
    if not row["name"]:
        row["errors"].append(_("Name is missing."))
    if row["email"]:
        try:
            row["email"] = normalize_email(row["email"])
        except InvalidEmail as exc:
            row["errors"].append(
                _(
                    "Email \u201c%(email)s\u201d is not valid: %(problem)s",
                    email=row["email"],
                    problem=exc,
                )
            )
    zone = row.get("timezone_given", row["timezone"])
    row["timezone_given"] = zone
    if not zone:
        row["timezone"] = default_zone
    elif zone.lower() in _zones():
        row["timezone"] = _zones()[zone.lower()]
    else:
        row["errors"].append(
            _(
                "Unknown time zone \u201c%(zone)s\u201d (use a name such as Europe/London).",
                zone=zone,
            )
        )
    # BCP 47 (`de`, `fr-CA`); empty: the agency's default. Previews stored before the
    # column existed have no language at all.
    given = row.get("language_given", row.get("language") or "")
    row["language_given"] = given
    try:
        row["language"] = languages.normalize(given)
    except languages.BadLanguage as exc:
        row["language"] = None
        row["errors"].append(str(exc))
    return row


def _mark_file_duplicates(rows: list[dict]) -> None:
    """The first row with an address is kept; each later one is flagged (and not imported)."""
    first_line: dict[str, int] = {}
    for row in rows:
        if not row["email"]:
            continue
        first = first_line.setdefault(row["email"].lower(), row["line"])
        if first != row["line"]:
            row["errors"].append(
                _(
                    "Same email as row %(first)s in this file: row %(first)s is imported, "
                    "this one is left out.",
                    first=first,
                )
            )


def _existing_by_email(emails: list[str]) -> dict[str, Candidate]:
    lowered = sorted({e.lower() for e in emails})
    found: dict[str, Candidate] = {}
    for chunk in chunks(lowered):
        for candidate in db.session.scalars(
            sa.select(Candidate)
            .where(sa.func.lower(Candidate.email).in_(chunk))
            .where(Candidate.anonymised_at.is_(None))
            .order_by(Candidate.id)
        ):
            found.setdefault(candidate.email.lower(), candidate)
    return found


def _already_in(position: Position | None, candidate_ids: list[int]) -> set[int]:
    if position is None or not candidate_ids:
        return set()
    found: set[int] = set()
    for chunk in chunks(candidate_ids):
        found.update(
            db.session.scalars(
                sa.select(Application.candidate_id).where(
                    Application.position_id == position.id, Application.candidate_id.in_(chunk)
                )
            )
        )
    return found


# -- who may see an import ---------------------------------------------------------------


def visible_candidate_ids(user: User, ids: list[int]) -> set[int]:
    """Which of these existing candidates the preview may link to (others' are named only)."""
    if not ids:
        return set()
    query = sa.select(Candidate.id).where(Candidate.id.in_(sorted(set(ids))[:900]))
    where = candidate_filter(user)
    if where is not None:
        query = query.where(where)
    return set(db.session.scalars(query))


def recent_imports(user: User, limit: int = 8) -> list[CandidateImport]:
    return list(
        db.session.scalars(
            sa.select(CandidateImport)
            .where(CandidateImport.user_id == user.id)
            .order_by(CandidateImport.created_at.desc(), CandidateImport.id.desc())
            .limit(limit)
        )
    )
