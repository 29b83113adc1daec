"""Status pages. Views parse the form, call app.status.services and redirect; the signed
token in the URL is the only thing that identifies the candidate."""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh

from app import languages, ratelimit
from app.extensions import csrf
from app.notifications import links
from app.notifications.render import first_name, fmt_date
from app.status import bp, services, views
from app.status.forms import (
    LanguageForm,
    LinkRequestForm,
    PreferencesForm,
    RequestUpdateForm,
    WithdrawForm,
)


@bp.after_request
def _private(response):
    # The URL carries the candidate's token: never cached or indexed. (Framing, sniffing
    # and the referrer are ruled for every page, app/edge.py: the token never leaves the
    # site, and our own forms still get the Referer their CSRF check needs over HTTPS.)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.before_request
def _language():
    # Before the link is read: the browser's languages, else the agency's (_access then
    # switches to the candidate's own).
    g.language = request.accept_languages.best_match(languages.SHIPPED) or (
        languages.agency_default()
    )


@bp.context_processor
def _agency() -> dict:
    cfg = current_app.config
    return {"agency_name": cfg["AGENCY_NAME"], "logo_text": cfg.get("AGENCY_LOGO_TEXT") or ""}


@bp.app_template_filter("local_date")
def _local_date(value, tz_name=None, with_time=False):
    return fmt_date(value, tz_name, with_time)


def _access(token: str):
    """The candidate behind the link, or the friendly page about the broken link."""
    try:
        access = links.read_status_token(token)
    except links.LinkError as exc:
        status = 410 if exc.reason in ("expired", "revoked") else 403
        page = render_template(
            "status/link_problem.html", reason=exc.reason, form=LinkRequestForm()
        )
        return None, (page, status)
    g.language = languages.for_candidate(access.candidate.language)
    refresh()  # anything translated from here on is in the candidate's language
    return access, None


@bp.get("/<token>")
def page(token: str):
    """The candidate's applications, in their language."""
    access, problem = _access(token)
    if problem:
        return problem
    candidate = access.candidate
    prefs = PreferencesForm(optional_updates=candidate.optional_updates)
    return render_template(
        "status/page.html",
        token=token,
        candidate=candidate,
        first_name=first_name(candidate.name),
        applications=views.applications_for(candidate),
        prefs_form=prefs,
        language_form=_language_form(g.language),
        expires=access.issued_at + links.status_max_age(),
    )


def _language_form(current: str) -> LanguageForm:
    form = LanguageForm(language=current)
    form.language.choices = [(t, languages.NAMES[t]) for t in languages.SHIPPED]
    return form


@bp.post("/<token>/language")
def language(token: str):
    """ "Read this in…": the status page and every email from now on in that language."""
    access, problem = _access(token)
    if problem:
        return problem
    form = _language_form(g.language)
    if not form.validate_on_submit():
        abort(400)
    services.set_language(access.candidate, form.language.data)
    g.language = form.language.data
    refresh()
    flash(_("From now on we will write to you in this language."), "success")
    return redirect(url_for(".page", token=token))


@bp.post("/<token>/applications/<int:application_id>/update")
def request_update(token: str, application_id: int):
    access, problem = _access(token)
    if problem:
        return problem
    if not RequestUpdateForm().validate_on_submit():
        abort(400)
    try:
        task = services.request_update(access.candidate, application_id)
    except services.StatusError as exc:
        flash(str(exc), "warning")
    else:
        due = fmt_date(task.due_at, access.candidate.timezone)
        flash(
            _(
                "Thank you. We have asked your recruiter for an update; you will hear from us "
                "by %(date)s.",
                date=due,
            ),
            "success",
        )
    return redirect(url_for(".page", token=token, _anchor=f"application-{application_id}"))


@bp.route("/<token>/applications/<int:application_id>/withdraw", methods=["GET", "POST"])
def withdraw(token: str, application_id: int):
    access, problem = _access(token)
    if problem:
        return problem
    try:
        application = services.own_application(access.candidate, application_id)
    except services.StatusError:
        abort(404)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            services.withdraw(access.candidate, application_id)
        except services.StatusError as exc:
            flash(str(exc), "warning")
        else:
            flash(
                _("Your application is withdrawn. We have sent you a confirmation by email."),
                "success",
            )
        return redirect(url_for(".page", token=token))
    return render_template("status/withdraw.html", token=token, application=application, form=form)


@bp.post("/<token>/preferences")
def preferences(token: str):
    access, problem = _access(token)
    if problem:
        return problem
    form = PreferencesForm()
    if not form.validate_on_submit():
        abort(400)
    services.set_optional_updates(access.candidate, bool(form.optional_updates.data))
    flash(_("Your email preferences are saved."), "success")
    return redirect(url_for(".page", token=token, _anchor="preferences"))


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: the mail client POSTs here with no session; the token is the proof
def unsubscribe(token: str):
    try:
        candidate = links.read_unsubscribe_token(token)
    except links.LinkError as exc:
        page = render_template(
            "status/link_problem.html", reason=exc.reason, form=LinkRequestForm()
        )
        return page, 410 if exc.reason == "expired" else 403
    if request.method == "GET":
        # Only a POST changes anything: link scanners and previews fetch GET links.
        return render_template("status/unsubscribe.html", token=token, done=False)
    services.set_optional_updates(candidate, False, via="unsubscribe")
    return render_template("status/unsubscribe.html", token=token, done=True)


@bp.route("/link", methods=["GET", "POST"])
def request_link():
    form = LinkRequestForm()
    if form.validate_on_submit():
        limit = current_app.config["LINK_REQUESTS_PER_IP"]
        verdict = ratelimit.hit("link", request.remote_addr or "?", limit, 15 * 60)
        if not verdict.allowed:
            page = render_template("status/link_request.html", form=form, limited=True)
            return page, 429, {"Retry-After": str(verdict.retry_after)}
        services.request_link_later(form.email.data)
        # The same answer whether or not the address is on file.
        return render_template("status/link_sent.html")
    return render_template("status/link_request.html", form=form, limited=False)
