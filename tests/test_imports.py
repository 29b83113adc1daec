"""CSV import of candidates: parsing, the preview's row errors, confirming once, one
transaction, re-validation, who may see an import, and large files through a real worker."""

from __future__ import annotations

import gc
import io

import pytest
import sqlalchemy as sa

from app.imports.parsing import FileProblem, parse, sample_csv
from app.imports.running import job_id_for
from app.models import (
    Application,
    Candidate,
    CandidateImport,
    PositionStatus,
    Stage,
    StageEvent,
)
from app.redis_conn import get_redis
from tests import factories as f
from tests.processes import Proc, wait_until
from tests.web import Web

PASSWORD = "correct horse"


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


def sign_in(web, role: str = "recruiter"):
    user = f.user(role, password=PASSWORD)
    web.post("/login", data={"email": user.email, "password": PASSWORD})
    return user


def upload(web, content: str | bytes, *, target="", filename="candidates.csv"):
    data = content.encode() if isinstance(content, str) else content
    return web.post(
        "/imports/new",
        data={"file": (io.BytesIO(data), filename), "target": str(target)},
        content_type="multipart/form-data",
    )


def latest_import(db) -> CandidateImport:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(CandidateImport).order_by(CandidateImport.id.desc())
    ).first()


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def rows_by_line(imp: CandidateImport) -> dict[int, dict]:
    return {r["line"]: r for r in imp.rows}


# -- parsing ----------------------------------------------------------------------------------


def test_parse_accepts_aliases_a_bom_and_semicolons():
    text = (
        "\ufeffFull name;E-mail;Mobile;Time Zone;Source\n"
        "Ana Silva;ana@x.test;+351 9;Europe/Lisbon;LinkedIn\n\n"
    )
    parsed = parse(text.encode("utf-8"), max_rows=10)
    assert parsed.delimiter == ";"
    assert parsed.ignored_columns == ["Source"]
    [row] = parsed.rows
    assert (row["name"], row["email"], row["phone"], row["timezone"]) == (
        "Ana Silva",
        "ana@x.test",
        "+351 9",
        "Europe/Lisbon",
    )
    assert row["errors"] == [] and row["line"] == 2


def test_parse_joins_first_and_last_name_and_flags_extra_values():
    text = 'First name,Last name,Email\nBen,Okafor,ben@x.test\n"Chloé",Martin,c@x.test,oops\n'
    rows = parse(text.encode(), max_rows=10).rows
    assert rows[0]["name"] == "Ben Okafor"
    assert rows[1]["name"] == "Chloé Martin"
    assert "has 4 values but the header has 3 columns" in rows[1]["errors"][0].lower()


def test_parse_flags_rows_that_are_not_utf8():
    data = b"name,email\nAna,ana@x.test\n" + "Zoë,zoe@x.test\n".encode("cp1252")
    rows = parse(data, max_rows=10).rows
    assert rows[0]["errors"] == []
    assert "not UTF-8" in rows[1]["errors"][0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"PK\x03\x04\x00\x00binary", "not a CSV file"),
        (b"email,phone\na@x.test,1\n", "No name column"),
        (b"name,email\n", "no rows"),
        (b"name\n" + b"x\n" * 11, "more than 10 rows"),
    ],
)
def test_parse_rejects_unusable_files(data, message):
    with pytest.raises(FileProblem, match=message):
        parse(data, max_rows=10)


