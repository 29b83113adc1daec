from flask import Blueprint

bp = Blueprint("message_templates", __name__)

from app.message_templates import routes  # noqa: E402,F401
