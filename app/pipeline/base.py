"""What every pipeline module shares."""

from __future__ import annotations

from app.models import User


class PipelineError(ValueError):
    """A change that is not allowed; the message is shown to the user as is."""


def actor_id(user: User | None) -> int | None:
    return user.id if user is not None else None
