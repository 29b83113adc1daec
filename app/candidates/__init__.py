from flask import Blueprint

bp = Blueprint("candidates", __name__)

from app.candidates import replies_routes, routes  # noqa: E402,F401
