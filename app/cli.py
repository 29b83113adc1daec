"""`flask` commands: users, seed, notifications."""

from flask import Flask


def register(app: Flask) -> None:
    from app.notifications.cli import notifications_cli

    app.cli.add_command(notifications_cli)
