"""The per-app bundle the services work with: settings, database, job types, scheduler."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from app.config import Settings
from app.db import Database
from app.instruments import Instruments
from app.jobtypes import JobTypeRegistry
from app.scheduler.manager import SchedulerManager


@dataclass
class Runtime:
    settings: Settings
    db: Database
    registry: JobTypeRegistry
    scheduler: SchedulerManager
    instruments: Instruments
    started_monotonic: float = field(default_factory=time.monotonic)
    created_pid: int = field(default_factory=os.getpid)
    #: What a service keeps for this app between requests (the metrics snapshots).
    caches: dict[str, Any] = field(default_factory=dict)

    @property
    def uptime_seconds(self) -> float:
        return round(time.monotonic() - self.started_monotonic, 3)

    def start(self) -> None:
        """Start the scheduler side (leads if it wins the lock, else stands by).

        With SCHEDULER_ENABLED false this process only serves the API.
        """
        if os.getpid() != self.created_pid:
            # Built before a fork (gunicorn --preload): the parent's pooled connections
            # must not be shared, so this process opens its own.
            self.db.engine.dispose(close=False)
        if self.settings.scheduler_enabled:
            self.scheduler.start()

    def shutdown(self, grace_seconds: float | None = None) -> None:
        self.scheduler.shutdown(grace_seconds)


def current() -> Runtime:
    """The app's runtime for the current request (the API's and the UI's views)."""
    return current_app.extensions["cronwell"]
