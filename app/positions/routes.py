"""Clients and positions: lists with search, create and edit. The board and stage moves
live in board.py."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import access
from app.auth.decorators import role_required
from app.input_guard import search_term
from app.models import Client, Position, PositionStatus
from app.positions import bp, queries, services
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
    if form.validate_on_submit() and (client := _save_client(form, None)):
        flash(_("Client %(name)s added.", name=client.name), "success")
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
    if form.validate_on_submit() and _save_client(form, client):
        flash(_("Client %(name)s saved.", name=client.name), "success")
        return redirect(url_for("positions.show_client", client_id=client.id))
    return render_template("positions/client_form.html", form=form, client=client)


def _save_client(form: ClientForm, client: Client | None) -> Client | None:
    """The saved client, or None with the service's message on the form."""
    try:
        return services.save_client(client, **_data(form, CLIENT_FIELDS))
    except services.Refused as exc:
        form[exc.field].errors.append(str(exc))
        return None


def _data(form, names: tuple[str, ...]) -> dict:
    return {name: form[name].data for name in names}


CLIENT_FIELDS = ("name", "contact_name", "contact_email", "notes")
POSITION_FIELDS = ("client_id", "title", "location", "owner_id", "contact_name", "contact_email")


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
    if form.validate_on_submit() and (position := _save_position(form, None)):
        flash(_("Position %(title)s opened.", title=position.title), "success")
        return redirect(url_for("positions.board", position_id=position.id))
    return render_template("positions/position_form.html", form=form, position=None)


@bp.route("/positions/<int:position_id>/edit", methods=["GET", "POST"])
@role_required("recruiter")
def edit_position(position_id: int):
    position = access.position_or_404(current_user, position_id)
    form = PositionForm(obj=position)
    _position_choices(form, position)
    if form.validate_on_submit() and _save_position(form, position):
        flash(_("Position %(title)s saved.", title=position.title), "success")
        return redirect(url_for("positions.board", position_id=position.id))
    return render_template("positions/position_form.html", form=form, position=position)


def _save_position(form: PositionForm, position: Position | None) -> Position | None:
    try:
        return services.save_position(position, actor=current_user, **_data(form, POSITION_FIELDS))
    except services.Refused as exc:
        form[exc.field].errors.append(str(exc))
        return None


def _position_choices(form: PositionForm, position: Position | None = None) -> None:
    clients = queries.client_choices()
    form.client_id.choices = choices([(0, _("Choose a client…"))] + clients)
    owners = services.owner_choices(current_user, position)
    form.owner_id.choices = choices(sorted(owners.items(), key=lambda item: item[1]))


from app.positions import board  # noqa: E402,F401  (registers the board routes)
