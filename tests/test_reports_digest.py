"""The morning digest: who gets what and when, written once per user per day, sent through the
same queue and email backend as candidate mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from rq import Queue

from app import clock
from app.extensions import db
from app.models import DigestSetting, MailboxMessage, StaffMessage, Stage
from app.redis_conn import get_redis
from app.reports import digest, overdue
from tests import factories as f
from tests.outage import jobs_gone_once_fetched

PASSWORD = "correct horse"
CREATED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Monday
WEDNESDAY = datetime(2026, 11, 18, 6, 30, tzinfo=UTC)  # 06:30 in London


@pytest.fixture
def staff(app):
    with clock.frozen(CREATED) as clk:
        people = {
            "manager": f.user("manager", password=PASSWORD, name="Morgan"),
            "admin": f.user("admin", name="Ada Admin"),
            "riley": f.user("recruiter", name="Riley"),
            "sofia": f.user("recruiter", name="Sofia"),
            "quiet": f.user("manager", name="Quinn"),
            "gone": f.user("manager", name="Gone", active=False),
            "late": f.user("recruiter", name="Lee"),
        }
        db.session.add(DigestSetting(user_id=people["quiet"].id, enabled=False, hour=7))
        db.session.add(DigestSetting(user_id=people["late"].id, enabled=True, hour=9))
        position = f.position(owner=people["riley"], title="Backend <Engineer>")
        late_position = f.position(owner=people["late"], title="Nurse")
        for i in range(12):
            clk.current = CREATED + timedelta(minutes=i)
            f.application(
                position_=position,
                candidate_=f.candidate(name=f"Candidate {i:02d}"),
                stage=Stage.SUBMITTED,
            )
        f.application(position_=late_position, stage=Stage.SUBMITTED)
        db.session.commit()
        clk.current = WEDNESDAY
        overdue.refresh()
        yield people, clk


def _messages() -> dict[int, StaffMessage]:
    return {m.user_id: m for m in db.session.scalars(sa.select(StaffMessage))}


def test_nothing_before_the_hour_then_one_each_per_day(staff):
    people, clk = staff
    assert digest.build_due() == []
    clk.current = WEDNESDAY + timedelta(minutes=35)  # 07:05
    built = digest.build_due()
    rows = _messages()
    assert len(built) == 3  # manager, admin, riley
    assert {u for u, m in rows.items() if m.state == "pending"} == {
        people["manager"].id,
        people["admin"].id,
        people["riley"].id,
    }
    assert rows[people["sofia"].id].state == "skipped"  # nothing overdue for her
    for who in ("quiet", "gone", "late"):
        assert people[who].id not in rows
    assert digest.build_due() == []  # the day is written once
    clk.current = WEDNESDAY + timedelta(hours=3)  # 09:30: Lee's hour
    assert len(digest.build_due()) == 1
    assert _messages()[people["late"].id].item_count == 1
    clk.current = WEDNESDAY + timedelta(days=1, minutes=35)
    assert len(digest.build_due()) == 3  # Thursday is a new day (Lee waits for 09:00)


def test_no_digest_on_a_weekend_or_bank_holiday(staff, make_app):
    _, clk = staff
    clk.current = datetime(2026, 11, 21, 8, tzinfo=UTC)  # Saturday
    assert digest.build_due() == []
    clk.current = datetime(2026, 12, 25, 8, tzinfo=UTC)  # Christmas Day, a Friday
    assert digest.build_due() == []


def test_manager_gets_counts_and_the_ten_oldest(staff):
    people, clk = staff
    clk.current = WEDNESDAY + timedelta(minutes=35)
    d = digest.build_digest(people["manager"])
    assert d.item_count == 13
    assert d.subject == "Closeloop: 13 overdue items across the agency"
    assert "Silent: 13" in d.text
    listed = [line for line in d.text.splitlines() if line.startswith("* ")]
    assert len(listed) == 10
    assert listed[0].startswith("* Candidate 00") and listed[9].startswith("* Candidate 09")
    assert "...and 3 more." in d.text
    assert "http://127.0.0.1:5000/reports/overdue" in d.text
    assert "Backend &lt;Engineer&gt;" in d.html and "Backend <Engineer>" not in d.html


def test_recruiter_gets_their_own_list(staff):
    people, clk = staff
    d = digest.build_digest(people["riley"])
    assert d.subject == "Closeloop: 12 overdue items on your positions"
    listed = [line for line in d.text.splitlines() if line.startswith("* ")]
    assert len(listed) == 12 and "more." not in d.text
    assert "/reports/overdue" not in d.text  # the report itself is for managers
    assert "/reports/applications/" in d.text
    assert digest.build_digest(people["sofia"]) is None


def test_sent_through_the_notifications_queue_and_the_backend(staff):
    people, clk = staff
    clk.current = WEDNESDAY + timedelta(minutes=35)
    result = digest.tick()
    assert result == {"reclaimed": 0, "built": 3, "dispatched": 3}
    queue = Queue("notifications", connection=get_redis())
    jobs = [queue.fetch_job(job_id) for job_id in queue.job_ids]
    assert {j.func_name for j in jobs} == {"workers.jobs.send_staff_messages"}
    ids = sorted(j.args[0][0] for j in jobs)
    assert digest.tick()["dispatched"] == 0  # the live jobs already carry them
    counts = digest.send_staff_messages(ids)
    assert counts == {"claimed": 3, "sent": 3, "failed": 0, "retry": 0}
    assert digest.send_staff_messages(ids)["claimed"] == 0  # a repeated job sends nothing
    mail = {m.to_email: m for m in db.session.scalars(sa.select(MailboxMessage))}
    manager_mail = mail[people["manager"].email]
    assert manager_mail.subject == "Closeloop: 13 overdue items across the agency"
    assert manager_mail.notification_id is None  # not a candidate message
    assert manager_mail.headers["X-Closeloop-Staff-Message"].isdigit()
    assert all(m.state == "sent" and m.sent_at for m in _messages().values() if m.item_count)


def test_paused_sending_keeps_digests_owed(staff):
    from app.notifications.send import pause_sending, resume_sending

    _, clk = staff
    clk.current = WEDNESDAY + timedelta(minutes=35)
    ids = digest.build_due()
    pause_sending("SendGrid rejected our API key (401)")
    assert digest.send_staff_messages(ids) == {"paused": 3}
    assert {m.state for m in _messages().values() if m.item_count} == {"pending"}
    resume_sending()
    assert digest.send_staff_messages(ids)["sent"] == 3


def test_a_dead_worker_is_reclaimed_and_redis_trouble_loses_nothing(staff, make_app):
    _, clk = staff
    clk.current = WEDNESDAY + timedelta(minutes=35)
    ids = digest.build_due()
    digest.claim(ids[:1], clk.current)  # a worker took one and died
    clk.current += timedelta(minutes=10)  # its lease is over
    db.session.commit()
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with broken.app_context():
        result = digest.tick()
        db.session.remove()
    assert result["reclaimed"] == 1 and result["dispatched"] == 0
    db.session.expire_all()
    assert {m.state for m in _messages().values() if m.item_count} == {"pending"}
    assert digest.tick()["dispatched"] == 3  # Redis is back: all three go


def test_a_finished_job_gone_as_it_is_replaced_does_not_stop_the_dispatch(staff, monkeypatch):
    """A digest still owed after its job finished gets a new job under the same id: the old
    one is removed first. When it goes by itself meanwhile (its result expires), RQ raises
    asking for its status; the dispatch must go on and hand every digest over."""
    _, clk = staff
    clk.current = WEDNESDAY + timedelta(minutes=35)
    ids = digest.build_due()
    assert digest.dispatch(ids) == 3
    queue = Queue("notifications", connection=get_redis())
    for job in [queue.fetch_job(job_id) for job_id in queue.job_ids]:
        job.set_status("finished")  # ran, yet its message is still owed
        queue.remove(job)
    jobs_gone_once_fetched(monkeypatch)
    assert digest.dispatch(ids) == 3
    assert len(queue.job_ids) == 3


def test_settings_page(staff, make_app):
    people, _ = staff
    web = make_app().test_client()
    email = people["manager"].email
    db.session.commit()  # SQLite: no transaction of ours may hold the lock during requests
    web.post("/login", data={"email": email, "password": PASSWORD})
    page = web.get("/reports/digest").get_data(as_text=True)
    assert 'data-testid="digest-form"' in page and 'data-testid="digest-preview"' in page
    bad = web.post("/reports/digest", data={"enabled": "y", "hour": "25"})
    assert bad.status_code == 400
    ok = web.post("/reports/digest", data={"hour": "8"})  # unchecked: disabled
    assert ok.status_code == 302
    db.session.expire_all()
    setting = db.session.get(DigestSetting, people["manager"].id)
    assert (setting.enabled, setting.hour) == (False, 8)
    assert digest.settings_for(people["riley"]) == (True, 7)


def test_a_day_with_nothing_at_the_hour_still_gets_its_digest_at_a_later_hour(staff):
    """Issue 17.6: nothing overdue at 07:05 settles only that hour's run. Sofia moves her hour
    to 11 the same day, when two items are overdue (the settings page previews them): the
    digest goes at 11 with those two."""
    people, clk = staff
    clk.current = WEDNESDAY + timedelta(minutes=35)  # 07:05
    digest.build_due()
    assert _messages()[people["sofia"].id].state == "skipped"
    with clock.frozen(CREATED):
        position = f.position(owner=people["sofia"], title="Designer")
        for name in ("Ana", "Ben"):
            f.application(position_=position, candidate_=f.candidate(name=name))
        db.session.commit()
    overdue.refresh(WEDNESDAY + timedelta(hours=3))
    digest.save_settings(people["sofia"], enabled=True, hour=11)
    preview = digest.build_digest(people["sofia"])
    assert preview is not None and preview.item_count == 2
    clk.current = WEDNESDAY + timedelta(hours=4, minutes=35)  # 11:05
    built = digest.build_due()
    sent = [m for m in db.session.scalars(sa.select(StaffMessage)) if m.id in built]
    assert (people["sofia"].id, 2) in [(m.user_id, m.item_count) for m in sent]
    assert digest.build_due() == []  # and only once
