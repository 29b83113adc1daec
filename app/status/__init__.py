"""The candidate's status page: no login, reached through the signed link in every email."""

from flask import Blueprint

bp = Blueprint("status", __name__, url_prefix="/status")

from app.status import routes  # noqa: E402,F401
