"""What every pipeline module shares."""

from __future__ import annotations

from app import labels
from app.models import Position, User


class PipelineError(ValueError):
    """A change that is not allowed; the message is shown to the user as is."""


def actor_id(user: User | None) -> int | None:
    return user.id if user is not None else None


def status_words(position: Position) -> str:
    """ "on hold", "cancelled": a position's status for the middle of a message."""
    return labels.phrase(labels.position_status(position.status))
