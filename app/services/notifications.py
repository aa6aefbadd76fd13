"""Notification settings of jobs, the notifications of executions, and test messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from app.config import Settings
from app.errors import DeliveryFailed, ValidationFailed
from app.models import DEFAULT_NOTIFY_ON, NOTIFY_EVENTS, Execution, Notification
from app.notify import messages, urls
from app.notify.delivery import Delivery, deliver
from app.runtime import Runtime

#: What a job may be told about, and its default choice.
EVENTS = NOTIFY_EVENTS
DEFAULT_EVENTS = DEFAULT_NOTIFY_ON
MAX_URLS = urls.MAX_URLS


def check_notify(
    notify: Mapping[str, Any] | None, current: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """A job's ``notify`` as stored: its URLs checked (a 422 naming notify.urls), and
    each URL sent back masked replaced by the current one it masks."""
    if notify is None:
        return None
    given = list(notify.get("urls") or [])
    if current:
        given = urls.keep_unmasked(given, current.get("urls") or [])
    problems = urls.problems_with(given)
    if problems:
        raise ValidationFailed("notify.urls", " ".join(problems))
    on = notify.get("on")
    return {"on": list(dict.fromkeys(DEFAULT_EVENTS if on is None else on)), "urls": given}


def check_defaults(settings: Settings) -> None:
    """Refuse to start with NOTIFY_URLS or NOTIFY_ON the service could not use."""
    configured = settings.notify_urls
    if not isinstance(configured, list) or not all(isinstance(u, str) for u in configured):
        raise ValueError('NOTIFY_URLS must be a JSON list of URLs: ["https://..."]')
    problems = [p for p in map(urls.problem_with, configured) if p]
    if problems:
        raise ValueError(f"NOTIFY_URLS: {' '.join(problems)}")
    events = settings.notify_on
    if not isinstance(events, list | tuple) or any(e not in EVENTS for e in events):
        raise ValueError(f"NOTIFY_ON must be a JSON list of {', '.join(EVENTS)}; got {events!r}")


def shown(notify: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A job's ``notify`` as answers show it: URLs masked."""
    if notify is None:
        return None
    return {"on": list(notify.get("on") or []), "urls": [urls.mask(u) for u in notify["urls"]]}


def masked_url(url: str) -> str:
    return urls.mask(url)


def attach(session, executions: Sequence[Execution]) -> None:
    """Fill each execution's ``notifications`` (one read for all)."""
    by_execution: dict[int, list[Notification]] = {e.id: [] for e in executions}
    if by_execution:
        rows = session.scalars(
            select(Notification)
            .where(Notification.execution_id.in_(by_execution))
            .order_by(Notification.id)
        )
        for row in rows:
            by_execution[row.execution_id].append(row)
    for execution in executions:
        execution.notifications = by_execution.get(execution.id, [])


def send_test(rt: Runtime, url: str) -> Delivery:
    """Send a test message to ``url`` now (422: not a usable URL; 502: not taken)."""
    problem = urls.problem_with(url)
    if problem:
        raise ValidationFailed("url", problem)
    delivery = deliver(url, messages.test_message(rt.settings.public_url), rt.settings)
    if not delivery.ok:
        raise DeliveryFailed(delivery.detail)
    return delivery
