import click
from flask.cli import AppGroup

notifications_cli = AppGroup("notifications", help="The outbox: status, reconcile, retry.")


@notifications_cli.command("status")
def status() -> None:
    click.echo("todo")
