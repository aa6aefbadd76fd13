"""Log output: plain text lines, or one JSON object per line (LOG_FORMAT = "json").

JSON lines come from python-json-logger's formatter: ``timestamp``, ``level``,
``logger``, ``message``, and whatever a line adds. Every line about a run adds
``job_id`` and ``execution_id`` (:func:`run_fields`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from app.config import Settings

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def run_fields(job_id: str, execution_id: int | None) -> dict[str, Any]:
    """The ``extra`` of a line about a run."""
    return {"job_id": job_id, "execution_id": execution_id}


#: A heartbeat monitor's ping URL's key (the URL is its secret).
_PING_KEY = re.compile(r"(/ping/)[0-9A-Fa-f-]{36}")


class MaskPingKeys(logging.Filter):
    """Masks the key of every ping URL a line holds: gunicorn's access lines name the
    path of each request, and a ping's path is a monitor's secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/ping/" in message:
            record.msg, record.args = _PING_KEY.sub(r"\1••••••", message), None
        return True


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
    )


def configure_logging(settings: Settings) -> None:
    """Set the cronwell loggers' level, and give the root logger a handler in the chosen
    format unless it has one (an embedding application's, a test runner's)."""
    log_format = settings.log_format.lower()
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    logging.getLogger("cronwell").setLevel(settings.log_level)
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.addFilter(MaskPingKeys())
    handler.setFormatter(
        json_formatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root.addHandler(handler)


def gunicorn_config(log_format: str) -> dict[str, Any]:
    """gunicorn's logconfig_dict for ``log_format`` (its own lines, access lines too)."""
    if log_format != "json":
        return {}
    formatter = {"()": "app.logs.json_formatter"}
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": formatter},
        "handlers": {"console": handler},
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }
