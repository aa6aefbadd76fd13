"""The ``shell`` job type: a command in its own process group, killed at the deadline.

Off unless ``SHELL_JOBS_ENABLED``: it runs commands on this host as the service's user.
The child gets the service's environment minus every ``CRONWELL_*`` variable (the API
token must not leak into jobs), plus the job's ``env``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from app.config import Settings
from app.jobtypes.base import JobType, OutputTail, RunContext, RunResult

KILL_GRACE_SECONDS = 0.5


class CommandField(fields.Field):
    """A string run by /bin/sh, or an argv list run directly."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str | list[str]:
        if isinstance(value, str):
            if not value.strip():
                raise ValidationError("Must not be empty.")
            if len(value) > 10000:
                raise ValidationError("Longer than maximum length 10000.")
            return value
        if isinstance(value, list) and value and all(isinstance(a, str) for a in value):
            if len(value) > 256 or sum(map(len, value)) > 10000 or not value[0]:
                raise ValidationError("An argv list has 1-256 strings, 10000 chars in all.")
            return value
        raise ValidationError("Must be a string or a non-empty list of strings.")


class ShellConfigSchema(Schema):
    command = CommandField(
        required=True,
        metadata={
            "description": "A string run by /bin/sh -c, or an argv list.",
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        },
    )
    cwd = fields.String(validate=validate.Length(min=1, max=4096), allow_none=True)
    env = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")),
        values=fields.String(validate=validate.Length(max=8192)),
        load_default=dict,
    )


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class ShellJobType(JobType):
    name = "shell"
    description = "Runs a command on this host; succeeds on exit code 0."
    config_schema = ShellConfigSchema

    def is_enabled(self, settings: Settings) -> tuple[bool, str | None]:
        if settings.shell_jobs_enabled:
            return True, None
        return False, "The shell job type is off: set CRONWELL_SHELL_JOBS_ENABLED=true."

    def end_leftovers(self, runs: set[tuple[int, str]]) -> int:
        """A shell run's process group outlives a kill -9 of its worker: kill it."""
        return kill_orphans(runs)

    def run(self, context: RunContext) -> RunResult:
        config = context.configuration
        command = config["command"]
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRONWELL_")}
        env.update(config.get("env") or {})
        env["CRONWELL_JOB_ID"] = context.job_id
        env["CRONWELL_EXECUTION_ID"] = str(context.execution_id)
        env["CRONWELL_SCHEDULED_AT"] = context.scheduled_at_text()
        env["CRONWELL_TRIGGER"] = context.trigger
        # With the execution id, it tells this run's processes apart from any other
        # service's on the host (see kill_orphans).
        env["CRONWELL_WORKER"] = context.worker
        try:
            proc = subprocess.Popen(
                argv,
                cwd=config.get("cwd") or None,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as a whole
            )
        except OSError as exc:
            return RunResult(ok=False, error=f"Could not start the command: {exc}")
        tail = context.output
        reader = threading.Thread(target=self._read, args=(proc, tail), daemon=True)
        reader.start()
        stopped_by = None
        while True:
            try:
                proc.wait(timeout=min(0.05, max(context.remaining(), 0.001)))
                break
            except subprocess.TimeoutExpired:
                if context.cancelled.is_set() or context.remaining() <= 0:
                    stopped_by = "cancelled" if context.cancelled.is_set() else "deadline"
                    self._stop(proc)
                    break
        # Whatever the command left in its group ends with it (no orphans).
        _kill_group(proc.pid, signal.SIGKILL)
        reader.join(timeout=1)
        result = {"exit_code": proc.returncode, "pid": proc.pid}
        if stopped_by:
            return RunResult(
                ok=False,
                result=result,
                output=tail.text(),
                output_truncated=tail.truncated,
                error=f"Process group killed ({stopped_by}).",
            )
        ok = proc.returncode == 0
        return RunResult(
            ok=ok,
            result=result,
            output=tail.text(),
            output_truncated=tail.truncated,
            error=None if ok else f"Exit code {proc.returncode}.",
        )

    @staticmethod
    def _read(proc: subprocess.Popen, tail: OutputTail) -> None:
        assert proc.stdout is not None
        with proc.stdout:
            for chunk in iter(lambda: proc.stdout.read1(65536), b""):
                tail.feed(chunk)

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        _kill_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid, signal.SIGKILL)
            proc.wait()


def kill_orphans(runs: set[tuple[int, str]]) -> int:
    """Kill the process groups on this host of shell runs whose worker was lost.

    ``runs``: (execution id, worker) pairs. A shell job runs in its own session, so it
    outlives a kill -9 of its worker. Its environment carries CRONWELL_EXECUTION_ID and
    CRONWELL_WORKER, which together tell it apart from an unrelated process that reused
    the pid, and from another service's run with the same execution id. Linux only
    (reads /proc); elsewhere a no-op.
    """
    proc = Path("/proc")
    if not runs or not proc.is_dir():
        return 0
    wanted = {
        (f"CRONWELL_EXECUTION_ID={i}".encode(), f"CRONWELL_WORKER={worker}".encode())
        for i, worker in runs
    }
    groups: set[int] = set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = set((entry / "environ").read_bytes().split(b"\0"))
            if any(execution in environ and worker in environ for execution, worker in wanted):
                groups.add(os.getpgid(int(entry.name)))
        except (OSError, ProcessLookupError):
            continue
    for pgid in groups:
        _kill_group(pgid, signal.SIGKILL)
    return len(groups)
