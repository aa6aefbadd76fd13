"""HTTP layer: the flask-smorest Api, errors translated to JSON in one place.

Every error, from webargs validation to 404/405/413 and unexpected exceptions, is
``{"code", "status", "message", "errors"?}``; ``errors`` maps field names to messages.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, InternalServerError

from app.db import database_unavailable
from app.errors import CronwellError, DatabaseUnavailable
from app.runtime import current
from app.schemas import field_errors, texts
from app.schemas.fields import CronJobIdConverter

logger = logging.getLogger("cronwell.api")
STATUS_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _flatten(messages: Any) -> dict[str, list[str]]:
    """webargs nests errors by location and field ({"json": {"notify": {"on": {0: [...]}}}}):
    flatten them to dotted field names ({"notify.on.0": [...]})."""
    if not isinstance(messages, dict):
        return {"_body": texts(messages)}
    flat: dict[str, list[str]] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(field_errors(fields))
        else:
            flat[location if location not in ("json", "query") else "_body"] = texts(fields)
    return flat


def _summary(errors: dict[str, list[str]]) -> str:
    parts = [f"{field}: {' '.join(msgs)}" for field, msgs in list(errors.items())[:5]]
    more = len(errors) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def error_response(
    code: int, message: str, errors: dict[str, list[str]] | None = None, headers=None
):
    payload: dict[str, Any] = {
        "code": code,
        "status": STATUS_NAMES.get(code, "Error"),
        "message": message,
    }
    if errors:
        payload["errors"] = errors
    return jsonify(payload), code, headers or {}


class CronwellApi(Api):
    """flask-smorest's Api with the contract's error shape on every error."""

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = None
        if "errors" in data:
            errors = data["errors"]
        elif "messages" in data:
            errors = _flatten(data["messages"])
        message = data.get("message") or (
            f"Invalid request. {_summary(errors)}" if errors else error.description
        )
        code = error.code or 500
        if code == 413:
            limit = current().settings.max_content_length
            message = f"The request body is larger than the limit of {limit} bytes."
        if isinstance(error, InternalServerError):
            message = "Internal server error; the details are in the service log."
        payload: dict[str, Any] = {"code": code, "status": error.name, "message": message}
        if errors:
            payload["errors"] = errors
        headers = dict(data.get("headers") or {})
        if code == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)
        return jsonify(payload), code, headers


def _handle_domain_error(error: CronwellError):
    return error_response(
        error.status, error.message, error.errors, getattr(error, "headers", None)
    )


def _handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return current_app.extensions["cronwell_api"].handle_http_exception(error)
    if database_unavailable(error):
        logger.warning("%s %s: %s", request.method, request.path, error)
        return _handle_domain_error(DatabaseUnavailable())
    logger.exception("Unhandled error on %s %s", request.method, request.path)
    return error_response(500, "Internal server error; the details are in the service log.")


def _check_body():
    """JSON bodies on writes (who may call is app/gate.py's business)."""
    if not request.path.startswith("/api"):
        return None
    has_body = request.method in ("POST", "PUT", "PATCH") and request.content_length
    if has_body and not request.is_json:
        return error_response(
            415,
            f"Request bodies must be JSON (Content-Type: application/json), "
            f"not {request.mimetype or 'unspecified'}.",
            {"Content-Type": ["Must be application/json."]},
        )
    return None


def init_app(app: Flask) -> CronwellApi:
    """Create the Api, register the blueprints and the error handlers."""
    from app.api.access.routes import blp as access_blp
    from app.api.calendars.routes import blp as calendars_blp
    from app.api.cron.routes import blp as cron_blp
    from app.api.docs import blp as docs_assets
    from app.api.executions.routes import blp as executions_blp
    from app.api.jobs.routes import blp as jobs_blp
    from app.api.metrics.routes import blp as metrics_blp
    from app.api.notifications.routes import blp as notifications_blp
    from app.api.pings.routes import blp as pings_blp
    from app.api.scheduler.routes import blp as scheduler_blp
    from app.api.scheduler.routes import health_blp
    from app.api.workers.routes import blp as workers_blp
    from app.schemas.access import UserUpdateSchema
    from app.schemas.calendars import CalendarUpdateSchema
    from app.schemas.cron import CronJobUpdate
    from app.schemas.jobs import JobUpdateSchema

    app.url_map.converters["cron_job_id"] = CronJobIdConverter
    api = CronwellApi(app)
    api.register_converter(CronJobIdConverter, CronJobIdConverter.openapi_schema)
    app.extensions["cronwell_api"] = api
    # Who may call (app/gate.py): an API key or CRONWELL_API_TOKEN as a bearer token, or
    # the web UI's session cookie (reads only). An open service (no token, key or user)
    # asks for neither.
    api.spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (POST /api/keys) or CRONWELL_API_TOKEN. Roles: viewer "
            "reads; operator also runs, cancels, enables, disables, pauses and backfills; "
            "admin does everything. A refusal is 403 naming the role needed.",
        },
    )
    api.spec.components.security_scheme(
        "sessionCookie",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": "cronwell",
            "description": "The web UI's session (signed in at /ui/login): GET requests only.",
        },
    )
    api.spec.options["security"] = [{"bearerAuth": []}, {"sessionCookie": []}]
    # An update needs at least one field (an empty body is refused): say so in the spec.
    updates = (
        ("JobUpdate", JobUpdateSchema),
        ("CronJobUpdate", CronJobUpdate),
        ("UserUpdate", UserUpdateSchema),
        ("CalendarUpdate", CalendarUpdateSchema),
    )
    for name, schema in updates:
        api.spec.components.schema(name, {"minProperties": 1}, schema=schema)
    for blueprint in (
        jobs_blp,
        executions_blp,
        notifications_blp,
        scheduler_blp,
        workers_blp,
        access_blp,
        calendars_blp,
        cron_blp,
        health_blp,
        metrics_blp,
        pings_blp,
    ):
        api.register_blueprint(blueprint)
    app.register_blueprint(docs_assets)  # plain Flask: not part of the API's spec
    app.register_error_handler(CronwellError, _handle_domain_error)
    app.register_error_handler(Exception, _handle_unexpected)
    app.before_request(_check_body)
    return api
