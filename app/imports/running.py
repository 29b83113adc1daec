"""Confirming an import and writing it: one transaction, all valid rows or none.

Small files are written in the request. Larger ones go to an RQ job on the maintenance
queue (the job takes the import id only); it records how many rows it has done in Redis,
because the import's own transaction stays open until the end and nobody else can see
inside it. A failure rolls everything back and marks the import "failed" in a separate,
short transaction, with a reason a person can act on.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import redis
import sqlalchemy as sa
from flask_babel import gettext as _
from rq.job import JobStatus

from app import clock, rq_jobs, tracing
from app.bulk_sql import ANALYZE_AFTER_ROWS, analyze, insert_many
from app.collector import collection_paused
from app.extensions import db
from app.imports.services import (
    ImportRefused,
    Outcome,
    check_target,
    inline_rows,
    recount,
    validate,
)
from app.models import Candidate, CandidateImport, ImportStatus
from app.notifications.dispatch import MAINTENANCE_QUEUE, queue
from app.pipeline.services import plan_add_many, plan_add_to_position
from app.redis_conn import get_redis

log = logging.getLogger(__name__)

JOB = "workers.jobs.run_import"
JOB_TIMEOUT_SECONDS = 30 * 60
# A job that RQ has lost (Redis flushed, enqueue never happened) is declared failed after
# this long; until then the confirming request may still be enqueueing it.
LOST_AFTER = timedelta(seconds=60)
# The request that was writing a small import died (server restarted) if it is this old.
INLINE_LOST_AFTER = timedelta(minutes=10)
PROGRESS_TTL_SECONDS = 24 * 3600
# Rows written per flush; a chunk the database refuses is written again row by row.
CHUNK_ROWS = 500


def job_id_for(import_id: int) -> str:
    return f"import-{import_id}"


def _progress_key(import_id: int) -> str:
    return f"closeloop:import:{import_id}:done"


def changed_rows(before: list[dict], after: list[dict]) -> list[dict]:
    """Rows whose validity changed since the preview. One the user agreed to import that is
    now invalid stops the import; so does one now valid that they were told would be left
    out: the user confirms exactly the rows they saw."""
    agreed = {r["line"] for r in before if r.get("action")}
    return [r for r in after if (r["line"] in agreed) != bool(r["action"])]


def confirm(user, candidate_import: CandidateImport) -> Outcome:
    """Re-validate, claim the import (only once), then write it here or hand it to a worker."""
    if candidate_import.status != ImportStatus.PREVIEWED.value:
        raise ImportRefused(_("This import has already been confirmed."))
    check_target(user, candidate_import.position)
    fresh = validate(candidate_import.rows, candidate_import.position)
    if changed_rows(candidate_import.rows, fresh):
        candidate_import.rows = fresh
        recount(candidate_import)
        db.session.commit()
        return Outcome("changed", candidate_import)
    valid = sum(1 for r in fresh if r["action"])
    if not valid:
        raise ImportRefused(
            _("There are no valid rows to import. Fix the file and upload it again.")
        )
    if not _claim(candidate_import, fresh, valid):
        raise ImportRefused(_("This import has already been confirmed."))
    if valid > inline_rows():
        _enqueue(candidate_import)
        return Outcome("queued", candidate_import)
    state = execute(candidate_import.id, reraise=False)
    db.session.refresh(candidate_import)
    return Outcome(state, candidate_import)


def _claim(candidate_import: CandidateImport, rows: list[dict], valid: int) -> bool:
    """previewed -> importing, atomically: two confirms (double click, two tabs) cannot both
    win. Commits, so the progress page sees "importing" at once."""
    claimed = db.session.execute(
        sa.update(CandidateImport)
        .where(
            CandidateImport.id == candidate_import.id,
            CandidateImport.status == ImportStatus.PREVIEWED.value,
        )
        .values(
            status=ImportStatus.IMPORTING.value,
            rows=rows,
            total_rows=len(rows),
            valid_rows=valid,
            progress=0,
            error=None,
            started_at=clock.now(),
            job_id=job_id_for(candidate_import.id) if valid > inline_rows() else None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    db.session.refresh(candidate_import)
    return claimed == 1


def _enqueue(candidate_import: CandidateImport) -> None:
    try:
        queue(MAINTENANCE_QUEUE).enqueue(
            JOB,
            candidate_import.id,
            job_id=job_id_for(candidate_import.id),
            job_timeout=JOB_TIMEOUT_SECONDS,
            result_ttl=PROGRESS_TTL_SECONDS,
            failure_ttl=7 * 24 * 3600,
            meta=tracing.job_meta(),
        )
    except redis.RedisError:
        log.exception("could not enqueue import %s", candidate_import.id)
        _mark_failed(
            candidate_import.id,
            _(
                "The background worker queue is unavailable, so the import did not start. "
                "Nothing was imported. Upload the file again in a few minutes."
            ),
        )
        db.session.refresh(candidate_import)


@collection_paused()  # thousands of rows built and kept until the commit: app/collector.py
def execute(import_id: int, *, reraise: bool = True) -> str:
    """Write a claimed import in one transaction. Safe to run twice: only an import in
    "importing" is written, and only one transaction can move it to "done"."""
    candidate_import = db.session.get(CandidateImport, import_id)
    if candidate_import is None or candidate_import.status != ImportStatus.IMPORTING.value:
        return candidate_import.status if candidate_import else "missing"
    state = {"line": None}
    try:
        return _write(candidate_import, state)
    except Exception as exc:
        db.session.rollback()
        log.exception("import %s failed at row %s", import_id, state["line"])
        _mark_failed(import_id, failure_reason(exc, state["line"]))
        if reraise:
            raise
        return ImportStatus.FAILED.value


def _write(candidate_import: CandidateImport, state: dict) -> str:
    position = candidate_import.position
    check_target(candidate_import.user, position)
    fresh = validate(candidate_import.rows, position)
    if changed_rows(candidate_import.rows, fresh):
        return _back_to_preview(candidate_import, fresh)
    todo = [r for r in fresh if r["action"]]
    try:
        with db.session.begin_nested():
            created, attached = _write_in_chunks(candidate_import, todo)
    except sa.exc.IntegrityError:
        # The database refused a chunk (a constraint the validation does not know, or a
        # concurrent change). Row by row, in the same transaction, to name the row; if it
        # goes through that way after all, so much the better.
        created, attached = _write_row_by_row(candidate_import, todo, state)
    state["line"] = None
    _finish(candidate_import, fresh, created, attached)
    db.session.commit()
    _report_progress(candidate_import.id, len(todo))
    if len(todo) >= ANALYZE_AFTER_ROWS:  # after the commit: the import's locks are gone
        _analyze()
    return ImportStatus.DONE.value


def _analyze() -> None:
    """The written import stands whatever happens here: statistics are an optimisation."""
    try:
        analyze(db.session, "candidates", "applications", "stage_events")
        db.session.commit()
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        log.warning("import: ANALYZE after the import failed", exc_info=True)


def _write_in_chunks(candidate_import: CandidateImport, todo: list[dict]):
    """CHUNK_ROWS rows at a time, one INSERT per table: the new candidates, then the
    applications and their history. Returns the ids created and attached."""
    position, user = candidate_import.position, candidate_import.user
    created: list[int] = []
    attached: list[int] = []
    now = clock.now()
    for start in range(0, len(todo), CHUNK_ROWS):
        chunk = todo[start : start + CHUNK_ROWS]
        new = [
            _new_candidate(row, candidate_import.user_id, now)
            for row in chunk
            if row["action"] == "create"
        ]
        new_ids = insert_many(db.session, Candidate, new, returning=Candidate.id)
        old_ids = [row["existing_id"] for row in chunk if row["action"] == "attach"]
        created += sorted(new_ids)  # the order of the file: ids are given in insert order
        attached += old_ids
        if position is not None:
            plan_add_many(new_ids + old_ids, position, actor=user)
        _report_progress(candidate_import.id, start + len(chunk))
    return created, attached


def _new_candidate(row: dict, owner_id: int, now) -> dict:
    """A new candidate's columns (every one the model would default, given here)."""
    return {
        "name": row["name"],
        "email": row["email"] or None,
        "phone": row["phone"] or None,
        "timezone": row["timezone"],
        "language": row.get("language") or None,
        "owner_id": owner_id,
        "optional_updates": True,
        "preferred_channel": "email",
        "token_version": 1,
        "token_secret": secrets.token_urlsafe(32),
        "created_at": now,
        "updated_at": now,
    }


