"""`flask notifications ...`: look at and repair the outbox by hand."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app import clock
from app.extensions import db
from app.models import Notification, NState
from app.models.notifications import OWED

notifications_cli = AppGroup("notifications", help="The outbox: status, reconcile, retry.")


@notifications_cli.command("status")
def status() -> None:
    """Counts by state, oldest owed message, and whether sending is paused."""
    from app.notifications.reconcile import counts_by_state
    from app.notifications.send import sending_paused

    counts = counts_by_state()
    for state in NState:
        click.echo(f"{state.value:<11} {counts.get(state.value, 0):>8}")
    oldest = db.session.scalar(
        sa.select(sa.func.min(Notification.created_at)).where(Notification.state.in_(OWED))
    )
    if oldest is not None:
        click.echo(f"oldest owed: {oldest.isoformat()} ({clock.now() - oldest} ago)")
    pause = sending_paused(clock.now())
    if pause is not None:
        click.echo(f"SENDING PAUSED until {pause.until.isoformat()}: {pause.value}")


@notifications_cli.command("reconcile")
def reconcile_cmd() -> None:
    """Run one reconciler pass now (every terminal application checked) and print what it did."""
    from app.notifications.reconcile import reconcile

    result = reconcile(everywhere=True)
    click.echo(" ".join(f"{k}={v}" for k, v in result.items()))


@notifications_cli.command("retry-failed")
@click.option("--id", "ids", type=int, multiple=True, help="Only these notifications.")
def retry_failed(ids: tuple[int, ...]) -> None:
    """Send failed notifications again (after fixing the address, say)."""
    from app.models import Candidate
    from app.notifications.dispatch import dispatch

    query = sa.select(Notification).where(Notification.state == NState.FAILED.value)
    if ids:
        query = query.where(Notification.id.in_(ids))
    rows = list(db.session.scalars(query))
    now = clock.now()
    for n in rows:
        n.state = NState.PENDING.value
        n.due_at = now
        n.failed_at = None
        n.to_email = db.session.get(Candidate, n.candidate_id).email
    db.session.commit()
    handed = dispatch([n.id for n in rows]) if rows else 0
    click.echo(f"retrying {len(rows)} failed notification(s); {handed} handed to the queue")


@notifications_cli.command("resume")
def resume() -> None:
    """Lift a sending pause after fixing the provider configuration."""
    from app.notifications.send import resume_sending

    resume_sending()
    click.echo("sending resumed; the reconciler re-dispatches what is waiting")
