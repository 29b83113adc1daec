"""The app factory honours the test configuration and registers what it should."""

from __future__ import annotations

import sqlalchemy as sa

from app import config
from app.extensions import db


def test_test_config_is_honoured(app, base_config):
    assert app.testing is True
    assert app.config["SQLALCHEMY_DATABASE_URI"] == base_config["SQLALCHEMY_DATABASE_URI"]
    assert db.engine.url.render_as_string(hide_password=False) == sa.make_url(
        base_config["SQLALCHEMY_DATABASE_URI"]
    ).render_as_string(hide_password=False)
    assert db.session.scalar(sa.text("SELECT 1")) == 1


def test_blueprints_registered(app):
    assert {"auth", "main", "webhooks", "bootstrap"} <= set(app.blueprints)
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert {"/login", "/logout", "/", "/healthz"} <= rules


def test_devmail_is_off_by_default(app, make_app, monkeypatch):
    monkeypatch.delenv("DEV_MAILBOX_ENABLED", raising=False)
    assert config.load(app.instance_path)["DEV_MAILBOX_ENABLED"] is False
    assert "devmail" not in app.blueprints
    assert app.test_client().get("/dev/mailbox/").status_code == 404
    on = make_app(DEV_MAILBOX_ENABLED=True)
    assert "devmail" in on.blueprints
    assert "/dev/mailbox/" in {r.rule for r in on.url_map.iter_rules()}


def test_sessions_use_strong_protection(app):
    assert app.config["SESSION_PROTECTION"] == "strong"


def test_assets_are_served_locally(client):
    page = client.get("/login").get_data(as_text=True)
    assert "cdn.jsdelivr.net" not in page
    assert "/bootstrap/static/css/bootstrap.min.css" in page
    for path in ("/bootstrap/static/css/bootstrap.min.css", "/static/closeloop.css"):
        with client.get(path) as response:  # file responses stay open until closed
            assert response.status_code == 200
