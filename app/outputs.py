"""What a run printed or a call answered: the last bytes of a stream, kept as it comes."""

from __future__ import annotations

import threading

OUTPUT_LIMIT = 64 * 1024


class OutputTail:
    """Keeps the last OUTPUT_LIMIT bytes of a stream and whether anything was dropped.

    Fed by the handler's reader thread and read, while the run goes, by the recorder
    (the live output of a running row): ``version`` counts the feeds, so a reader can tell
    whether anything came since it last looked.
    """

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self.limit = limit
        self.buffer = bytearray()
        self.truncated = False
        self.version = 0
        self._lock = threading.Lock()

    def feed(self, chunk: bytes) -> None:
        with self._lock:
            self.buffer.extend(chunk)
            if len(self.buffer) > self.limit:
                del self.buffer[: len(self.buffer) - self.limit]
                self.truncated = True
            self.version += 1

    def snapshot(self) -> tuple[int, str, bool]:
        """(version, text, truncated) as of now."""
        with self._lock:
            data, version, truncated = bytes(self.buffer), self.version, self.truncated
        return version, data.decode("utf-8", errors="replace"), truncated

    def text(self) -> str:
        return self.snapshot()[1]
