"""The web UI's sign-in sessions: started with the right token, ended by logging out.

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
from app.models import UiSession
from app.runtime import Runtime

#: Keys of the signed cookie: a fingerprint of the token signed in with, and the session id.
SIGNED_IN_KEY = "signed_in"
SESSION_ID_KEY = "session_id"


def fingerprint(secret_key: str, token: str) -> str:
    """What the cookie keeps of the token it signed in with: changing the token ends
    every session."""
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def signed_in(rt: Runtime, cookie: Mapping[str, Any], secret_key: str) -> bool:
    """Whether the UI's signed ``cookie`` holds a live session, made with today's token
    (always, with no token set). The API lets such a session read its own spec for /docs."""
    token = rt.settings.api_token
    if not token:
        return True
    given, session_id = cookie.get(SIGNED_IN_KEY), cookie.get(SESSION_ID_KEY)
    return (
        isinstance(given, str)
        and isinstance(session_id, str)
        and hmac.compare_digest(given, fingerprint(secret_key, str(token)))
        and session_alive(rt, session_id, lifetime(rt))
    )


def lifetime(rt: Runtime) -> dt.timedelta:
    """How long a session lasts (CRONWELL_SESSION_HOURS)."""
    return dt.timedelta(hours=rt.settings.session_hours)


def token_matches(rt: Runtime, given: str) -> bool:
    """Whether ``given`` is the service's API token (compared in constant time)."""
    token = rt.settings.api_token
    return bool(token) and hmac.compare_digest(given.encode(), str(token).encode())


def start_session(rt: Runtime, lifetime: dt.timedelta) -> str:
    """A new session's id (after a right token); sessions past ``lifetime`` are dropped."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    with rt.db.write_connection() as connection:
        connection.execute(delete(UiSession).where(UiSession.created_at < now - lifetime))
        connection.execute(insert(UiSession).values(id=session_id, created_at=now))
    return session_id


def session_alive(rt: Runtime, session_id: str, lifetime: dt.timedelta) -> bool:
    with rt.db.read() as session:
        created = session.scalar(select(UiSession.created_at).where(UiSession.id == session_id))
    return created is not None and created > utcnow() - lifetime


def end_session(rt: Runtime, session_id: str) -> None:
    with rt.db.write_connection() as connection:
        connection.execute(delete(UiSession).where(UiSession.id == session_id))
