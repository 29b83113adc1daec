"""Clients are chased for the decisions they promised: a signed decision page for the
client's hiring manager (no login), the emails that bring them to it, and the prepared stage
changes their clicks put in the recruiter's queue. Services: services.py; emails: chase.py."""

from flask import Blueprint

bp = Blueprint("decisions", __name__, url_prefix="/decide")

from app.decisions import routes  # noqa: E402,F401
