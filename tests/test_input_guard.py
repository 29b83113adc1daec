"""The probe's 5xx answers to bad input (issue 12, item 7), one regression test each; the
sweep over every route is tests/test_bad_input.py."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from app.models import Application, CandidateImport
from app.redis_conn import get_redis
from tests import world


@pytest.mark.parametrize("huge", ["2147483648", "9223372036854775808", "9" * 40])
def test_ids_beyond_an_integer_column_are_not_found(staff, role_clients, huge):
    rec = world.records(staff.owner)
    assert role_clients["owner"].get(f"/candidates/{huge}").status_code == 404
    assert (
        role_clients["link"].post(f"/status/{rec.token}/applications/{huge}/update").status_code
        == 404
    )
    assert role_clients["manager"].get(f"/reports/applications/{huge}").status_code == 404
    # ... and in query strings: ignored like any other number that is no id.
    assert role_clients["owner"].get(f"/candidates?page={huge}").status_code == 200
    assert role_clients["admin"].get(f"/templates/submitted?client={huge}").status_code == 404
    assert role_clients["manager"].get(f"/queue?recruiter={huge}").status_code == 200


@pytest.mark.parametrize(
    "how",
    [
        {"query_string": "next=%00"},
        {"data": {"email": "a\x00b@example.com", "password": "x"}},
        {"data": {"email\x00": "a@example.com", "password": "x"}},
    ],
    ids=["query string", "form value", "form name"],
)
def test_a_nul_byte_is_refused_with_400_even_before_signing_in(role_clients, how):
    response = role_clients["anon"].post("/login", **how)
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_a_nul_in_json_or_an_upload_name_is_refused(staff, role_clients):
    json_nul = role_clients["owner"].post("/templates/submitted/preview", json={"subject": "a\x00"})
    assert json_nul.status_code == 400
    deep = '{"subject": ' + "[" * 5000 + "]" * 5000 + "}"
    nested = role_clients["owner"].post(
        "/templates/submitted/preview", data=deep, content_type="application/json"
    )
    assert nested.status_code == 400
    upload = role_clients["owner"].post(
        "/imports/new",
        data={"target": "", "file": (io.BytesIO(b"name\nIvy\n"), "a\x00b.csv")},
    )
    assert upload.status_code == 400


def test_an_interview_on_the_last_day_of_the_calendar_is_refused_not_a_500(db, staff, role_clients):
    rec = world.records(staff.owner)
    response = role_clients["owner"].post(
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


def test_a_nul_after_the_first_4096_bytes_of_a_csv_names_its_row(db, staff, role_clients):
    body = "name,email\n" + "".join(f"Person {i},p{i}@example.com\n" for i in range(200))
    body += "Nul Row,nul\x00@example.com\n"
    assert body.index("\x00") > 4096
    response = role_clients["owner"].post(
        "/imports/new",
        data={"target": "", "file": (io.BytesIO(body.encode()), "people.csv")},
    )
    assert response.status_code == 302
    db.session.expire_all()
    imp = db.session.scalars(sa.select(CandidateImport)).all()[-1]
    (bad,) = [r for r in imp.rows if r["errors"]]
    assert bad["line"] == 202 and "NUL character" in " ".join(bad["errors"])
    page = role_clients["owner"].get(f"/imports/{imp.id}").get_data(as_text=True)
    assert 'data-testid="row-202"' in page and "NUL character" in page


def test_refreshing_the_report_with_url_for_arguments_in_the_query_string(role_clients):
    response = role_clients["manager"].post(
        "/reports/overdue/refresh?endpoint=x&_external=1&_scheme=javascript&reason=silent"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/reports/overdue?reason=silent"


def test_the_job_pages_of_rq_dashboard_answer_404_for_a_missing_job(role_clients):
    get_redis().flushdb()
    for url in ("/admin/rq/0/view/job/no-such-job", "/admin/rq/0/data/job/no-such-job.json"):
        assert role_clients["admin"].get(url).status_code == 404
        assert role_clients["manager"].get(url).status_code == 403  # admins only, as before
    assert role_clients["admin"].post("/admin/rq/job/no-such-job/requeue").status_code == 404
    assert role_clients["admin"].post("/admin/rq/queue/no-such-queue/compact").status_code == 404
    assert (
        role_clients["admin"].get("/admin/rq/0/data/jobs/maintenance/x/0/asc/1.json").status_code
        == 404
    )
