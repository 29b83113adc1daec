"""Views of the API tokens page; the service is app.api.tokens."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.api import tokens
from app.api_tokens import bp
from app.api_tokens.forms import NewTokenForm, RevokeForm


@bp.get("/profile/tokens")
@login_required
def tokens_page():
    return _render(NewTokenForm())


def _render(form: NewTokenForm, *, new_token: str | None = None, status: int = 200):
    return (
        render_template(
            "api_tokens/index.html",
            form=form,
            revoke_form=RevokeForm(),
            tokens=tokens.of_user(current_user),
            new_token=new_token,
        ),
        status,
    )


@bp.post("/profile/tokens")
@login_required
def create():
    form = NewTokenForm()
    if not form.validate_on_submit():
        return _render(form, status=400)
    try:
        _, raw = tokens.create(current_user, form.name.data, actor=current_user)
    except tokens.TokenRefused as exc:
        form.name.errors = [str(exc)]
        return _render(form, status=400)
    # Shown on this answer only: it is not kept anywhere we could show it from again.
    response = _render(NewTokenForm(formdata=None), new_token=raw)
    return response[0], 201, {"Cache-Control": "no-store"}


@bp.post("/profile/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    token = tokens.owned_or_none(current_user, token_id)
    if token is None:
        abort(404)
    if not RevokeForm().validate_on_submit():
        abort(400)
    tokens.revoke(token, actor=current_user)
    flash(_("Revoked “%(name)s”: it no longer works.", name=token.name), "success")
    return redirect(url_for("api_tokens.tokens_page"))
