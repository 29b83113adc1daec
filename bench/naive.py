"""The naive peer for bench/fanout.py: one RQ job per email, on RQ's default fork `Worker`.

Each job takes one notification id, opens an app context, renders the message with
`app.notifications.render.render`, sends it alone through `SendGridBackend.send_batch([one])`
(one HTTP request) and records it as sent. No batching, no claiming: what a first version of
"send the email in a background job" looks like.

    python -m bench.naive          # a fork worker on the "naive" queue
"""

from __future__ import annotations

import gc
import sys

QUEUE = "naive"
JOB = "bench.naive.send_one"


def send_one(notification_id: int) -> str:
    import sqlalchemy as sa
    from flask import current_app

    from app import clock
    from app.extensions import db
    from app.models import Notification, NState
    from app.notifications.backends import OutgoingEmail
    from app.notifications.render import render
    from app.notifications.sendgrid_backend import SendGridBackend
    from workers.context import job_context

    with job_context():
        n = db.session.get(Notification, notification_id)
        r = render(n)
        message = OutgoingEmail(
            notification_id=n.id,
            to_email=n.candidate.email,
            to_name=n.candidate.name,
            subject=r.subject,
            text=r.text,
            html=r.html,
            category=n.kind,
        )
        [provider_id] = SendGridBackend.from_config(current_app.config).send_batch([message])
        db.session.execute(
            sa.update(Notification)
            .where(Notification.id == n.id)
            .values(state=NState.SENT.value, sent_at=clock.now(), provider_message_id=provider_id)
        )
        db.session.commit()
        return provider_id


def warm(flask_app) -> None:
    """Compile the templates and import what a job needs once, before any fork: every job's
    child inherits them, so the naive peer does not pay for a cold start on each email."""
    from app.notifications import render, sendgrid_backend  # noqa: F401

    env = flask_app.jinja_env
    for name in env.list_templates(filter_func=lambda n: n.startswith("email/")):
        env.get_template(name)


def main() -> int:
    from rq import Worker

    from app.redis_conn import get_redis
    from workers.context import get_app

    app = get_app()  # built before forking, as workers/__main__.py does for the real worker
    with app.app_context():
        conn = get_redis()
        warm(app)
    # As workers/__main__.py does: what start-up loaded is kept out of the collector's scans.
    # The app is built with the collector paused (app.collection_paused), so without this
    # every job's child would walk all of it in its first collection: the naive peer went
    # from ~15 to ~6 emails/s.
    gc.collect()
    gc.freeze()
    name = sys.argv[1] if len(sys.argv) > 1 else None
    Worker([QUEUE], connection=conn, name=name).work(logging_level="WARNING")
    return 0


if __name__ == "__main__":
    sys.exit(main())
