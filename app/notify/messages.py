"""What a notification says: the contract's JSON body, and a title and text for chat,
mail and push services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EXECUTION_FIELDS = (
    "id",
    "status",
    "trigger",
    "attempt",
    "scheduled_at",
    "started_at",
    "finished_at",
    "duration_ms",
    "error",
)
HEADLINES = {
    "failure": "failed",
    "recovery": "recovered",
    "missed": "missed a run",
    "success": "succeeded",
    "slow": "is running slow",
    "test": "test message",
}


@dataclass(frozen=True)
class Message:
    event: str
    body: dict[str, Any]  # the JSON an http(s) receiver gets

    @property
    def title(self) -> str:
        job = self.body["job"]
        return f"Cronwell: {job['name']} {HEADLINES.get(self.event, self.event)}"

    @property
    def text(self) -> str:
        execution = self.body["execution"]
        lines = [f"Job {self.body['job']['id']} ({self.body['job']['type']})"]
        if execution.get("id") is not None:
            lines.append(f"Execution {execution['id']}: {execution['status']}")
        if execution.get("duration_ms") is not None:
            lines.append(f"Duration: {execution['duration_ms']} ms")
        if execution.get("error"):
            lines.append(f"Error: {execution['error']}")
        if self.body.get("url"):
            lines.append(self.body["url"])
        return "\n".join(lines)


def build(
    event: str, job: Mapping[str, Any], execution: Mapping[str, Any], public_url: str | None
) -> Message:
    """The message about ``execution`` of ``job`` (mappings of their columns)."""
    link = None
    if public_url and execution.get("id") is not None:
        link = f"{public_url.rstrip('/')}/ui/jobs/{job['id']}/executions/{execution['id']}"
    return Message(
        event,
        {
            "event": event,
            "job": {"id": job["id"], "name": job["name"], "type": job["type"]},
            "execution": {key: _plain(execution.get(key)) for key in EXECUTION_FIELDS},
            "url": link,
        },
    )


def test_message(public_url: str | None) -> Message:
    """What POST /api/notifications/test sends."""
    now = dt.datetime.now(dt.UTC).isoformat()
    return Message(
        "test",
        {
            "event": "test",
            "job": {"id": "cronwell-test", "name": "Notification test", "type": "test"},
            "execution": {key: None for key in EXECUTION_FIELDS}
            | {"status": "success", "scheduled_at": now},
            "url": public_url.rstrip("/") + "/ui/" if public_url else None,
        },
    )


def _plain(value: Any) -> Any:
    return value.astimezone(dt.UTC).isoformat() if isinstance(value, dt.datetime) else value
