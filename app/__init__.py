"""Closeloop: candidate communication for staffing agencies."""

from __future__ import annotations

import os

from flask import Flask

from app.collector import collection_paused


def create_app(config: dict | None = None, *, worker: bool = False) -> Flask:
    """Application factory; `config` overrides what the environment says (tests use it).

    `worker=True` builds the app the RQ workers and the scheduler run jobs in: the same
    configuration, models, email templates and URL map (emails carry status and decision
    links), without what only answers requests or runs the `flask db` commands: the REST
    API's operations (pydantic), the RQ dashboard and Flask-Migrate (Alembic, Mako), about
    20 MB of each worker's resident memory (issue 18, bench/memory.py)."""
    with collection_paused():
        return _create_app(config, worker=worker)


def _create_app(config: dict | None, *, worker: bool) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=os.environ.get("CLOSELOOP_INSTANCE_PATH") or None,
    )
    os.makedirs(app.instance_path, exist_ok=True)
    from app import config as config_module

    app.config.from_mapping(config_module.load(app.instance_path))
    if config:
        app.config.from_mapping(config)
    from app.redis_conn import require_redis_url

    require_redis_url(app.config)  # production without Redis stops here, saying what to set
    if app.config["CLOCK_FILE"]:
        from app import clock

        clock.set_source(clock.FileClock(app.config["CLOCK_FILE"]))
    _configure_secret_key(app)
    register_observability(app)
    from app import edge, input_guard

    input_guard.register(app)  # before any route: every <int:...> is bounded
    edge.register(app)
    register_extensions(app, worker=worker)
    register_blueprints(app, worker=worker)
    register_errorhandlers(app)
    register_commands(app)
    return app


def _configure_secret_key(app: Flask) -> None:
    from app import config as config_module
    from app.secret_key import resolve

    default_db = config_module.default_database_url(app.instance_path)
    app.config["SECRET_KEY"] = resolve(
        app.config.get("SECRET_KEY") or "",
        instance_path=app.instance_path,
        database_in_instance=app.config["SQLALCHEMY_DATABASE_URI"] == default_db,
    )


def register_observability(app: Flask) -> None:
    """Logs (LOG_FORMAT), request ids, /metrics and, with SENTRY_DSN, Sentry."""
    from app import logs, sentry, tracing
    from app.metrics.exposition import register_view

    # Tests keep pytest's own log capture; processes get one handler on the root logger.
    logs.configure(None, app.config, handler=not app.testing)
    tracing.init_app(app)
    register_view(app)
    sentry.init_app(app)


def register_extensions(app: Flask, *, worker: bool = False) -> None:
    from app import (
        languages,
        models,  # noqa: F401  (every table known to SQLAlchemy and Alembic)
        stored_words,
        template_gettext,
    )
    from app.extensions import babel, bootstrap, csrf, db, login_manager
    from app.orm import configure_postgresql, configure_sqlite

    if not app.config["DATABASE_PREPARED_STATEMENTS"] and app.config[
        "SQLALCHEMY_DATABASE_URI"
    ].startswith("postgresql+psycopg"):
        # psycopg prepares a statement on its 5th use; behind a pooler in transaction mode the
        # next transaction may land on a server that never saw it.
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {**options.get("connect_args", {}), "prepare_threshold": None}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    if not worker:
        from flask_migrate import Migrate

        # Created here, not in app.extensions: importing it imports Alembic (~12 MB).
        Migrate(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    bootstrap.init_app(app)
    # Catalogs in app/translations (`make translations`): `messages` for what candidates
    # read (every shipped language), then `staff` for the staff pages (no language has one
    # yet: staff pages are English, and page_language keeps them so).
    babel.init_app(
        app,
        locale_selector=languages.page_language,
        default_domain="messages;staff",
        default_translation_directories="translations;translations",
    )
    template_gettext.install(app.jinja_env)
    stored_words.install(app.jinja_env)
    with app.app_context():
        configure_sqlite(db.engine)
        configure_postgresql(db.engine)

    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    # The session holds a versioned, dated token (app/auth/sessions.py), not the bare id.
    login_manager.id_attribute = "session_token"

    @login_manager.user_loader
    def load_user(value: str):
        from app.auth import sessions

        return sessions.load(value)


def register_blueprints(app: Flask, *, worker: bool = False) -> None:
    from app.api_tokens import bp as api_tokens_bp
    from app.audit.routes import bp as audit_bp
    from app.auth import bp as auth_bp
    from app.bulk import bp as bulk_bp
    from app.candidates import bp as candidates_bp
    from app.decisions import bp as decisions_bp
    from app.devmail import bp as devmail_bp
    from app.extensions import csrf
    from app.imports import bp as imports_bp
    from app.main import bp as main_bp
    from app.message_templates import bp as message_templates_bp
    from app.outbound.routes import bp as outbound_bp
    from app.positions import bp as positions_bp
    from app.privacy import bp as privacy_bp
    from app.reports import bp as reports_bp
    from app.staff import bp as staff_bp
    from app.status import bp as status_bp
    from app.webhooks import bp as webhooks_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(reports_bp)
    if not worker:
        from app.reports.rq_admin import register_rq_dashboard

        register_rq_dashboard(app)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(status_bp)
    app.register_blueprint(decisions_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(staff_bp)
    # The recruiters' workspace.
    app.register_blueprint(positions_bp)
    app.register_blueprint(bulk_bp)
    app.register_blueprint(candidates_bp)
    app.register_blueprint(message_templates_bp)
    app.register_blueprint(imports_bp)
    if not worker:  # no job links to the API; its operations import pydantic
        from app.api.routes import bp as api_bp

        # The REST API answers bearer tokens only (no session cookie), so CSRF does not apply.
        csrf.exempt(api_bp)
        app.register_blueprint(api_bp)
    app.register_blueprint(api_tokens_bp)
    app.register_blueprint(outbound_bp)
    if app.config.get("DEV_MAILBOX_ENABLED"):
        app.register_blueprint(devmail_bp)


def register_errorhandlers(app: Flask) -> None:
    from flask import render_template
    from flask_wtf.csrf import CSRFError

    from app.api.problems import ApiProblem, from_exception, is_api_request

    def render_error(error):
        if is_api_request():  # the REST API answers problem+json, never a page
            return from_exception(error)
        code = getattr(error, "code", 500)
        return render_template("errors/error.html", error=error, code=code), code

    def api_only(error):
        return from_exception(error) if is_api_request() else error

    for code in (400, 403, 404, 405, 413, 429, 500):
        app.errorhandler(code)(render_error)
    for code in (401, 406, 409, 412, 415, 422):  # pages keep Werkzeug's own answer
        app.errorhandler(code)(api_only)
    app.errorhandler(CSRFError)(render_error)
    app.errorhandler(ApiProblem)(from_exception)


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)
