"""The web UI's sign-in sessions: started with a user's password or the token, ended by
logging out.

A session is a random id in the signed cookie and a row here; logging out deletes the
row, so a copy of the cookie is worth nothing afterwards. Sessions older than the
cookie's lifetime are deleted at each sign-in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, insert, select

from app.db import utcnow
from app.models import UiSession, User
from app.runtime import Runtime
from app.services import access
from app.services.access import Caller

#: Keys of the signed cookie: a fingerprint of the token signed in with, and the session id.
SIGNED_IN_KEY = "signed_in"
SESSION_ID_KEY = "session_id"


def fingerprint(secret_key: str, token: str) -> str:
    """What the cookie keeps of the token it signed in with: changing the token ends
    every session."""
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def session_caller(
    rt: Runtime,
    cookie: Mapping[str, Any],
    secret_key: str,
    source: str,
    remote_addr: str | None,
) -> Caller | None:
    """The caller whose live session the UI's signed ``cookie`` names: a user (as they
    are now: disabled, or given another role, takes effect here), or the token (made with
    today's token). None: no such session."""
    session_id = cookie.get(SESSION_ID_KEY)
    if not isinstance(session_id, str):
        return None
    with rt.db.read() as session:
        row = session.execute(
            select(UiSession.created_at, User)
            .outerjoin(User, User.id == UiSession.user_id)
            .where(UiSession.id == session_id)
        ).first()
    if row is None or row.created_at <= utcnow() - lifetime(rt):
        return None
    if row.User is not None:
        return access.user_caller(row.User, "session", source, remote_addr)
    token, given = rt.settings.api_token, cookie.get(SIGNED_IN_KEY)
    if (
        token
        and isinstance(given, str)
        and hmac.compare_digest(given, fingerprint(secret_key, str(token)))
    ):
        return access.token_caller(source, remote_addr, via="session")
    return None


def lifetime(rt: Runtime) -> dt.timedelta:
    """How long a session lasts (CRONWELL_SESSION_HOURS)."""
    return dt.timedelta(hours=rt.settings.session_hours)


def start_session(rt: Runtime, lifetime: dt.timedelta, user_id: int | None = None) -> str:
    """A new session's id, for a user (None: for the token); sessions past ``lifetime``
    are dropped."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    with rt.db.write_connection() as connection:
        connection.execute(delete(UiSession).where(UiSession.created_at < now - lifetime))
        connection.execute(insert(UiSession).values(id=session_id, created_at=now, user_id=user_id))
    return session_id


def end_session(rt: Runtime, session_id: str) -> None:
    with rt.db.write_connection() as connection:
        connection.execute(delete(UiSession).where(UiSession.id == session_id))
