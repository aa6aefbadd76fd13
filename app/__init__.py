"""Cronwell: create_app() wires config -> database -> job types -> API and UI -> scheduler."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.logs import configure_logging
from app.version import __version__

logger = logging.getLogger("cronwell")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def configure(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Load the app's settings: defaults, instance/config.py, CRONWELL_* variables, overrides."""
    app.config.from_object("app.config")
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("CRONWELL")
    if overrides:
        app.config.update(overrides)
    app.config.update(
        API_TITLE="Cronwell",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="api/openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Swagger UI's files come from the service (app/api/docs.py), pinned with the
        # swagger-ui-bundle package; its validator badge would call validator.swagger.io.
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
        API_SPEC_OPTIONS={
            "info": {
                "description": "A job scheduler service: cron, interval and one-shot jobs, "
                "every run recorded. See README.md.",
            }
        },
    )
    if not app.config.get("DATABASE_URL"):
        from app.db import default_sqlite_url

        app.config["DATABASE_URL"] = default_sqlite_url(app.instance_path)
    configure_logging(app.config)


def _warn_if_exposed(app: Flask) -> None:
    host = str(app.config.get("HOST", "127.0.0.1"))
    if host not in LOOPBACK and not app.config.get("API_TOKEN"):
        logger.warning(
            "Binding %s with no CRONWELL_API_TOKEN: anyone who can reach this address can "
            "create and run jobs. Set CRONWELL_API_TOKEN.",
            host,
        )


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. The scheduler starts here unless SCHEDULER_AUTOSTART is false."""
    from app.api import init_app as init_api
    from app.db import Database, make_engine
    from app.instruments import Instruments
    from app.jobtypes import JobTypeRegistry
    from app.migrate import ensure_schema
    from app.runtime import Runtime
    from app.scheduler.manager import SchedulerManager
    from app.services.notifications import check_defaults as check_notify_defaults
    from app.ui import init_app as init_ui

    app = Flask(__name__, instance_relative_config=True)
    configure(app, test_config)
    _warn_if_exposed(app)
    check_notify_defaults(app.config)

    db = Database(make_engine(app.config["DATABASE_URL"], app.config["LEASE_SECONDS"]))
    ensure_schema(db.engine)
    settings = app.config
    registry = JobTypeRegistry(settings)
    instruments = Instruments()
    scheduler = SchedulerManager(db, registry, settings, instruments)
    runtime = Runtime(settings, db, registry, scheduler, instruments)
    app.extensions["cronwell"] = runtime
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        init_api(app)
    init_ui(app)
    if app.config["SCHEDULER_AUTOSTART"]:
        runtime.start()
    return app
