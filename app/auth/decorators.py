"""Access control for views: roles are ranked recruiter < manager < admin."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import abort, current_app
from flask_login import current_user

from app.models import Role


def role_required(minimum_role: str) -> Callable:
    """Let in users holding `minimum_role` or a higher one.

    Anonymous users are sent to the login page (like `login_required`); signed-in users
    without the role get 403, so they learn the page exists but is not theirs.
    """
    minimum = Role(minimum_role)  # a typo fails when the module is imported, not at runtime

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not current_user.has_role(minimum):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
