"""The web UI: server-rendered pages under /ui (Jinja templates, htmx for the live parts,
one stylesheet), calling the same services as the API, in-process.

Every file a page loads is served from here (``static/``, htmx vendored with its
licence): no page asks another host for anything.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import time
from pathlib import Path

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response

from app.config import Settings
from app.services import notifications
from app.services import secrets as shown_secrets
from app.services.job_reads import describe_schedule
from app.ui import actions, auth, views  # noqa: F401  (their routes join the blueprint)
from app.ui.blueprint import bp, csrf
from app.ui.display import FILTERS

SECRET_KEY_FILE = "secret_key"


def secret_key(instance_path: str) -> str:
    """The key that signs UI sessions when SECRET_KEY is not set: made once and kept in the
    instance folder, so that every worker and every restart shares it."""
    path = Path(instance_path) / SECRET_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    for _ in range(50):  # another worker may be writing it this moment
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty: delete it, or set CRONWELL_SECRET_KEY.")


def init_app(app: Flask, settings: Settings) -> None:
    """Register the UI: sessions, CSRF protection, the blueprint, and / → /ui/."""
    app.config["SECRET_KEY"] = settings.secret_key or secret_key(app.instance_path)
    app.config.update(
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_NAME="cronwell",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
    )
    # The API (bearer token, JSON) is not a form: only the UI's POSTs are checked.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session's life
    app.session_interface = auth.UiSessionInterface()
    csrf.init_app(app)
    app.jinja_env.globals["csrf_token"] = auth.form_token  # one per session
    app.jinja_env.filters.update(
        FILTERS,
        schedule_words=describe_schedule,
        masked=notifications.masked_url,
        shown_config=shown_secrets.shown_configuration,
        shown_changes=shown_secrets.shown_changes,
    )
    app.register_blueprint(bp)

    @app.route("/")
    def root() -> Response:
        return redirect(url_for("ui.dashboard"))

    @app.route("/favicon.ico")
    def favicon() -> Response:
        return bp.send_static_file("favicon.svg")
