"""A recruiter imports a CSV into a position in a real browser: the preview shows the bad
row's error, the valid rows import, the done page lists them. A large file then goes
through a real worker while the progress page polls."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Application, Candidate
from tests import factories as f
from tests.browser.conftest import SCREENSHOTS, screenshot, sign_in
from tests.processes import Proc

pytestmark = pytest.mark.browser

PASSWORD = "correct horse"
CSV = (
    "Full name;E-mail;Mobile;Time zone\n"
    "Ana Silva;ana.silva@example.com;+351 912 345 678;Europe/Lisbon\n"
    "Ben Okafor;ben.okafor@example.com;+44 7700 900123;\n"
    "Chloé Martin;chloe.martin@example;+33 6 12 34 56 78;Europe/Paris\n"
    "Dev Patel;dev.patel@example.com;;Asia/Kolkata\n"
    "Erin Walsh;erin.walsh@example.com;+353 85 123 4567;Europe/Dublin\n"
)


@pytest.fixture
def recruiter(app):
    user = f.user(name="Riley Chen", email="riley@agency.example.com", password=PASSWORD)
    position = f.position(
        owner=user, client_=f.client("Northwind Logistics"), title="Senior Backend Engineer"
    )
    f.candidate(name="Erin Walsh", email="erin.walsh@example.com")
    db.session.commit()
    ids = user.email, position.id
    db.session.commit()  # reading them began a transaction: on SQLite it blocks the server
    return ids


def test_recruiter_imports_a_csv_with_one_bad_row_into_a_position(live_server, tab, recruiter):
    from playwright.sync_api import expect

    email, position_id = recruiter
    sign_in(tab, live_server, email, PASSWORD)
    tab.goto(f"{live_server}/imports/new")
    expect(tab.get_by_role("heading", name="Import candidates")).to_be_visible()
    expect(tab.locator(".navbar .nav-link.active")).to_have_text("Import")
    tab.get_by_label("CSV file").set_input_files(
        {"name": "people.xlsx", "mimeType": "application/zip", "buffer": b"PK\x03\x04\x00\x00"}
    )
    tab.get_by_role("button", name="Upload and preview").click()
    expect(tab.get_by_test_id("file-error")).to_contain_text("This is not a CSV file")
    screenshot(tab, path=SCREENSHOTS / "import-upload-error.png")
    tab.get_by_label("CSV file").set_input_files(
        {"name": "candidates.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )
    tab.get_by_label("Import into").select_option(
        label="Senior Backend Engineer · Northwind Logistics"
    )
    screenshot(tab, path=SCREENSHOTS / "import-upload.png", full_page=True)
    tab.get_by_role("button", name="Upload and preview").click()

    expect(tab.get_by_test_id("summary")).to_contain_text("4 rows ready, 1 with errors")
    expect(tab.get_by_test_id("row-4")).to_contain_text("is not valid")
    expect(tab.get_by_test_id("row-6")).to_contain_text("Existing candidate")
    screenshot(tab, path=SCREENSHOTS / "import-preview.png", full_page=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Application)) == 0
    db.session.commit()

    tab.get_by_role("button", name="Import 4 valid rows").click()
    expect(tab.get_by_role("heading", name="Import finished")).to_be_visible()
    summary = tab.get_by_test_id("done-summary")
    expect(summary).to_contain_text("3 candidates created")
    expect(summary).to_contain_text("4 added to Senior Backend Engineer")
    imported = tab.get_by_test_id("imported")
    for name in ("Ana Silva", "Ben Okafor", "Dev Patel", "Erin Walsh"):
        expect(imported).to_contain_text(name)
    expect(imported).not_to_contain_text("Chloé")
    screenshot(tab, path=SCREENSHOTS / "import-done.png", full_page=True)
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(Application.position_id == position_id))
        == 4
    )
    db.session.commit()


def test_a_large_file_shows_progress_until_the_worker_finishes(
    app, live_server, tab, recruiter, worker_env, tmp_path
):
    from playwright.sync_api import expect

    app.config["IMPORT_INLINE_ROWS"] = 20
    email, _ = recruiter
    rows = "\n".join(f"Person {i},person{i}@example.com" for i in range(150))
    sign_in(tab, live_server, email, PASSWORD)
    tab.goto(f"{live_server}/imports/new")
    tab.get_by_label("CSV file").set_input_files(
        {"name": "big.csv", "mimeType": "text/csv", "buffer": f"name,email\n{rows}\n".encode()}
    )
    tab.get_by_role("button", name="Upload and preview").click()
    tab.get_by_role("button", name="Import 150 valid rows").click()
    expect(tab.get_by_role("heading", name="Importing…")).to_be_visible()
    expect(tab.get_by_test_id("progress-text")).to_contain_text("Waiting for a worker")
    # Named for a screen reader, its words in a live region (role=status) as they change.
    expect(tab.get_by_role("progressbar", name="Import progress")).to_be_visible()
    expect(tab.get_by_role("status")).to_contain_text("rows to write")
    screenshot(tab, path=SCREENSHOTS / "import-progress.png", full_page=True)

    worker = Proc(
        ["-m", "workers", "worker", "--burst", "--simple"], worker_env, tmp_path / "w.log"
    )
    try:
        # The page polls and moves on by itself when the worker is done.
        expect(tab.get_by_role("heading", name="Import finished")).to_be_visible(timeout=60_000)
    finally:
        worker.stop()
        print(worker.output()[-3000:])
    expect(tab.get_by_test_id("done-summary")).to_contain_text("150 candidates created")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 151
    db.session.commit()
