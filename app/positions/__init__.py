from flask import Blueprint

bp = Blueprint("positions", __name__)

from app.positions import routes  # noqa: E402,F401
