"""Data-protection requests: a candidate's data as JSON, and erasure (admin UI and CLI)."""

from flask import Blueprint

bp = Blueprint("privacy", __name__, url_prefix="/admin/privacy", cli_group="privacy")

from app.privacy import cli, routes  # noqa: E402,F401
