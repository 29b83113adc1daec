"""Oversized requests are refused before anything reads them, with a page that says why."""

from __future__ import annotations

import io

from app.extensions import db
from tests import factories


def test_an_oversized_upload_is_refused_with_a_clear_page(make_app):
    app = make_app(MAX_CONTENT_LENGTH=64 * 1024)
    web = app.test_client()
    with app.app_context():
        factories.user("recruiter", email="rita@agency.test")
        db.session.commit()
    assert (
        web.post(
            "/login", data={"email": "rita@agency.test", "password": "correct horse"}
        ).status_code
        == 302
    )

    big = io.BytesIO(b"name,email\n" + b"Ada Lovelace,ada@example.com\n" * 5000)
    response = web.post("/imports/new", data={"file": (big, "big.csv")})

    assert response.status_code == 413
    assert "That file is too large" in response.get_data(as_text=True)
