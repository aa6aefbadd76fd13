"""Small helpers for tests that watch real processes."""

import datetime as dt
from pathlib import Path


def process_alive(pid: int) -> bool:
    """True if the pid runs (a zombie counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def seconds_between(a: str, b: str) -> float:
    return (ts(b) - ts(a)).total_seconds()
