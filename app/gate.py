"""The door of every route: who is calling (app/services/access.py), and whether their
role allows what they ask. One check, before any view, for the API, the UI, /docs and
/metrics alike.

Each view may say the role it needs with :func:`requires`; a view that says nothing
needs ``viewer`` to read (GET, HEAD) and ``admin`` to do anything else, so a new route is
closed by default. /healthz, the login page and static files are open.

A caller may show a bearer key (or the token) on any route, a trusted proxy's header, or
the UI's session cookie: on the API, the cookie opens reads only (a write must carry
its key, so no other site can make a signed-in browser change anything).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Flask,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

from app.errors import Forbidden
from app.runtime import current
from app.services import access, accounts, sessions
from app.services.access import Caller, Role

F = TypeVar("F", bound=Callable[..., Any])
READS = ("GET", "HEAD", "OPTIONS")
#: Endpoints anyone may reach.
OPEN_ENDPOINTS = frozenset(
    {
        "health.Health",
        # A heartbeat monitor's ping URL is its own secret (app/services/pings.py).
        "pings.Ping",
        "pings.PingStart",
        "pings.PingFail",
        "pings.PingExitCode",
        "static",
        "ui.static",
        "ui.login",
        "ui.logout",
        "favicon",
        "root",
        "docs_assets.asset",
    }
)
PROTECTED_PREFIXES = ("/api", "/ui", "/docs", "/metrics")


def requires(role: Role | str) -> Callable[[F], F]:
    """Mark a view (or a MethodView's method) with the role it needs."""

    def mark(view: F) -> F:
        view.cronwell_role = Role(role)  # type: ignore[attr-defined]
        return view

    return mark


def needed_role(app: Flask, endpoint: str | None, method: str) -> Role | None:
    """The role ``method`` on ``endpoint`` needs (None: open to anyone)."""
    if endpoint is None or endpoint in OPEN_ENDPOINTS:
        return None
    view = app.view_functions[endpoint]
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        name = "get" if method == "HEAD" else method.lower()
        view = getattr(view_class, name, None) or view
    marked = getattr(view, "cronwell_role", None)
    if marked is not None:
        return marked
    return Role.VIEWER if method in READS else Role.ADMIN


def _source() -> str:
    if request.path.startswith(("/ui", "/docs")):
        return "ui"
    if request.headers.get("User-Agent", "").startswith("cronwell/"):
        return "cli"
    return "api"


def _peer() -> str | None:
    """The address that opened the connection (not the one X-Forwarded-For names)."""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return original.get("REMOTE_ADDR") or request.remote_addr


def _refuse(code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The API's error shape (a UI page: the UI's error page)."""
    if request.path.startswith("/ui") and code == 403:
        page = render_template("error.html", message=message)
        return Response(page, 403, mimetype="text/html")
    body = {"code": code, "status": HTTP_STATUS_CODES.get(code, "Error"), "message": message}
    answer = jsonify(body)
    answer.status_code = code
    answer.headers.update(headers or {})
    return answer


def too_many(wait: int) -> Response:
    return _refuse(
        429,
        f"Too many wrong credentials from this address: try again in {wait} s.",
        {"Retry-After": str(wait)},
    )


def identify() -> Caller | Response | None:
    """The caller of this request; a refusal (401, 429); or None: nobody signed in."""
    rt = current()
    source, address = _source(), request.remote_addr
    header = request.headers.get("Authorization")
    if header:
        failures = access.failures(rt)
        wait = failures.retry_after(address)
        if wait is not None:
            return too_many(wait)
        scheme, _, given = header.partition(" ")
        caller = None
        if scheme.lower() == "bearer" and given.strip():
            caller = access.key_caller(rt, given.strip(), source, address)
        if caller is None:
            failures.hit(address)
            return _refuse(
                401,
                "Wrong, expired or revoked API key: send 'Authorization: Bearer <key>'.",
                {"WWW-Authenticate": 'Bearer realm="cronwell"'},
            )
        return caller
    proxy_header = rt.settings.auth_proxy_header
    named = request.headers.get(proxy_header, "").strip() if proxy_header else ""
    if named and access.address_in(_peer(), rt.settings.auth_proxy_trusted):
        anonymous = Caller(f"proxy:{named}", named, Role.VIEWER, "proxy", source, address)
        user = accounts.proxy_user(rt, named, anonymous)
        caller = access.user_caller(user, "proxy", source, address) if user else None
        return caller or _refuse(401, f"User {named!r} is disabled or not a valid username.")
    cookie_allowed = request.path.startswith(("/ui", "/docs")) or request.method in READS
    has_cookie = current_app.config["SESSION_COOKIE_NAME"] in request.cookies
    if cookie_allowed and has_cookie and sessions.SESSION_ID_KEY in session:
        caller = sessions.session_caller(rt, session, str(current_app.secret_key), source, address)
        if caller is not None:
            return caller
    if access.is_open(rt):
        return access.open_caller(source, address)
    return None


def check() -> Response | None:
    """before_request: refuse what the caller may not do; else make them the caller."""
    endpoint, path = request.endpoint, request.path
    if endpoint is None and not path.startswith(PROTECTED_PREFIXES):
        return None
    needed = needed_role(current_app, endpoint, request.method)
    if needed is None and endpoint is not None:
        return None
    found = identify()
    if isinstance(found, Response):
        return found
    if found is None:
        if path.startswith(("/ui", "/docs")):
            return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
        return _refuse(
            401,
            "Sign in: send 'Authorization: Bearer <key>' (an API key, or CRONWELL_API_TOKEN).",
            {"WWW-Authenticate": 'Bearer realm="cronwell"'},
        )
    g.caller = found
    g.acting = access.acting_as(found)
    needed = needed or Role.VIEWER
    if not found.may(needed):
        return _refuse(403, f"This needs the {needed} role; {found.actor} has {found.role}.")
    return None


def caller() -> Caller | None:
    """The caller of this request, once :func:`check` has let it through."""
    return g.get("caller")


def require(role: Role) -> None:
    """Refuse (403) unless this request's caller has ``role``: for a view whose role
    depends on what it is asked (the UI's bulk delete). No caller is refused too."""
    who = caller()
    if who is None:
        raise Forbidden(f"This needs the {role} role; sign in first.")
    access.require(who, role)


def done(_error: BaseException | None = None) -> None:
    token = g.pop("acting", None)
    if token is not None:
        access.done_acting(token)


def init_app(app: Flask) -> None:
    app.before_request(check)
    app.teardown_request(done)
