"""Tables of who may do what: UI sessions, users, API keys, the audit log and job
revisions (app/services/access.py, accounts.py, audit.py, revisions.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import utcnow
from app.models.base import Base


class UiSession(Base):
    """A signed-in web UI session: its cookie names it, and logging out deletes it."""

    __tablename__ = "ui_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The user signed in (None: signed in with CRONWELL_API_TOKEN).
    user_id: Mapped[int | None]


class User(Base):
    """A person: signs in to the UI with a password, or through a trusted proxy (no
    password). Never deleted: disabling keeps their name in the audit log."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key: only a hash of its secret is kept. Revoked keys stay, for the log."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(8))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class AuditEntry(Base):
    """One change, written in the change's own transaction (app/services/audit.py)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120), index=True)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(140), index=True)
    source: Mapped[str] = mapped_column(String(8))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class JobRevision(Base):
    """A version of a job's definition, whole, with what changed from the one before."""

    __tablename__ = "job_revisions"

    job_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    revision: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    definition: Mapped[dict[str, Any]]
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
