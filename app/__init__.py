"""Cronwell: create_app() wires config -> database -> job types -> API and UI -> scheduler."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.config import Settings, read_settings
from app.logs import configure_logging
from app.version import __version__

if TYPE_CHECKING:
    from flask import Flask

logger = logging.getLogger("cronwell")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def configure(app: Flask, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read the settings once (defaults, instance/config.py, CRONWELL_* variables,
    overrides: :mod:`app.config`) and give Flask the few it reads itself."""
    settings, given = read_settings(app.instance_path, overrides)
    app.config.update(given)  # Flask's own keys set there too (SESSION_COOKIE_SECURE...)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_content_length,
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
                "every run recorded. See README.md. Every error is JSON: code, status, "
                "message and, for a refused field, errors. While the database is "
                "unavailable, every call answers 503 with Retry-After.",
            }
        },
    )
    return settings


def _check_access_settings(settings: Settings) -> None:
    """Refuse to start with a proxy role or address list the service could not use."""
    import ipaddress

    from app.services.access import ROLES

    if settings.auth_proxy_default_role not in ROLES:
        raise ValueError(
            f"CRONWELL_AUTH_PROXY_DEFAULT_ROLE must be one of {', '.join(ROLES)}, "
            f"not {settings.auth_proxy_default_role!r}"
        )
    for network in settings.auth_proxy_trusted:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(
                f"CRONWELL_AUTH_PROXY_TRUSTED: {network!r} is not an address or network"
            ) from None


def _warn_if_open(runtime: Any) -> None:
    """With no token, key or user, anyone who reaches the service acts as an admin."""
    from app.services.access import is_open

    if not is_open(runtime):
        return
    host = runtime.settings.host
    if host not in LOOPBACK:
        logger.warning(
            "Binding %s while open (no CRONWELL_API_TOKEN, API key or user): anyone who can "
            "reach this address can create and run jobs. Make an admin key or user first.",
            host,
        )
    else:
        logger.warning(
            "The service is open: no CRONWELL_API_TOKEN, API key or user exists, so every "
            "caller acts as an admin. The first key or user closes it."
        )


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. The scheduler starts here unless SCHEDULER_AUTOSTART is false."""
    from flask import Flask

    from app.api import init_app as init_api
    from app.db import Database, make_engine
    from app.gate import init_app as init_gate
    from app.headers import init_app as init_headers
    from app.instruments import Instruments
    from app.jobtypes import JobTypeRegistry
    from app.migrate import ensure_schema
    from app.runtime import Runtime
    from app.scheduler.manager import SchedulerManager
    from app.services.notifications import check_defaults as check_notify_defaults
    from app.ui import init_app as init_ui

    app = Flask(__name__, instance_relative_config=True)
    settings = configure(app, test_config)
    configure_logging(settings)
    _check_access_settings(settings)
    check_notify_defaults(settings)

    db = Database(make_engine(settings.database_url, settings.lease_seconds))
    ensure_schema(db.engine)
    registry = JobTypeRegistry(settings)
    instruments = Instruments()
    scheduler = SchedulerManager(db, registry, settings, instruments)
    runtime = Runtime(settings, db, registry, scheduler, instruments)
    app.extensions["cronwell"] = runtime
    _warn_if_open(runtime)
    init_gate(app)  # before the API's and the UI's own checks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        init_api(app)
    init_ui(app, settings)
    init_headers(app, settings)
    if settings.scheduler_autostart:
        runtime.start()
    return app
