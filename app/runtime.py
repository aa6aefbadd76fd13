"""The per-app bundle the services work with: settings, database, job types, scheduler."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from app.db import Database
from app.instruments import Instruments
from app.jobtypes import JobTypeRegistry
from app.scheduler.manager import SchedulerManager

#: How long a thread holds the GIL before another may take it (Python's default: 5 ms).
SWITCH_INTERVAL_SECONDS = 0.0005


@dataclass
class Runtime:
    settings: dict[str, Any]
    db: Database
    registry: JobTypeRegistry
    scheduler: SchedulerManager
    instruments: Instruments
    started_monotonic: float = field(default_factory=time.monotonic)
    created_pid: int = field(default_factory=os.getpid)

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
        if self.settings.get("SCHEDULER_ENABLED", True):
            # A run due now waits for the GIL while another thread of this process holds
            # it: at Python's default switch interval (5 ms) that is most of a run's
            # lateness. Threads take turns every half millisecond here instead.
            sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
            self.scheduler.start()

    def shutdown(self, grace_seconds: float | None = None) -> None:
        self.scheduler.shutdown(grace_seconds)
