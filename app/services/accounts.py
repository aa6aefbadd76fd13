"""API keys and users: made, listed and changed by admins; each change audited.

A key's secret is shown once, when it is made; only its SHA-256 is kept. Passwords are
hashed with Argon2id (argon2-cffi). Keys and users are never deleted: a key is revoked and
a user disabled, so the audit log's names keep meaning something.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets as random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import ApiKey, User
from app.runtime import Runtime
from app.services import access, audit
from app.services.access import ROLES, Caller, Role, current_caller

MIN_PASSWORD = 12
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
KEY_PREFIX = "cw_"

if TYPE_CHECKING:
    from argon2 import PasswordHasher


@functools.cache
def _hasher() -> PasswordHasher:
    """argon2-cffi's hasher, imported when a first password is hashed or checked (a
    service signed into with keys only does not keep it)."""
    from argon2 import PasswordHasher

    return PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so that a wrong name takes as long
    as a wrong password."""
    return _hasher().hash(random.token_urlsafe(16))


def _role(value: str) -> Role:
    if value not in ROLES:
        raise ValidationFailed("role", f"Must be one of {', '.join(ROLES)}.")
    return Role(value)


def _closed(rt: Runtime) -> None:
    """A key or user exists now: the service is no longer open."""
    rt.caches["access_closed"] = True


# -- keys ---------------------------------------------------------------------------------


@dataclass
class NewKey:
    key: ApiKey
    secret: str


def create_key(rt: Runtime, name: str, role: str, expires_at: dt.datetime | None) -> NewKey:
    """Make a key; its secret is in the answer, and nowhere else ever again."""
    role = _role(role)
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed("expires_at", "Must be in the future.")
    secret = KEY_PREFIX + random.token_urlsafe(32)
    values = {
        "name": name,
        "role": role,
        "prefix": secret[:8],
        "secret_hash": access.key_hash(secret),
        "created_at": utcnow(),
        "created_by": current_caller().actor,
        "expires_at": expires_at,
        "last_used_at": None,
        "revoked_at": None,
    }
    with rt.db.write_connection() as connection:
        key_id = connection.execute(insert(ApiKey).values(values).returning(ApiKey.id)).scalar_one()
        audit.record(
            connection,
            "key.create",
            f"key:{key_id}",
            {"name": [None, name], "role": [None, role], "expires_at": [None, _iso(expires_at)]},
        )
    _closed(rt)
    return NewKey(ApiKey(id=key_id, **values), secret)


def list_keys(rt: Runtime) -> list[ApiKey]:
    with rt.db.read() as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.id)).all())


def revoke_key(rt: Runtime, key_id: int) -> None:
    """Revoke at once (revoking a revoked key changes nothing)."""
    with rt.db.write() as session:
        key = session.get(ApiKey, key_id)
        if key is None:
            raise NotFound(f"Key {key_id} not found.")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            audit.record(session, "key.revoke", f"key:{key_id}", {"revoked": [False, True]})


# -- users --------------------------------------------------------------------------------


def _checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed("password", f"Must be at least {MIN_PASSWORD} characters.")
    return _hasher().hash(password)


def create_user(rt: Runtime, username: str, role: str, password: str | None) -> User:
    """Make a user (without a password: one who signs in through the proxy only)."""
    if not USERNAME.match(username):
        raise ValidationFailed(
            "username", "Letters, digits and . _ @ - only, starting with a letter or digit."
        )
    role = _role(role)
    hashed = _checked_password(password) if password is not None else None
    now = utcnow()
    user = User(
        username=username,
        role=role,
        password_hash=hashed,
        disabled=False,
        created_at=now,
        created_by=current_caller().actor,
        updated_at=now,
    )
    changes = {"role": [None, role]}
    if password is not None:
        changes["password"] = [None, password]
    try:
        with rt.db.write() as session:
            session.add(user)
            session.flush()
            audit.record(session, "user.create", f"user:{username}", changes)
    except IntegrityError:
        raise Conflict(
            f"User {username!r} already exists.", {"username": ["Already taken."]}
        ) from None
    _closed(rt)
    return user


def list_users(rt: Runtime) -> list[User]:
    with rt.db.read() as session:
        return list(session.scalars(select(User).order_by(User.username)).all())


def update_user(
    rt: Runtime,
    username: str,
    *,
    role: str | None = None,
    password: str | None = None,
    disabled: bool | None = None,
) -> User:
    """Change a user's role, password or disabled state; it takes effect on their next
    request."""
    if role is None and password is None and disabled is None:
        raise ValidationFailed("_body", "No fields to update: give role, password or disabled.")
    hashed = _checked_password(password) if password is not None else None
    new_role = _role(role) if role is not None else None
    with rt.db.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"User {username!r} not found.")
        changes: dict[str, list] = {}
        if new_role is not None and new_role != user.role:
            changes["role"] = [user.role, new_role]
            user.role = new_role
        if hashed is not None:
            changes["password"] = ["", password]
            user.password_hash = hashed
        if disabled is not None and disabled != user.disabled:
            changes["disabled"] = [user.disabled, disabled]
            user.disabled = disabled
        if changes:
            user.updated_at = utcnow()
            audit.record(session, "user.update", f"user:{username}", changes)
    return user


def check_password(rt: Runtime, username: str, password: str) -> User | None:
    """The user whose password this is (None: unknown, wrong, disabled or proxy-only)."""
    with rt.db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
    from argon2.exceptions import InvalidHashError, VerificationError

    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    try:
        _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled or not user.password_hash:
        return None
    return user


def proxy_user(rt: Runtime, username: str, caller: Caller) -> User | None:
    """The user a trusted proxy names, made on first sight with the proxy's default role
    (None: a name that cannot be a username)."""
    with rt.db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
    if user is not None:
        return user
    if not USERNAME.match(username):
        return None
    token = access.acting_as(caller)
    try:
        return create_user(rt, username, rt.settings.auth_proxy_default_role, None)
    except Conflict:  # made by another request meanwhile
        with rt.db.read() as session:
            return session.scalar(select(User).where(User.username == username))
    finally:
        access.done_acting(token)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def record_login(rt: Runtime, action: str, target: str) -> None:
    """A sign-in to the UI (``login``) or a refused one (``login.failed``)."""
    with rt.db.write_connection() as connection:
        audit.record(connection, action, target)
