"""The staff's own API tokens page, /profile/tokens: make one (shown once), see when each
was last used, revoke. The service is app/api/tokens.py (the CLI uses it too)."""

from flask import Blueprint

from app.staff import add_profile_section

bp = Blueprint("api_tokens", __name__)
# The staff profile page links here.
add_profile_section("api_tokens/_profile_section.html")

from app.api_tokens import routes  # noqa: E402,F401
