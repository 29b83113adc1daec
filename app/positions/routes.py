"""Clients and positions: lists with search, create and edit. The board and stage moves
live in board.py."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app import access, clock
from app.auth.decorators import role_required
from app.extensions import db
from app.input_guard import search_term
from app.models import Client, Position, PositionStatus
from app.positions import bp, queries
from app.positions.forms import ClientForm, PositionForm, choices

# -- clients ----------------------------------------------------------------------------------


@bp.route("/clients")
@login_required
def list_clients():
    q = search_term()
    return render_template("positions/clients.html", rows=queries.clients(q), q=q)


@bp.route("/clients/new", methods=["GET", "POST"])
@role_required("recruiter")
def new_client():
    form = ClientForm()
    if form.validate_on_submit() and _client_name_free(form):
        client = Client(created_at=clock.now(), updated_at=clock.now())
        _fill_client(client, form)
        db.session.add(client)
        db.session.commit()
        flash(f"Client {client.name} added.", "success")
        return redirect(url_for("positions.show_client", client_id=client.id))
    return render_template("positions/client_form.html", form=form, client=None)


@bp.route("/clients/<int:client_id>")
@login_required
def show_client(client_id: int):
    client = access.client_or_404(client_id)
    rows = queries.positions(current_user, client_id=client.id)
    return render_template("positions/client.html", client=client, rows=rows)


@bp.route("/clients/<int:client_id>/edit", methods=["GET", "POST"])
@role_required("recruiter")
def edit_client(client_id: int):
    client = access.client_or_404(client_id)
    form = ClientForm(obj=client)
    if form.validate_on_submit() and _client_name_free(form, except_id=client.id):
        _fill_client(client, form)
        client.updated_at = clock.now()
        db.session.commit()
        flash(f"Client {client.name} saved.", "success")
        return redirect(url_for("positions.show_client", client_id=client.id))
    return render_template("positions/client_form.html", form=form, client=client)


def _client_name_free(form: ClientForm, except_id: int | None = None) -> bool:
    # Checked before writing so the user gets a message, not an IntegrityError page.
    if queries.client_name_taken(form.name.data, except_id=except_id):
        form.name.errors.append("A client with this name already exists.")
        return False
    return True


def _fill_client(client: Client, form: ClientForm) -> None:
    client.name = form.name.data.strip()
    client.contact_name = (form.contact_name.data or "").strip() or None
    client.contact_email = (form.contact_email.data or "").strip() or None
    client.notes = (form.notes.data or "").strip() or None


# -- positions --------------------------------------------------------------------------------


@bp.route("/positions")
@login_required
def list_positions():
    q = search_term()
    status = request.args.get("status") or ""
    if status not in {s.value for s in PositionStatus}:
        status = ""
    rows = queries.positions(current_user, q=q, status=status or None)
    return render_template(
        "positions/positions.html", rows=rows, q=q, status=status, statuses=list(PositionStatus)
    )


@bp.route("/positions/new", methods=["GET", "POST"])
@role_required("recruiter")
def new_position():
    form = PositionForm()
    _position_choices(form)
    if request.method == "GET":
        form.owner_id.data = current_user.id
        form.client_id.data = request.args.get("client_id", type=int)
    if form.validate_on_submit():
        now = clock.now()
        position = Position(
            status=PositionStatus.OPEN.value,
            opened_at=now,
            status_changed_at=now,
            created_at=now,
            updated_at=now,
        )
        _fill_position(position, form)
        db.session.add(position)
        db.session.commit()
        flash(f"Position {position.title} opened.", "success")
        return redirect(url_for("positions.board", position_id=position.id))
    return render_template("positions/position_form.html", form=form, position=None)


@bp.route("/positions/<int:position_id>/edit", methods=["GET", "POST"])
@role_required("recruiter")
def edit_position(position_id: int):
    position = access.position_or_404(current_user, position_id)
    form = PositionForm(obj=position)
    _position_choices(form, position)
    if form.validate_on_submit():
        _fill_position(position, form)
        position.updated_at = clock.now()
        db.session.commit()
        flash(f"Position {position.title} saved.", "success")
        return redirect(url_for("positions.board", position_id=position.id))
    return render_template("positions/position_form.html", form=form, position=position)


def _position_choices(form: PositionForm, position: Position | None = None) -> None:
    clients = db.session.scalars(db.select(Client).order_by(Client.name)).all()
    form.client_id.choices = choices([(0, "Choose a client…")] + [(c.id, c.name) for c in clients])
    if access.sees_everything(current_user):
        owners = {u.id: u.name for u in queries.assignable_owners()}
        owners.setdefault(current_user.id, current_user.name)
        if position is not None and position.owner is not None:
            owners.setdefault(position.owner_id, position.owner.name)
    else:
        # A recruiter's positions are their own: they cannot hand one to someone else.
        owners = {current_user.id: current_user.name}
    form.owner_id.choices = choices(sorted(owners.items(), key=lambda item: item[1]))


def _fill_position(position: Position, form: PositionForm) -> None:
    if db.session.get(Client, form.client_id.data) is None:
        abort(400)
    position.client_id = form.client_id.data
    position.title = form.title.data.strip()
    position.location = (form.location.data or "").strip() or None
    position.owner_id = form.owner_id.data


from app.positions import board  # noqa: E402,F401  (registers the board routes)
