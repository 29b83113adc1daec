"""A test client for the REST API: a bearer token of one member of staff on every request."""

from __future__ import annotations

from app.api import tokens
from app.extensions import db


class Api:
    def __init__(self, client, user, token: str | None = None):
        self.client = client
        self.user = user
        self.token = token or tokens.create(user, "tests", actor=user)[1]

    def open(self, method: str, path: str, *, json=None, headers=None, **kwargs):
        db.session.commit()  # the test's own transaction must not hold SQLite's write lock
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.client.open(path, method=method, json=json, headers=sent, **kwargs)

    def get(self, path, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.open("POST", path, json=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.open("PATCH", path, json=json, **kwargs)
