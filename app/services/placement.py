"""Checks on where and how many of a job's runs go, when it is saved: ``run_on`` labels
and its ``concurrency_group``."""

from __future__ import annotations

from app.config import Settings
from app.errors import ValidationFailed


def check_group(settings: Settings, group: str | None) -> str | None:
    """The group, if CRONWELL_CONCURRENCY_GROUPS names it (or None); 422 otherwise."""
    if group is None:
        return None
    known = settings.concurrency_groups
    if group not in known:
        names = ", ".join(sorted(known)) or "none"
        raise ValidationFailed(
            "concurrency_group",
            f"Unknown group {group!r}: CRONWELL_CONCURRENCY_GROUPS names {names}.",
        )
    return group
