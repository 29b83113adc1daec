"""Logging a contact settles what an application owes, so it is an action on that
application: only someone who may open its position may log one about it (issue 12, item 2).
"""

from __future__ import annotations

import sqlalchemy as sa

from app.models import Contact, Notification, NState
from app.notifications import outbox
from tests import factories as f
from tests.web import Web, sign_in


def _shared_candidate(db):
    """Riley's candidate, also in a position of Sofia's that owes them an email."""
    riley, sofia = f.user(), f.user()
    candidate = f.candidate(name="Shared Person")
    candidate.owner_id = riley.id
    mine = f.application(position_=f.position(owner=riley), candidate_=candidate)
    theirs = f.application(
        position_=f.position(owner=sofia, title="Sofia's Role"), candidate_=candidate
    )
    owed = outbox.owe(theirs, "submitted")
    db.session.commit()
    return riley, candidate, mine, theirs, owed


def test_a_contact_about_an_application_in_someone_elses_position_is_refused(db, app, make_app):
    riley, candidate, _, theirs, owed = _shared_candidate(db)
    before = owed.state
    web = sign_in(Web(make_app().test_client()), riley)

    def contact_about(application_id):
        return web.post(
            f"/candidates/{candidate.id}/contacts",
            data={"channel": "phone", "summary": "Told them", "application_id": application_id},
        )

    refused = contact_about(theirs.id)
    assert refused.status_code == 400
    assert "Not a valid choice" in refused.get_data(as_text=True)
    # What an application that does not exist gets: nothing to learn from it.
    missing = contact_about(theirs.id + 1000)
    assert missing.status_code == 400 and "Not a valid choice" in missing.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Notification, owed.id).state == before != NState.DISCHARGED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_the_contact_form_offers_only_applications_the_recruiter_may_open(db, app, make_app):
    riley, candidate, mine, theirs, _ = _shared_candidate(db)
    web = sign_in(Web(make_app().test_client()), riley)
    page = web.get(f"/candidates/{candidate.id}").get_data(as_text=True)
    form = page[page.index('name="application_id"') :]
    form = form[: form.index("</select>")]
    assert f'value="{mine.id}"' in form
    assert f'value="{theirs.id}"' not in form
    # The profile still shows the whole picture of the person.
    assert "Sofia&#39;s Role" in page or "Sofia's Role" in page


def test_a_contact_about_their_own_application_still_settles_what_it_owes(db, app, make_app):
    riley, candidate, mine, _, _ = _shared_candidate(db)
    owed = outbox.owe(mine, "submitted", key_extra="mine")
    db.session.commit()
    web = sign_in(Web(make_app().test_client()), riley)
    response = web.post(
        f"/candidates/{candidate.id}/contacts",
        data={
            "channel": "phone",
            "summary": "Called them",
            "application_id": mine.id,
            "settle": owed.id,
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Notification, owed.id).state == NState.DISCHARGED
