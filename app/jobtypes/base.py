"""What a job type is: a configuration schema and a ``run`` that honours a deadline.

A run gets a :class:`RunContext`. Threads cannot be killed, so a handler is expected to
check ``context.cancelled`` (or use ``context.remaining()`` as its I/O timeout); the runner
does not wait for it: at the deadline it records ``timeout``, sets the cancel token and
frees the slot, so a handler that ignores the token costs a thread, never a slot or a
later fire. The built-in types stop promptly: ``shell`` kills its process group and
``http`` abandons its connection.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from marshmallow import Schema

from app.config import Settings
from app.outputs import OUTPUT_LIMIT, OutputTail

__all__ = ["OUTPUT_LIMIT", "JobType", "OutputTail", "RunContext", "RunResult", "failed_request"]


@dataclass
class RunContext:
    """Everything a handler may use during one attempt."""

    job_id: str
    execution_id: int
    job_type: str
    configuration: Mapping[str, Any]
    deadline: float  # time.monotonic() value
    settings: Settings
    #: The worker running the attempt (its claim named it): host, pid and a nonce.
    worker: str = ""
    #: The time this run stands for (a scheduled fire's time; a run-now's request; a
    #: retry's due time), and what started it (schedule, manual, retry, chain...).
    scheduled_at: dt.datetime | None = None
    trigger: str = ""
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: What the run has printed so far: a handler that streams output (``shell``) feeds
    #: it, and the recorder writes it to the running row about twice a second.
    output: OutputTail = field(default_factory=lambda: OutputTail())
    _on_cancel: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def scheduled_at_text(self) -> str:
        """``scheduled_at`` as ISO-8601 with its offset ("" when unknown)."""
        return self.scheduled_at.isoformat() if self.scheduled_at is not None else ""

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def cancel(self) -> None:
        """Stop the attempt (the runner's timeout, a cancel request, a shutdown): set the
        token and call what the handler registered with :meth:`call_on_cancel`."""
        with self._lock:
            if self.cancelled.is_set():
                return
            self.cancelled.set()
            callbacks, self._on_cancel = self._on_cancel, []
        for callback in callbacks:
            with contextlib.suppress(Exception):  # a socket already closed, say
                callback()

    def call_on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` when the attempt is cancelled (at once if it already is), from
        the cancelling thread: for I/O that blocks, e.g. to shut a socket. Returns a
        function that takes it back."""
        with self._lock:
            if not self.cancelled.is_set():
                self._on_cancel.append(callback)
                return lambda: self._forget(callback)
        with contextlib.suppress(Exception):
            callback()
        return lambda: None

    def _forget(self, callback: Callable[[], None]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._on_cancel.remove(callback)


@dataclass
class RunResult:
    """What a handler reports; the runner turns it into the execution row."""

    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    output: str | None = None
    output_truncated: bool = False
    error: str | None = None


class JobType:
    """A kind of job. Subclasses set ``name``, ``config_schema`` and implement ``run``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    config_schema: ClassVar[type[Schema]]

    def is_enabled(self, settings: Settings) -> tuple[bool, str | None]:
        """Whether the server's configuration allows this type, and why not."""
        return True, None

    def validate(self, configuration: Any, settings: Settings) -> dict[str, Any]:
        """The loaded configuration; raises marshmallow's ValidationError."""
        return self._config_loader.load(configuration or {})

    @functools.cached_property
    def _config_loader(self) -> Schema:
        # One instance per type: building a schema costs more than loading with it.
        return self.config_schema()

    def run(self, context: RunContext) -> RunResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def end_leftovers(self, runs: set[tuple[int, str]]) -> int:
        """End what runs of this type left on this host after their worker was lost
        (``runs``: execution id and worker id pairs); how many things were ended. Most
        types leave nothing behind a thread."""
        return 0


def failed_request(exc: Any, what: str) -> RunResult:
    """A run whose call failed (:class:`app.httpclient.RequestFailed`): ``what`` failed,
    with the body read before it."""
    return RunResult(
        ok=False,
        output=exc.tail.text() or None,
        output_truncated=exc.tail.truncated,
        error=f"{what} failed: {exc}",
    )
