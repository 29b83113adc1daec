from flask import Blueprint

bp = Blueprint("devmail", __name__, url_prefix="/dev/mailbox")

from app.devmail import routes  # noqa: E402,F401