def _write_row_by_row(candidate_import: CandidateImport, todo: list[dict], state: dict):
    position = candidate_import.position
    step = max(1, len(todo) // 100)
    created: list[int] = []
    attached: list[int] = []
    for done, row in enumerate(todo, 1):
        state["line"] = row["line"]
        candidate = _candidate_for(row, candidate_import.user_id)
        if position is not None:
            plan_add_to_position(candidate, position, actor=candidate_import.user)
        db.session.flush()
        (created if row["action"] == "create" else attached).append(candidate.id)
        if done % step == 0:
            _report_progress(candidate_import.id, done)
    return created, attached


def _candidate_for(row: dict, owner_id: int) -> Candidate:
    if row["action"] == "attach":
        candidate = db.session.get(Candidate, row["existing_id"])
        if candidate is None:
            raise ImportRefused(
                _("Row %(line)s: the existing candidate has been removed.", line=row["line"])
            )
        return candidate
    candidate = Candidate(**_new_candidate(row, owner_id, clock.now()))
    db.session.add(candidate)
    return candidate


def _finish(candidate_import, rows, created, attached) -> None:
    """Mark it done inside the import's transaction, only if nobody marked it failed
    meanwhile (a lost-job check): "failed" must mean nothing was written."""
    in_position = candidate_import.position_id is not None
    result = {
        **(candidate_import.result or {}),
        "created": created,
        "attached": attached,
    }
    marked = db.session.execute(
        sa.update(CandidateImport)
        .where(
            CandidateImport.id == candidate_import.id,
            CandidateImport.status == ImportStatus.IMPORTING.value,
        )
        .values(
            status=ImportStatus.DONE.value,
            rows=rows,
            progress=len(created) + len(attached),
            created_count=len(created),
            attached_count=len(created) + len(attached) if in_position else 0,
            result=result,
            finished_at=clock.now(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if marked != 1:
        raise ImportRefused(_("The import was stopped before it finished."))


def _back_to_preview(candidate_import: CandidateImport, rows: list[dict]) -> str:
    candidate_import.rows = rows
    recount(candidate_import)
    candidate_import.status = ImportStatus.PREVIEWED.value
    candidate_import.job_id = None
    candidate_import.error = _(
        "Some rows changed since the preview (candidates were added or edited meanwhile). "
        "Nothing was imported: check the rows below, then import again."
    )
    db.session.commit()
    return "changed"


def failure_reason(exc: Exception, line: int | None) -> str:
    if isinstance(exc, ImportRefused):
        return _("%(problem)s Nothing was imported.", problem=exc)
    if isinstance(exc, sa.exc.IntegrityError):
        detail = str(exc.orig).strip().splitlines()[0][:200]
        refused = (
            _("The database refused the import at row %(line)s", line=line)
            if line
            else _("The database refused the import")
        )
        return _(
            "%(refused)s (%(detail)s). Nothing was imported. Check that row in the file and "
            "upload it again.",
            refused=refused,
            detail=detail,
        )
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        gone = (
            _("The database was unavailable at row %(line)s", line=line)
            if line
            else _("The database was unavailable")
        )
        return _(
            "%(unavailable)s. Nothing was imported. Upload the file again in a few minutes.",
            unavailable=gone,
        )
    stopped = (
        _("The import stopped with an unexpected error at row %(line)s", line=line)
        if line
        else _("The import stopped with an unexpected error")
    )
    return _(
        "%(stopped)s (%(error)s). Nothing was imported. Try again, and tell an administrator "
        "if it happens again.",
        stopped=stopped,
        error=type(exc).__name__,
    )


def _mark_failed(import_id: int, reason: str) -> None:
    db.session.rollback()
    db.session.execute(
        sa.update(CandidateImport)
        .where(
            CandidateImport.id == import_id,
            CandidateImport.status == ImportStatus.IMPORTING.value,
        )
        .values(status=ImportStatus.FAILED.value, error=reason, finished_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _report_progress(import_id: int, done: int) -> None:
    try:
        get_redis().set(_progress_key(import_id), done, ex=PROGRESS_TTL_SECONDS)
    except redis.RedisError:
        log.warning("could not record progress of import %s", import_id)


def progress(candidate_import: CandidateImport) -> dict:
    """What the progress page shows; notices a lost job and fails the import for it."""
    if candidate_import.status == ImportStatus.IMPORTING.value:
        _fail_if_lost(candidate_import)
    done = candidate_import.progress
    if candidate_import.status == ImportStatus.IMPORTING.value:
        try:
            done = int(get_redis().get(_progress_key(candidate_import.id)) or 0)
        except redis.RedisError:
            done = 0
    total = candidate_import.valid_rows or 0
    return {
        "status": candidate_import.status,
        "done": done,
        "total": total,
        "percent": round(100 * done / total) if total else 0,
        "error": candidate_import.error,
    }


def _fail_if_lost(candidate_import: CandidateImport) -> None:
    age = clock.now() - (candidate_import.started_at or clock.now())
    if candidate_import.job_id is None:
        lost = age > INLINE_LOST_AFTER
    else:
        lost = age > LOST_AFTER and _job_gone(candidate_import.job_id)
    if lost:
        _mark_failed(
            candidate_import.id,
            _(
                "The import stopped before it finished (its worker was lost). Nothing was "
                "imported. Upload the file again."
            ),
        )
        db.session.refresh(candidate_import)


def _job_gone(job_id: str) -> bool:
    try:
        job = rq_jobs.fetch(job_id, get_redis())
        status = rq_jobs.status(job) if job is not None else None
    except redis.RedisError:
        return False  # cannot tell: keep waiting rather than fail a running import
    return status in {None, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
