"""The runner's inbox: what other threads post to its loop (:mod:`app.scheduler.runner`)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.jobtypes.base import RunResult
from app.scheduler.recorder import Entry
from app.scheduler.stages import Queued
from app.scheduler.workers import Attempt


@dataclass(frozen=True)
class Offered:
    """Queued rows just written (the pass) or read, to start at their time."""

    queued: list[Queued]


@dataclass(frozen=True)
class Woken:
    """Rows queued in this process (a run-now, chained runs): read them by id now."""

    execution_ids: tuple[int, ...]


@dataclass(frozen=True)
class PollSoon:
    """Another worker queued a run for now: poll the queue at once."""


@dataclass(frozen=True)
class CancelAsked:
    """A run was cancelled in the database: stop it if it runs here."""

    execution_id: int


@dataclass(frozen=True)
class HandlerDone:
    """A handler returned (its thread is free)."""

    attempt: Attempt
    status: str
    result: RunResult


@dataclass(frozen=True)
class Written:
    """The recorder wrote these outcomes (or found them no longer this worker's)."""

    entries: list[Entry]


@dataclass(frozen=True)
class Stop:
    """Start nothing more; let running attempts finish for ``grace`` seconds."""

    grace: float


@dataclass(frozen=True)
class IoDone:
    """The runner's I/O thread finished a piece of the loop's database work: a claim, a
    renewal, a read of cancel requests or of the queue's head."""

    tag: str
    result: Any
    error: Exception | None
    context: Any = None


Event = Offered | Woken | PollSoon | CancelAsked | HandlerDone | Written | Stop | IoDone


class IoThread:
    """One thread that runs the runner's database work, posting each result to its inbox
    as an :class:`IoDone`: a write waiting for the database never holds up the loop."""

    def __init__(self, post: Callable[[IoDone], None]) -> None:
        self.post = post
        self._work: queue.SimpleQueue[tuple[str, Callable[[], Any], Any] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cronwell-io", daemon=True)
        self._thread.start()

    def submit(self, tag: str, call: Callable[[], Any], context: Any = None) -> None:
        self._work.put((tag, call, context))

    def stop(self) -> None:
        if self._thread is not None:
            self._work.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while (work := self._work.get()) is not None:
            tag, call, context = work
            try:
                done = IoDone(tag, call(), None, context)
            except Exception as exc:
                done = IoDone(tag, None, exc, context)
            self.post(done)
