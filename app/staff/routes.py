"""/profile (every member of staff, about themselves) and /admin/users (admins)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from app import labels
from app.auth.decorators import role_required
from app.extensions import db
from app.models import Role, User
from app.reports import digest
from app.reports.forms import DigestSettingsForm
from app.staff import PROFILE_SECTIONS, bp, services
from app.staff.forms import ConfirmForm, NewUserForm, PasswordForm, ProfileForm, RoleForm

# -- the profile ------------------------------------------------------------------------------


@bp.get("/profile")
@login_required
def profile():
    return _render_profile()


def _render_profile(*, details=None, password=None, digest_form=None, status: int = 200):
    user = current_user
    enabled, hour = digest.settings_for(user)
    return render_template(
        "staff/profile.html",
        user=user,
        details=details
        or ProfileForm(data={"name": user.name, "phone": user.phone, "timezone": user.timezone}),
        password=password or PasswordForm(formdata=None),
        digest_form=digest_form or DigestSettingsForm(data={"enabled": enabled, "hour": hour}),
        sections=PROFILE_SECTIONS,
    ), status


@bp.post("/profile")
@login_required
def save_profile():
    form = ProfileForm()
    if not form.validate_on_submit():
        return _render_profile(details=form, status=400)
    try:
        changed = services.update_profile(
            current_user, name=form.name.data, phone=form.phone.data, timezone=form.timezone.data
        )
    except services.StaffError as exc:
        form.name.errors.append(str(exc))
        return _render_profile(details=form, status=400)
    if "phone" in changed:
        flash(
            _("Profile saved. Your candidates' next emails carry your new phone number."), "success"
        )
    else:
        flash(_("Profile saved."), "success")
    return redirect(url_for("staff.profile"))


@bp.post("/profile/password")
@login_required
def change_password():
    form = PasswordForm()
    if not form.validate_on_submit():
        return _render_profile(password=form, status=400)
    try:
        services.change_password(
            current_user, current=form.current_password.data, new=form.new_password.data
        )
    except services.StaffError as exc:
        form.current_password.errors.append(str(exc))
        return _render_profile(password=form, status=400)
    login_user(current_user)  # this browser stays signed in, under the new session version
    flash(_("Password changed. Every other session of yours has been signed out."), "success")
    return redirect(url_for("staff.profile"))


@bp.post("/profile/digest")
@login_required
def save_digest():
    form = DigestSettingsForm()
    if not form.validate_on_submit():
        return _render_profile(digest_form=form, status=400)
    digest.save_settings(current_user, enabled=form.enabled.data, hour=form.hour.data)
    flash(_("Digest settings saved."), "success")
    return redirect(url_for("staff.profile") + "#digest")


# -- user management (admins) -----------------------------------------------------------------


@bp.get("/admin/users")
@role_required(Role.ADMIN)
def users():
    return _render_users()


def _render_users(status: int = 200):
    return render_template(
        "staff/users.html", users=services.list_users(), role_form=RoleForm, confirm=ConfirmForm()
    ), status


@bp.route("/admin/users/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_user():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                current_user,
                name=form.name.data,
                email=form.email.data,
                role=form.role.data,
                password=form.password.data,
                phone=form.phone.data,
            )
        except services.StaffError as exc:
            form.email.errors.append(str(exc))
        else:
            flash(
                _("%(name)s can now sign in as %(email)s.", name=user.name, email=user.email),
                "success",
            )
            return redirect(url_for("staff.users"))
    status = 400 if form.is_submitted() else 200
    return render_template("staff/new_user.html", form=form), status


@bp.post("/admin/users/<int:user_id>/deactivate")
@role_required(Role.ADMIN)
def deactivate(user_id: int):
    return _change(
        user_id,
        lambda user: services.set_active(current_user, user, False),
        _("%(name)s is deactivated and signed out everywhere."),
    )


@bp.post("/admin/users/<int:user_id>/activate")
@role_required(Role.ADMIN)
def activate(user_id: int):
    return _change(
        user_id,
        lambda user: services.set_active(current_user, user, True),
        _("%(name)s can sign in again."),
    )


@bp.post("/admin/users/<int:user_id>/role")
@role_required(Role.ADMIN)
def change_role(user_id: int):
    user = _user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash(_("Choose one of the roles."), "danger")
        return _render_users(400)
    return _change(
        user.id,
        lambda u: services.set_role(current_user, u, form.role.data),
        _("%(name)s is now %(role)s; their sessions have ended."),
    )


def _change(user_id: int, change, done: str):
    user = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        changed = change(user)
    except services.StaffError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("staff.users"))
    if changed:
        flash(done % {"name": user.name, "role": labels.role(user.role).lower()}, "success")
    if not current_user.is_authenticated or not current_user.active:
        return redirect(url_for("auth.login"))
    return redirect(url_for("staff.users"))


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user
