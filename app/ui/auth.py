"""Signing in to the UI: a username and password, or CRONWELL_API_TOKEN, asked for once;
the session cookie (signed, HttpOnly, SameSite=Lax, Secure under https) names the session.

The cookie holds the session's id (a row that "Log out" deletes: see
:mod:`app.services.sessions`) and, for the token, an HMAC of it, not the token: changing
the token ends every session, and the cookie (readable by its holder) gives nothing away.
Who may see which page is app/gate.py's business; wrong passwords count towards the same
limit as wrong API keys.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from app import gate
from app.runtime import current as runtime
from app.services import access, accounts, pause, sessions
from app.services.access import Role
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
def sign_in_state() -> dict[str, Any]:
    """What pages show of the caller: who they are, and what their role lets them do."""
    who = gate.caller()
    return {
        "caller": who,
        "can_operate": who is not None and who.may(Role.OPERATOR),
        "can_admin": who is not None and who.may(Role.ADMIN),
        "paused_state": _paused_state,  # read only by the pages that show it, once
    }


def _paused_state() -> dict[str, Any]:
    """The service's pause, read once per request (the banner and the dashboard ask)."""
    if "paused_state" not in g:
        g.paused_state = pause.state(runtime())
    return g.paused_state


@bp.before_request
def protect_forms() -> None:
    """Every UI form (a POST) carries the session's CSRF token; Flask-WTF checks it."""
    if request.method == "POST":
        csrf.protect()


def _start(user_id: int | None) -> None:
    lifetime = sessions.lifetime(runtime())
    session.clear()
    session.permanent = True
    session[SESSION_ID] = sessions.start_session(runtime(), lifetime, user_id)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    """Ask for a username and password (or the API token); the right ones start a session."""
    rt = runtime()
    target = local_target(request.values.get("next"), url_for("ui.dashboard"))
    if access.is_open(rt):
        return redirect(target)
    error, username = None, request.form.get("username", "").strip()
    if request.method == "POST":
        address = request.remote_addr
        failures = access.failures(rt)
        wait = failures.retry_after(address)
        if wait is not None:
            return gate.too_many(wait)
        password = request.form.get("password", "")
        who = access.Caller("anonymous", "anonymous", Role.VIEWER, "", "ui", address)
        acting = access.acting_as(who)
        try:
            if not username and access.token_matches(rt, password):
                _start(None)
                session[SESSION_KEY] = _fingerprint(password)
                audit_login(rt, "login", "token", access.token_caller("ui", address, "session"))
                return redirect(target)
            user = accounts.check_password(rt, username, password) if username else None
            if user is not None:
                _start(user.id)
                audit_login(
                    rt, "login", f"user:{user.username}",
                    access.user_caller(user, "session", "ui", address),
                )  # fmt: skip
                return redirect(target)
            failures.hit(address)
            audit_login(rt, "login.failed", f"user:{username}" if username else "token", who)
        finally:
            access.done_acting(acting)
        error = "Wrong username or password." if username else "That is not the API token."
    page = render_template("login.html", error=error, next=target, username=username)
    return page, 401 if error else 200


def audit_login(rt: Any, action: str, target: str, who: access.Caller | None) -> None:
    acting = access.acting_as(who) if who is not None else None
    try:
        accounts.record_login(rt, action, target)
    finally:
        if acting is not None:
            access.done_acting(acting)


@bp.post("/logout")
def logout() -> Response:
    """End the session (its row too: a copy of the cookie is no use afterwards)."""
    if isinstance(session.get(SESSION_ID), str):
        sessions.end_session(runtime(), session[SESSION_ID])
    session.clear()
    flash("Signed out.")
    return redirect(url_for("ui.login"))
