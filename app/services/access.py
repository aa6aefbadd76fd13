"""Who is calling, and what their role lets them do: one place for every API route, UI
page and /metrics (the HTTP layer asks here, app/gate.py).

A caller is known by one of: a bearer API key (only its SHA-256 is stored: a key is 32
random bytes, so a fast hash is as safe as a slow one and costs microseconds), the
service's CRONWELL_API_TOKEN (an admin), a UI session (a user's or the token's), a user
named by a trusted proxy's header, or nobody while the service is open (no token, key or
user exists yet: everyone acts as ``anonymous`` admin).

Wrong credentials are counted per address with the ``limits`` library: past
CRONWELL_AUTH_FAILURES_PER_MINUTE (10) in a minute, the address gets 429 for the rest of
the minute. The count is kept in each process.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import hmac
import ipaddress
import math
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, exists, or_, select, update

from app.db import utcnow
from app.errors import Forbidden
from app.models import ApiKey, User
from app.runtime import Runtime


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return ROLES.index(self)


ROLES = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)


@dataclass(frozen=True)
class Caller:
    """Who makes this request, and from where (the audit log's actor, source and address)."""

    actor: str  # user:alice, key:<name>, token, proxy:alice, anonymous, system
    name: str
    role: Role
    via: str  # session, key, token, proxy, open; "" for the system
    source: str = "api"  # api, ui or cli
    remote_addr: str | None = None

    def may(self, needed: Role) -> bool:
        return self.role.rank >= needed.rank


#: The service itself (the scheduler, migrations): what the audit log names when no
#: request is behind a change.
SYSTEM = Caller("system", "system", Role.ADMIN, "")
_CALLER: contextvars.ContextVar[Caller] = contextvars.ContextVar("cronwell_caller", default=SYSTEM)


def current_caller() -> Caller:
    """The caller of the request this code runs for (SYSTEM outside requests)."""
    return _CALLER.get()


def acting_as(caller: Caller) -> contextvars.Token:
    """Make ``caller`` the current caller (until :func:`done_acting` with the token)."""
    return _CALLER.set(caller)


def done_acting(token: contextvars.Token) -> None:
    _CALLER.reset(token)


def require(caller: Caller, needed: Role) -> None:
    """Refuse (403, naming the role) what ``caller``'s role does not allow."""
    if not caller.may(needed):
        raise Forbidden(f"This needs the {needed} role; {caller.actor} has the {caller.role} role.")


#: How long a process trusts its last reading that the service is open. A key or user
#: made in this process closes it here at once; in the others within this long.
OPEN_CHECK_SECONDS = 1.0


def is_open(rt: Runtime) -> bool:
    """No token, no key and no user exists: every caller acts as an admin. Keys and users
    are never deleted, so once closed a service stays closed (this process remembers)."""
    if rt.settings.api_token or rt.caches.get("access_closed"):
        return False
    checked = rt.caches.get("access_open_until", 0.0)
    if time.monotonic() < checked:
        return True
    with rt.db.reader.connect() as connection:
        closed = connection.scalar(_ANY_CREDENTIAL)
    if closed:
        rt.caches["access_closed"] = True
    else:
        rt.caches["access_open_until"] = time.monotonic() + OPEN_CHECK_SECONDS
    return not closed


_ANY_CREDENTIAL = select(or_(exists(select(User.id)), exists(select(ApiKey.id))))


def open_caller(source: str, remote_addr: str | None) -> Caller:
    return Caller("anonymous", "anonymous", Role.ADMIN, "open", source, remote_addr)


def token_caller(source: str, remote_addr: str | None, via: str = "token") -> Caller:
    return Caller("token", "token", Role.ADMIN, via, source, remote_addr)


def token_matches(rt: Runtime, given: str) -> bool:
    """Whether ``given`` is the service's API token (compared in constant time)."""
    token = rt.settings.api_token
    return bool(token) and hmac.compare_digest(given.encode(), str(token).encode())


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


#: How often a key's last_used_at is written (a write per request would cost more than
#: the request).
LAST_USED_EVERY = dt.timedelta(seconds=60)


_KEY_BY_HASH = select(
    ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.secret_hash, ApiKey.expires_at,
    ApiKey.revoked_at, ApiKey.last_used_at,
).where(ApiKey.secret_hash == bindparam("digest"))  # fmt: skip


def key_caller(rt: Runtime, secret: str, source: str, remote_addr: str | None) -> Caller | None:
    """The caller a bearer ``secret`` stands for: the token, or a live key (None: neither)."""
    if token_matches(rt, secret):
        return token_caller(source, remote_addr)
    digest = key_hash(secret)
    with rt.db.reader.connect() as connection:  # Core: one indexed read per request
        key = connection.execute(_KEY_BY_HASH, {"digest": digest}).first()
    now = utcnow()
    if key is None or not hmac.compare_digest(key.secret_hash, digest):
        return None
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_EVERY:
        with rt.db.write_connection() as connection:
            connection.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    return Caller(f"key:{key.name}", key.name, Role(key.role), "key", source, remote_addr)


def user_caller(user: User, via: str, source: str, remote_addr: str | None) -> Caller | None:
    """The caller a user row stands for (None: disabled)."""
    if user.disabled:
        return None
    kind = "proxy" if via == "proxy" else "user"
    return Caller(
        f"{kind}:{user.username}", user.username, Role(user.role), via, source, remote_addr
    )


def address_in(address: str | None, networks: list[str]) -> bool:
    """Whether ``address`` is in one of ``networks`` (CIDRs or single addresses)."""
    try:
        peer = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(n, strict=False) for n in networks)


class PerMinute:
    """A limit of events per key (an address, a monitor) in any minute, in this process:
    past it, the key waits (the ``limits`` library's moving window, imported when a
    first limit is made: a service that never meets one does not keep its 1.5 MiB)."""

    def __init__(self, per_minute: int) -> None:
        from limits import RateLimitItemPerMinute
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.limit = RateLimitItemPerMinute(max(per_minute, 1))
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, key: str | None) -> int | None:
        """Seconds ``key`` must wait, or None when it may go on."""
        key = key or "-"
        if self.limiter.test(self.limit, key):
            return None
        reset = self.limiter.get_window_stats(self.limit, key).reset_time
        return max(1, math.ceil(reset - time.time()))

    def hit(self, key: str | None) -> None:
        self.limiter.hit(self.limit, key or "-")


def per_minute(rt: Runtime, name: str, limit: int) -> PerMinute:
    """This process's limit ``name`` of ``limit`` events a minute per key (made once)."""
    counter = rt.caches.get(name)
    if counter is None:
        counter = rt.caches[name] = PerMinute(limit)
    return counter


def failures(rt: Runtime) -> PerMinute:
    """This process's count of wrong credentials, by address."""
    return per_minute(rt, "auth_failures", rt.settings.auth_failures_per_minute)
