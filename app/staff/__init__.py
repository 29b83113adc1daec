"""Staff accounts in the browser: everyone's own profile (/profile: name, phone, time zone,
password, digest) and the admins' user management (/admin/users). `flask users …` does the
same from the command line (app/cli.py); both go through app/staff/services.py.

Other areas add their own sections to the profile page with `add_profile_section(template)`
(e.g. API tokens): each is a template included below the built-in sections, in the order
added, with the page's context (`user`, and whatever the area's context processor adds)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff", __name__)

# Templates of further profile sections, included in order (see the module docstring).
PROFILE_SECTIONS: list[str] = []


def add_profile_section(template: str) -> None:
    if template not in PROFILE_SECTIONS:
        PROFILE_SECTIONS.append(template)


from app.staff import routes  # noqa: E402,F401  (registers the routes on bp)
