"""The probe's 5xx answers to bad input (issue 12, item 7), one regression test each; the
sweep over every route is tests/test_bad_input.py."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from app.models import Application, CandidateImport
from app.redis_conn import get_redis
from tests import world


@pytest.fixture
def team(db):
    return world.staff()


@pytest.fixture
def clients(make_app, team):
    return world.clients(make_app, team, **world.ALL_ROUTES)


@pytest.mark.parametrize("huge", ["2147483648", "9223372036854775808", "9" * 40])
def test_ids_beyond_an_integer_column_are_not_found(team, clients, huge):
    rec = world.records(team.owner)
    assert clients["owner"].get(f"/candidates/{huge}").status_code == 404
    assert (
        clients["link"].post(f"/status/{rec.token}/applications/{huge}/update").status_code == 404
    )
    assert clients["manager"].get(f"/reports/applications/{huge}").status_code == 404
    # ... and in query strings: ignored like any other number that is no id.
    assert clients["owner"].get(f"/candidates?page={huge}").status_code == 200
    assert clients["admin"].get(f"/templates/submitted?client={huge}").status_code == 404
    assert clients["manager"].get(f"/queue?recruiter={huge}").status_code == 200


@pytest.mark.parametrize(
    "how",
    [
        {"query_string": "next=%00"},
        {"data": {"email": "a\x00b@example.com", "password": "x"}},
        {"data": {"email\x00": "a@example.com", "password": "x"}},
    ],
    ids=["query string", "form value", "form name"],
)
def test_a_nul_byte_is_refused_with_400_even_before_signing_in(clients, how):
    response = clients["anon"].post("/login", **how)
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_a_nul_in_json_or_an_upload_name_is_refused(team, clients):
    json_nul = clients["owner"].post("/templates/submitted/preview", json={"subject": "a\x00"})
    assert json_nul.status_code == 400
    deep = '{"subject": ' + "[" * 5000 + "]" * 5000 + "}"
    nested = clients["owner"].post(
        "/templates/submitted/preview", data=deep, content_type="application/json"
    )
    assert nested.status_code == 400
    upload = clients["owner"].post(
        "/imports/new",
        data={"target": "", "file": (io.BytesIO(b"name\nIvy\n"), "a\x00b.csv")},
    )
    assert upload.status_code == 400


def test_an_interview_on_the_last_day_of_the_calendar_is_refused_not_a_500(db, team, clients):
    rec = world.records(team.owner)
    response = clients["owner"].post(
        f"/applications/{rec.application_id}/interview",
        data={
            "date": "9999-12-31",
            "time": "23:30",
            "promised_date": "9999-12-31",
            "confirm": "1",
        },
    )
    assert response.status_code == 200
    assert "Give a date between" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Application, rec.application_id).interview_at is None


def test_a_nul_after_the_first_4096_bytes_of_a_csv_names_its_row(db, team, clients):
    body = "name,email\n" + "".join(f"Person {i},p{i}@example.com\n" for i in range(200))
    body += "Nul Row,nul\x00@example.com\n"
    assert body.index("\x00") > 4096
    response = clients["owner"].post(
        "/imports/new",
        data={"target": "", "file": (io.BytesIO(body.encode()), "people.csv")},
    )
    assert response.status_code == 302
    db.session.expire_all()
    imp = db.session.scalars(sa.select(CandidateImport)).all()[-1]
    (bad,) = [r for r in imp.rows if r["errors"]]
    assert bad["line"] == 202 and "NUL character" in " ".join(bad["errors"])
    page = clients["owner"].get(f"/imports/{imp.id}").get_data(as_text=True)
    assert 'data-testid="row-202"' in page and "NUL character" in page


def test_refreshing_the_report_with_url_for_arguments_in_the_query_string(clients):
    response = clients["manager"].post(
        "/reports/overdue/refresh?endpoint=x&_external=1&_scheme=javascript&reason=silent"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/reports/overdue?reason=silent"


def test_the_job_pages_of_rq_dashboard_answer_404_for_a_missing_job(clients):
    get_redis().flushdb()
    for url in ("/admin/rq/0/view/job/no-such-job", "/admin/rq/0/data/job/no-such-job.json"):
        assert clients["admin"].get(url).status_code == 404
        assert clients["manager"].get(url).status_code == 403  # admins only, as before
    assert clients["admin"].post("/admin/rq/job/no-such-job/requeue").status_code == 404
    assert clients["admin"].post("/admin/rq/queue/no-such-queue/compact").status_code == 404
    assert (
        clients["admin"].get("/admin/rq/0/data/jobs/maintenance/x/0/asc/1.json").status_code == 404
    )
