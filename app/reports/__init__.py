"""Managers' reports: overdue notifications, SLA and delivery health, engine health, and the
staff morning digest. Definitions live in overdue.py, reading in queries.py and
dashboards.py, pages in routes.py."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from app.reports import routes  # noqa: E402,F401
