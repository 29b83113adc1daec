"""CSV import pages: upload, preview, confirm, progress, done. Rules live in services.py and
running.py; these views parse the request, call them, and render or redirect."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import access, languages
from app.extensions import db
from app.imports import bp, running, services
from app.imports.forms import POOL, ConfirmForm, UploadForm
from app.imports.parsing import ALIASES, FileProblem, sample_csv
from app.models import Candidate, CandidateImport, ImportStatus, Position


def _read_upload(storage) -> bytes:
    # Read one byte past the limit: enough to know it is too large without reading it all.
    try:
        return storage.stream.read(services.max_bytes() + 1)
    finally:
        storage.close()  # large uploads are spooled to a temporary file


@bp.route("/imports/new", methods=["GET", "POST"])
@login_required
def new_import():
    form = UploadForm()
    form.set_positions(services.open_positions(current_user))
    if request.method == "GET" and request.args.get("position"):
        form.target.data = request.args["position"]
    if form.validate_on_submit():
        position = None
        if form.target.data != POOL:
            position = db.session.get(Position, int(form.target.data))
        try:
            candidate_import = services.create_preview(
                current_user,
                filename=form.file.data.filename or "upload.csv",
                data=_read_upload(form.file.data),
                position=position,
            )
        except (FileProblem, services.ImportRefused) as exc:
            form.file.errors.append(str(exc))
        else:
            return redirect(url_for("imports.show_import", import_id=candidate_import.id))
    status = 400 if request.method == "POST" else 200
    return (
        render_template(
            "imports/new.html",
            form=form,
            aliases=ALIASES,
            max_size=services.size_label(services.max_bytes()),
            recent=services.recent_imports(current_user),
            agency_language_name=languages.name(languages.agency_default()),
        ),
        status,
    )


@bp.route("/imports/sample.csv")
@login_required
def sample():
    return Response(
        sample_csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=closeloop-candidates-sample.csv"},
    )


@bp.route("/imports/<int:import_id>")
@login_required
def show_import(import_id: int):
    candidate_import = access.import_or_404(current_user, import_id)
    if candidate_import.status == ImportStatus.IMPORTING.value:
        info = running.progress(candidate_import)  # may find the job lost and fail it
        if candidate_import.status == ImportStatus.IMPORTING.value:
            return render_template("imports/progress.html", imp=candidate_import, info=info)
    if candidate_import.status == ImportStatus.PREVIEWED.value:
        return _preview(candidate_import)
    if candidate_import.status == ImportStatus.DONE.value:
        return _done(candidate_import)
    return render_template("imports/failed.html", imp=candidate_import)


def _preview(candidate_import: CandidateImport, status: int = 200):
    rows = candidate_import.rows
    if request.args.get("only") == "errors":
        rows = [r for r in rows if r["errors"]]
    return (
        render_template(
            "imports/preview.html",
            imp=candidate_import,
            rows=rows,
            visible=services.visible_candidate_ids(
                current_user, [r["existing_id"] for r in rows if r.get("existing_id")]
            ),
            only_errors=request.args.get("only") == "errors",
            form=ConfirmForm(),
        ),
        status,
    )


def _done(candidate_import: CandidateImport):
    ids = candidate_import.result.get("created", []) + candidate_import.result.get("attached", [])
    shown = ids[:200]
    candidates = {
        c.id: c for c in db.session.scalars(sa.select(Candidate).where(Candidate.id.in_(shown)))
    }
    created = set(candidate_import.result.get("created", []))
    listed = [(candidates[i], i in created) for i in shown if i in candidates]
    return render_template(
        "imports/done.html", imp=candidate_import, listed=listed, more=len(ids) - len(shown)
    )


@bp.route("/imports/<int:import_id>/confirm", methods=["POST"])
@login_required
def confirm_import(import_id: int):
    candidate_import = access.import_or_404(current_user, import_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        outcome = running.confirm(current_user, candidate_import)
    except services.ImportRefused as exc:
        flash(str(exc), "warning")
        return redirect(url_for("imports.show_import", import_id=import_id))
    if outcome.state == "changed":
        flash(
            _(
                "Some rows changed since the preview (candidates were added or edited "
                "meanwhile), so nothing was imported. Check the rows below, then import the "
                "valid rows or upload a fixed file."
            ),
            "warning",
        )
        return _preview(outcome.candidate_import, status=409)
    return redirect(url_for("imports.show_import", import_id=import_id))


@bp.route("/imports/<int:import_id>/progress.json")
@login_required
def import_progress(import_id: int):
    candidate_import = access.import_or_404(current_user, import_id)
    return {
        **running.progress(candidate_import),
        "url": url_for("imports.show_import", import_id=import_id),
    }
