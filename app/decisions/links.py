"""Signed decision links: like the candidate's status link (app/notifications/links.py),
itsdangerous-signed under their own salt, carrying only the position's id and link version,
expiring after CLIENT_DECISION_LINK_DAYS; bumping `Position.decision_link_version` revokes
every link sent so far."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from app.extensions import db
from app.models import Position
from app.notifications import links
from app.notifications.links import LinkError

SALT = "closeloop.client-decision.v1"


def max_age() -> timedelta:
    return timedelta(days=current_app.config["CLIENT_DECISION_LINK_DAYS"])


def token(position: Position) -> str:
    return links._dumps(SALT, {"c": position.id, "v": position.decision_link_version})


def url(position: Position) -> str:
    return links.external_url("decisions.page", token=token(position))


def read(value: str) -> Position:
    """The position this link decides on, or LinkError (expired, invalid, revoked)."""
    payload, _ = links._load(SALT, value, max_age())
    position = db.session.get(Position, payload["c"])
    if position is None:
        raise LinkError("invalid")
    if payload.get("v") != position.decision_link_version:
        raise LinkError("revoked")
    return position


def revoke(position: Position) -> None:
    position.decision_link_version = (position.decision_link_version or 1) + 1