def test_sample_csv_downloads_and_imports_cleanly(web):
    sign_in(web)
    response = web.get("/imports/sample.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True) == sample_csv()
    rows = parse(response.get_data(), max_rows=10).rows
    assert len(rows) == 4 and not any(r["errors"] for r in rows)
    assert response.get_data(as_text=True).splitlines()[0] == "name,email,phone,timezone,language"
    assert [r["language"] for r in rows] == ["pt-PT", "", "fr", "de"]
    page = web.get("/imports/new").get_data(as_text=True)
    assert "Preferred language" in page and "fr-CA" in page


# -- preview ----------------------------------------------------------------------------------

MIXED = (
    "Name,Email,Phone,Timezone\n"
    "Ana Silva,ana@example.com,+351 1,Europe/Lisbon\n"  # 2 valid
    ",nameless@example.com,,\n"  # 3 missing name
    "Bad Email,not-an-email,,\n"  # 4 bad email
    "Dup One,dup@example.com,,\n"  # 5 valid: the first with its address is kept
    "Dup Two,DUP@example.com,,\n"  # 6 duplicate of 5: flagged
    "Zone,zone@example.com,,Mars/Olympus\n"  # 7 unknown time zone
    "Old Friend,old@example.com,,\n"  # 8 existing candidate
    "Default Zone,dz@example.com,,\n"  # 9 valid, agency time zone
)


def test_preview_lists_each_row_error_and_writes_nothing(web, db):
    sign_in(web)
    f.candidate(name="Olga On-File", email="Old@Example.com")  # the file says "Old Friend"
    response = upload(web, MIXED)
    assert response.status_code == 302
    imp = latest_import(db)
    rows = rows_by_line(imp)
    assert rows[2]["errors"] == [] and rows[2]["action"] == "create"
    assert rows[3]["errors"] == ["Name is missing."]
    assert "not-an-email" in rows[4]["errors"][0] and "not valid" in rows[4]["errors"][0]
    # Issue 17.7: the first row with an address is kept, only the later one is flagged.
    assert rows[5]["errors"] == [] and rows[5]["action"] == "create"
    assert rows[6]["errors"] == [
        "Same email as row 5 in this file: row 5 is imported, this one is left out."
    ]
    assert "Unknown time zone" in rows[7]["errors"][0]
    assert rows[8]["errors"] == ["Already a candidate (same email)."]
    assert rows[9]["timezone"] == "Europe/London" and rows[9]["errors"] == []
    assert (imp.total_rows, imp.valid_rows, imp.status) == (8, 3, "previewed")
    # Nothing but the import itself was written.
    assert count(db, Candidate) == 1 and count(db, Application) == 0

    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 rows ready, 5 with errors" in page
    assert "import the 3 valid rows" in page
    assert "Same email as row 5" in page and "Mars/Olympus" in page
    # Another recruiter's candidate is neither named nor linked (issue 12: the preview was
    # a way to look up who has an address).
    assert "Olga On-File" not in page and 'href="/candidates/' not in page
    assert "a candidate you cannot see" in page


def test_existing_candidate_is_attached_to_the_position_unless_already_in_it(web, db):
    user = sign_in(web)
    position = f.position(owner=user)
    known = f.candidate(name="Known", email="known@example.com")
    known.owner_id = user.id
    inside = f.candidate(name="Inside", email="inside@example.com")
    f.application(position_=position, candidate_=inside)
    upload(
        web, "name,email\nKnown,KNOWN@example.com\nInside,inside@example.com\n", target=position.id
    )
    rows = rows_by_line(latest_import(db))
    assert rows[2]["action"] == "attach" and rows[2]["existing_id"] == known.id
    assert rows[3]["errors"] == [f"Already in {position.title}."]
    page = web.get(f"/imports/{latest_import(db).id}").get_data(as_text=True)
    assert f'href="/candidates/{known.id}"' in page  # theirs: linked
    assert f'href="/candidates/{inside.id}"' in page  # in their position: linked


def test_upload_errors_are_shown_on_the_form(web, db, make_app):
    sign_in(web)
    response = upload(web, b"PK\x03\x04\x00\x00", filename="people.xlsx")
    assert response.status_code == 400
    assert "not a CSV file" in response.get_data(as_text=True)
    small = Web(make_app(IMPORT_MAX_BYTES=10 * 1024).test_client())
    sign_in(small)
    response = upload(small, "name\n" + "x" * (10 * 1024) + "\n")
    assert response.status_code == 400
    assert "larger than 10 KB" in response.get_data(as_text=True)
    assert count(db, CandidateImport) == 0


def test_only_own_open_positions_are_offered(web, db):
    user = sign_in(web)
    mine = f.position(owner=user, title="Mine")
    closed = f.position(owner=user, title="Closed one")
    closed.status = PositionStatus.FILLED.value
    theirs = f.position(title="Theirs")
    page = web.get("/imports/new").get_data(as_text=True)
    assert "Mine" in page and "Closed one" not in page and "Theirs" not in page
    for position in (closed, theirs):
        response = upload(web, "name\nAna\n", target=position.id)
        assert response.status_code == 400
    assert count(db, CandidateImport) == 0
    assert upload(web, "name\nAna\n", target=mine.id).status_code == 302


# -- confirm ----------------------------------------------------------------------------------


def test_confirm_into_a_position_creates_candidates_and_applications(web, db):
    user = sign_in(web)
    position = f.position(owner=user)
    known = f.candidate(name="Known", email="known@example.com")
    upload(
        web,
        "name,email\nAna,ana@example.com\nBad,bad@\nKnown,known@example.com\n",
        target=position.id,
    )
    imp = latest_import(db)
    response = web.post(f"/imports/{imp.id}/confirm")
    assert response.status_code == 302
    imp = latest_import(db)
    assert (imp.status, imp.created_count, imp.attached_count) == ("done", 1, 2)
    ana = db.session.scalar(sa.select(Candidate).where(Candidate.email == "ana@example.com"))
    assert ana.owner_id == user.id and ana.timezone == "Europe/London"
    apps = db.session.scalars(sa.select(Application).where(Application.position_id == position.id))
    assert {(a.candidate_id, a.stage) for a in apps} == {
        (ana.id, Stage.SOURCED.value),
        (known.id, Stage.SOURCED.value),
    }
    assert count(db, StageEvent) == 2
    assert count(db, Candidate) == 2  # "Bad" was not imported, "Known" not copied
    page = web.get(f"/imports/{imp.id}").get_data(as_text=True)
    assert "1 candidate created" in page and "2 added to" in page
    assert "Ana" in page and "Known" in page


def test_the_garbage_collector_waits_while_an_import_is_written(web, db):
    """An import builds its rows and keeps them until the commit: Python's collector scans,
    which find nothing to free there, are paused meanwhile (bench/imports.py: 5,000 rows in
    0.46 s with them, 0.35 s without) and run again after."""
    user = sign_in(web)
    position = f.position(owner=user)
    lines = [f"C{i},c{i}@example.com" for i in range(50)]
    upload(web, "name,email\n" + "\n".join(lines) + "\n", target=position.id)
    seen = []

    def committing(session):
        seen.append(gc.isenabled())

    sa.event.listen(db.session, "before_commit", committing)
    try:
        web.post(f"/imports/{latest_import(db).id}/confirm")
    finally:
        sa.event.remove(db.session, "before_commit", committing)
    assert latest_import(db).status == "done"
    assert False in seen  # the import's own commit
    assert gc.isenabled()


def test_rows_are_written_in_chunks_in_the_order_of_the_file(web, db, monkeypatch):
    from app.imports import running

    monkeypatch.setattr(running, "CHUNK_ROWS", 2)  # 5 new rows and one existing: 3 chunks
    user = sign_in(web)
    position = f.position(owner=user)
    known = f.candidate(name="Known", email="known@example.com")
    names = ["Eve", "Dan", "Known", "Cy", "Bo", "Al"]
    lines = [f"{n},{n.lower()}@example.com" for n in names]
    upload(web, "name,email\n" + "\n".join(lines) + "\n", target=position.id)
    web.post(f"/imports/{latest_import(db).id}/confirm")
    imp = latest_import(db)
    assert (imp.status, imp.created_count, imp.attached_count) == ("done", 5, 6)
    made = {c.id: c for c in db.session.scalars(sa.select(Candidate))}
    assert [made[i].name for i in imp.result["created"]] == ["Eve", "Dan", "Cy", "Bo", "Al"]
    assert imp.result["attached"] == [known.id]
    # Each new candidate has what the model would have given it: their own link secret.
    new = [made[i] for i in imp.result["created"]]
    assert len({c.token_secret for c in new}) == 5 and all(len(c.token_secret) > 30 for c in new)
    assert all(c.token_version == 1 and c.optional_updates for c in new)
    apps = db.session.scalars(sa.select(Application).where(Application.position_id == position.id))
    assert sorted(a.candidate_id for a in apps) == sorted(imp.result["created"] + [known.id])
    events = db.session.scalars(sa.select(StageEvent)).all()
    assert len(events) == 6 and {(e.to_stage, e.version) for e in events} == {("sourced", 1)}
    assert {e.actor_id for e in events} == {user.id}


def test_a_large_import_leaves_the_planner_statistics_of_what_it_wrote(web, db, monkeypatch):
    """Autovacuum may be off or late: a page filtered on the imported rows must not be
    planned as if they were not there (PostgreSQL)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    from app.imports import running

    monkeypatch.setattr(running, "ANALYZE_AFTER_ROWS", 3)  # a "large" import, in a test
    since = db.session.scalar(sa.text("SELECT now()"))
    user = sign_in(web)
    position = f.position(owner=user)
    upload(web, "name\nAna\nBo\nCy\n", target=position.id)
    web.post(f"/imports/{latest_import(db).id}/confirm")
    assert latest_import(db).status == "done"

    def analyzed() -> set[str]:
        db.session.commit()
        return set(
            db.session.scalars(
                sa.text(
                    "SELECT relname FROM pg_stat_user_tables WHERE last_analyze >= :since "
                    "AND relname IN ('candidates', 'applications', 'stage_events')"
                ),
                {"since": since},
            )
        )

    wait_until(lambda: len(analyzed()) == 3, timeout=10, message="ANALYZE reported")


def test_a_second_confirm_is_refused(web, db):
    sign_in(web)
    upload(web, "name\nAna\n")
    imp = latest_import(db)
    web.post(f"/imports/{imp.id}/confirm")
    response = web.post(f"/imports/{imp.id}/confirm", follow_redirects=True)
    assert "already been confirmed" in response.get_data(as_text=True)
    assert count(db, Candidate) == 1


def test_confirm_revalidates_and_writes_nothing_if_a_row_became_invalid(web, db):
    sign_in(web)
    upload(web, "name,email\nAna,ana@example.com\nBen,ben@example.com\n")
    imp = latest_import(db)
    f.candidate(name="Ben (added meanwhile)", email="BEN@example.com")
    response = web.post(f"/imports/{imp.id}/confirm")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "nothing was imported" in page and "Already a candidate" in page
    imp = latest_import(db)
    assert imp.status == "previewed" and imp.valid_rows == 1
    assert count(db, Candidate) == 1  # only the one added meanwhile
    # The user can now import what is still valid.
    web.post(f"/imports/{imp.id}/confirm")
    assert latest_import(db).status == "done" and count(db, Candidate) == 2


def test_a_row_that_became_valid_is_not_imported_unseen(web, db):
    sign_in(web)
    old = f.candidate(name="Old", email="old@example.com")
    upload(web, "name,email\nAna,ana@example.com\nOld,old@example.com\n")
    old.email = "changed@example.com"  # row 3 is no longer a duplicate
    db.session.commit()
    imp = latest_import(db)
    assert web.post(f"/imports/{imp.id}/confirm").status_code == 409
    assert count(db, Candidate) == 1
    imp = latest_import(db)
    assert imp.valid_rows == 2 and imp.status == "previewed"


def test_a_database_failure_mid_import_leaves_nothing(web, db):
    user = sign_in(web)
    position = f.position(owner=user)
    # A real constraint the validation does not know about: row 4 repeats row 2's phone.
    db.session.execute(
        sa.text("CREATE UNIQUE INDEX ix_test_phone_once_mid_import ON candidates (phone)")
    )
    db.session.commit()
    try:
        upload(
            web,
            "name,email,phone\nA,a@example.com,111\nB,b@example.com,222\nC,c@example.com,111\nD,d@example.com,333\n",
            target=position.id,
        )
        imp = latest_import(db)
        assert imp.valid_rows == 4
        response = web.post(f"/imports/{imp.id}/confirm", follow_redirects=True)
        page = response.get_data(as_text=True)
        imp = latest_import(db)
        assert imp.status == "failed"
        assert "Nothing was imported" in page and "at row 4" in imp.error
        assert count(db, Candidate) == 0 and count(db, Application) == 0
        assert count(db, StageEvent) == 0
    finally:
        db.session.rollback()
        db.session.execute(sa.text("DROP INDEX ix_test_phone_once_mid_import"))
        db.session.commit()


def test_a_failing_job_rolls_back_marks_the_import_failed_and_raises_for_rq(web, db, make_app):
    from app.imports.running import execute

    web = Web(make_app(IMPORT_INLINE_ROWS=1).test_client())
    sign_in(web)
    upload(web, "name,email,phone\nA,a@example.com,111\nB,b@example.com,111\n")
    imp = latest_import(db)
    web.post(f"/imports/{imp.id}/confirm")  # queued: no worker runs in this test
    db.session.execute(
        sa.text("CREATE UNIQUE INDEX ix_test_phone_once_failing_job ON candidates (phone)")
    )
    db.session.commit()
    try:
        with pytest.raises(sa.exc.IntegrityError):
            execute(imp.id)  # what the RQ job runs
        imp = latest_import(db)
        assert imp.status == "failed" and "at row 3" in imp.error
        assert count(db, Candidate) == 0
        assert execute(imp.id) == "failed"  # a retried job does nothing
    finally:
        db.session.rollback()
        db.session.execute(sa.text("DROP INDEX ix_test_phone_once_failing_job"))
        db.session.commit()


def test_a_job_that_finds_a_changed_row_goes_back_to_the_preview(web, db, make_app):
    from app.imports.running import execute

    web = Web(make_app(IMPORT_INLINE_ROWS=1).test_client())
    sign_in(web)
    upload(web, "name,email\nAna,ana@example.com\nBen,ben@example.com\n")
    imp = latest_import(db)
    web.post(f"/imports/{imp.id}/confirm")  # queued
    f.candidate(name="Ben", email="ben@example.com")  # added before the worker ran
    db.session.commit()
    assert execute(imp.id) == "changed"
    assert count(db, Candidate) == 1
    page = web.get(f"/imports/{imp.id}").get_data(as_text=True)
    assert "Some rows changed since the preview" in page and "Already a candidate" in page
    assert latest_import(db).status == "previewed"


def test_confirm_is_refused_when_the_position_closed_since_the_preview(web, db):
    user = sign_in(web)
    position = f.position(owner=user, title="Night Nurse")
    upload(web, "name\nAna\n", target=position.id)
    position.status = PositionStatus.CANCELLED.value
    db.session.commit()
    imp = latest_import(db)
    response = web.post(f"/imports/{imp.id}/confirm", follow_redirects=True)
    assert "Night Nurse is cancelled" in response.get_data(as_text=True)
    assert latest_import(db).status == "previewed" and count(db, Candidate) == 0


def test_confirm_needs_a_csrf_token(app, make_app, db):
    web = Web(make_app(WTF_CSRF_ENABLED=True).test_client())
    user = f.user(password=PASSWORD)
    imp = CandidateImport(user_id=user.id, filename="x.csv", rows=[], result={})
    db.session.add(imp)
    db.session.commit()
    page = web.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    web.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert web.post(f"/imports/{imp.id}/confirm").status_code == 400


# -- who may see an import --------------------------------------------------------------------


def test_another_recruiter_gets_404_and_a_manager_may_confirm(web, db, make_app):
    sign_in(web)
    upload(web, "name\nAna\n")
    imp = latest_import(db)
    other = Web(make_app().test_client())
    sign_in(other)
    assert other.get(f"/imports/{imp.id}").status_code == 404
    assert other.get(f"/imports/{imp.id}/progress.json").status_code == 404
    assert other.post(f"/imports/{imp.id}/confirm").status_code == 404
    assert count(db, Candidate) == 0
    manager = Web(make_app().test_client())
    sign_in(manager, "manager")
    assert manager.get(f"/imports/{imp.id}").status_code == 200
    assert manager.post(f"/imports/{imp.id}/confirm").status_code == 302
    assert count(db, Candidate) == 1


def test_anonymous_goes_to_login(web):
    for url in ("/imports/new", "/imports/1", "/imports/sample.csv"):
        response = web.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# -- large files: a real RQ worker ------------------------------------------------------------


@pytest.mark.workers
def test_a_large_file_imports_through_a_worker_with_progress(
    app, db, make_app, worker_env, tmp_path
):
    web = Web(make_app(IMPORT_INLINE_ROWS=20).test_client())
    user = sign_in(web)
    position = f.position(owner=user)
    lines = ["name,email"] + [f"Person {i},p{i}@example.com" for i in range(60)]
    upload(web, "\n".join(lines) + "\n", target=position.id)
    imp = latest_import(db)
    response = web.post(f"/imports/{imp.id}/confirm")
    assert response.status_code == 302
    assert latest_import(db).status == "importing"
    assert count(db, Candidate) == 0
    page = web.get(f"/imports/{imp.id}").get_data(as_text=True)
    assert "Waiting for a worker" in page and "progress-bar" in page
    assert web.get(f"/imports/{imp.id}/progress.json").get_json()["status"] == "importing"
    assert job_id_for(imp.id).encode() in get_redis().lrange("rq:queue:maintenance", 0, -1)

    db.session.commit()  # on SQLite an open transaction here would lock the worker out
    worker = Proc(
        ["-m", "workers", "worker", "--burst", "--simple"], worker_env, tmp_path / "w.log"
    )
    try:
        wait_until(lambda: not worker.alive(), timeout=60, message="burst worker to finish")
    finally:
        worker.stop()
        print(worker.output()[-3000:])  # shown when the test fails
    info = web.get(f"/imports/{imp.id}/progress.json").get_json()
    assert (info["status"], info["done"], info["total"], info["percent"]) == ("done", 60, 60, 100)
    assert count(db, Candidate) == 60 and count(db, Application) == 60
    assert "60 candidates created" in web.get(f"/imports/{imp.id}").get_data(as_text=True)


def test_a_lost_job_marks_the_import_failed(web, db, make_app):
    from datetime import timedelta

    from app import clock

    web = Web(make_app(IMPORT_INLINE_ROWS=1).test_client())
    sign_in(web)
    upload(web, "name\nAna\nBen\n")
    imp = latest_import(db)
    get_redis().flushdb()  # Redis lost the queue: the job will never run
    web.post(f"/imports/{imp.id}/confirm")
    get_redis().flushdb()
    later = clock.now() + timedelta(minutes=5)
    with clock.frozen(later):
        page = web.get(f"/imports/{imp.id}").get_data(as_text=True)
    assert "The import failed" in page and "worker was lost" in page
    assert latest_import(db).status == "failed" and count(db, Candidate) == 0


def test_a_job_that_goes_as_the_page_reads_it_fails_the_import_not_the_page(
    web, db, make_app, monkeypatch
):
    """The import's page asks RQ about a job that has run long: if the job goes between
    RQ's read and its status (it finished and was removed), the page still answers, and the
    import counts as lost (the page used to answer 409 on RQ's InvalidJobOperation)."""
    from datetime import timedelta

    from app import clock
    from tests.outage import jobs_gone_once_fetched

    web = Web(make_app(IMPORT_INLINE_ROWS=1).test_client())
    sign_in(web)
    upload(web, "name\nAna\nBen\n")
    imp = latest_import(db)
    web.post(f"/imports/{imp.id}/confirm")  # queued; no worker runs it here
    jobs_gone_once_fetched(monkeypatch)
    with clock.frozen(clock.now() + timedelta(minutes=5)):
        response = web.get(f"/imports/{imp.id}")
    assert response.status_code == 200
    assert "worker was lost" in response.get_data(as_text=True)
    assert latest_import(db).status == "failed" and count(db, Candidate) == 0


def test_the_same_address_twice_imports_the_first_row(web, db):
    """Issue 17.7: both rows used to be rejected, so the original did not land either."""
    sign_in(web)
    upload(web, "name,email\nTara First,tara@example.com\nTara Again,TARA@example.com\n")
    imp = latest_import(db)
    assert imp.valid_rows == 1
    web.post(f"/imports/{imp.id}/confirm")
    names = list(db.session.scalars(sa.select(Candidate.name)))
    assert names == ["Tara First"]
