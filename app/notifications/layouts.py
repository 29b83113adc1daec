"""What a notification keeps of the email that was sent, for the audit trail.

An email rendered in full keeps its subject, text and HTML. An email filled in from a
stencil (stencils.py: a fan-out, where a send job's emails of one shape differ only in whom
they are for) keeps its subject and its own values (`Notification.fills`); the layout they
were put into, the same for all of them, is stored once (`EmailLayout`) and found again by
its digest. That is exactly what the provider was given: one layout per request and each
recipient's values for its tags. `Notification.body_text` and `body_html` put the two
together again when read.

A fan-out of 1,000 emails keeps about 0.6 megabytes this way (565 bytes of values each in
bench/fanout.py's run) instead of some 5 megabytes, which PostgreSQL had to compress and write
while the next batch waited.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import EmailLayout, Notification
from app.notifications.backends import SharedBody
from app.notifications.render import Rendered


def digest(shared: SharedBody) -> str:
    """Tells layouts apart by their text and HTML (an HTML part, even empty, or none)."""
    h = hashlib.sha256(shared.text.encode("utf-8"))
    h.update(b"\0" if shared.html is None else b"\1" + shared.html.encode("utf-8"))
    return h.hexdigest()


def store(shared: list[SharedBody]) -> dict[str, int]:
    """The id of each layout (by `SharedBody.key`), stored if it was not already; in the
    caller's transaction. Two jobs storing the same layout at once get one row. The rows
    are locked until the caller commits (PostgreSQL), so an erasure cannot delete a layout
    a batch is about to refer to (`forget_unused`)."""
    if not shared:
        return {}
    digests = {s.key: digest(s) for s in shared}
    rows = {
        digests[s.key]: {"digest": digests[s.key], "body_text": s.text, "body_html": s.html}
        for s in shared
    }
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(EmailLayout)
    found: dict[str, int] = {}
    for _ in range(3):  # again only if an erasure deleted one between the two statements
        missing = [row for d, row in rows.items() if d not in found]
        db.session.execute(insert.values(missing).on_conflict_do_nothing(index_elements=["digest"]))
        query = sa.select(EmailLayout.digest, EmailLayout.id).where(
            EmailLayout.digest.in_([row["digest"] for row in missing])
        )
        if dialect == "postgresql":
            query = query.with_for_update(read=True)
        found.update(db.session.execute(query).all())
        if len(found) == len(rows):
            return {key: found[d] for key, d in digests.items()}
    raise RuntimeError("email layouts could not be stored")


def columns(rendered: Rendered, layout_ids: dict[str, int]) -> dict:
    """The values of a notification's record of `rendered` (see the module's docstring)."""
    if rendered.shared is None:
        return {
            "subject": rendered.subject,
            "body_text": rendered.text,
            "body_html": rendered.html,
            "layout_id": None,
            "fills": None,
        }
    return {
        "subject": rendered.subject,
        "body_text": None,
        "body_html": None,
        "layout_id": layout_ids[rendered.shared.key],
        "fills": rendered.fills,
    }


def forget_unused(layout_ids: set[int]) -> int:
    """Delete those of `layout_ids` no notification refers to any more (an erasure cleared
    the last one); in the caller's transaction. Returns how many went. A layout a send job
    has just taken up again is kept (the job holds it locked; the delete then finds it
    referred to and is undone, alone)."""
    if not layout_ids:
        return 0
    stmt = (
        sa.delete(EmailLayout)
        .where(
            EmailLayout.id.in_(sorted(layout_ids)),
            ~sa.exists().where(Notification.layout_id == EmailLayout.id),
        )
        .execution_options(synchronize_session=False)
    )
    try:
        with db.session.begin_nested():
            return db.session.execute(stmt).rowcount
    except sa.exc.IntegrityError:
        return 0
