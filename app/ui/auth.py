"""Signing in to the UI: with CRONWELL_API_TOKEN set, the token is asked for once and the
session cookie (signed, HttpOnly, SameSite=Lax, Secure under https) names the session.

The cookie holds the session's id (a row that "Log out" deletes: see
:mod:`app.services.sessions`) and an HMAC of the token, not the token: changing the token
ends every session, and the cookie (readable by its holder) gives nothing away.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from app.runtime import current as runtime
from app.services import sessions
from app.ui.blueprint import bp, csrf

SESSION_KEY = sessions.SIGNED_IN_KEY
SESSION_ID = sessions.SESSION_ID_KEY


class UiSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, marked Secure when the page came over https (or the
    service's PUBLIC_URL is https), as well as when SESSION_COOKIE_SECURE says so."""

    def get_cookie_secure(self, app: Flask) -> bool:
        public_url = runtime().settings.public_url or ""
        return (
            super().get_cookie_secure(app)
            or request.is_secure
            or public_url.lower().startswith("https://")
        )


def _fingerprint(token: str) -> str:
    return sessions.fingerprint(str(current_app.secret_key), token)


def token_required() -> bool:
    return bool(runtime().settings.api_token)


def signed_in() -> bool:
    return sessions.signed_in(runtime(), session, str(current_app.secret_key))


def local_target(target: str | None, default: str) -> str:
    """``target`` if it is a path of this UI (never another host), else ``default``."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(("/ui", "/docs")):
        return default
    return target


#: The session's form token, made once (see :func:`form_token`).
FORM_TOKEN_KEY = "form_token"


def form_token() -> str:
    """Flask-WTF's CSRF token for this session, made once and kept in it. A new signed
    token each request (it carries its time) would make every live fragment differ, and
    an idle page could never be answered 304. Tokens do not expire within a session
    (WTF_CSRF_TIME_LIMIT is None), and signing in clears the session."""
    token = session.get(FORM_TOKEN_KEY)
    if not isinstance(token, str):
        token = session[FORM_TOKEN_KEY] = generate_csrf()
    return token


def go_back(default: str) -> Response:
    """Redirect to the form's ``next`` page of this UI (else ``default``)."""
    return redirect(local_target(request.form.get("next"), default))


@bp.context_processor
def sign_in_state() -> dict[str, bool]:
    return {"ui_token_required": token_required()}


@bp.before_request
def require_sign_in() -> Response | None:
    """Every UI page but the login page and the static files needs a signed-in session."""
    if request.endpoint in ("ui.login", "ui.static") or signed_in():
        return None
    return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))


@bp.before_request
def protect_forms() -> None:
    """Every UI form (a POST) carries the session's CSRF token; Flask-WTF checks it."""
    if request.method == "POST":
        csrf.protect()


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    """Ask for the API token; a right one starts a session."""
    target = local_target(request.values.get("next"), url_for("ui.dashboard"))
    if not token_required():
        return redirect(target)
    error = None
    if request.method == "POST":
        given = request.form.get("token", "")
        if sessions.token_matches(runtime(), given):
            lifetime = sessions.lifetime(runtime())
            session.clear()
            session.permanent = True
            session[SESSION_ID] = sessions.start_session(runtime(), lifetime)
            session[SESSION_KEY] = _fingerprint(given)
            return redirect(target)
        error = "That is not the service's API token."
    return render_template("login.html", error=error, next=target), 401 if error else 200


@bp.post("/logout")
def logout() -> Response:
    """End the session (its row too: a copy of the cookie is no use afterwards)."""
    if isinstance(session.get(SESSION_ID), str):
        sessions.end_session(runtime(), session[SESSION_ID])
    session.clear()
    flash("Signed out.")
    return redirect(url_for("ui.login") if token_required() else url_for("ui.dashboard"))
