"""The real ``cronwell`` command, run as a subprocess against a service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CRONWELL = Path(sys.executable).parent / "cronwell"


def cronwell(
    service, *args: str, token: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run ``cronwell --url <service> ARGS``; its exit code, stdout and stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRONWELL_")}
    if token:
        env["CRONWELL_API_TOKEN"] = token
    return subprocess.run(
        [str(CRONWELL), "--url", service.base_url, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
