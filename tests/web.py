"""A test client for pages that write, used while the test keeps its own app context."""

from __future__ import annotations

from app.extensions import db


class Web:
    """Ends the test's own transaction before each request: on SQLite an open one holds
    the write lock the request needs."""

    def __init__(self, client):
        self.client = client

    def get(self, *args, **kwargs):
        db.session.commit()
        return self.client.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        db.session.commit()
        return self.client.post(*args, **kwargs)

    def open(self, *args, **kwargs):
        db.session.commit()
        return self.client.open(*args, **kwargs)


def sign_in(web, user, password: str = "correct horse"):
    """Sign `user` in through the login form (the factories' default password)."""
    response = web.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return web
