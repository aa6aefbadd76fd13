"""Running the commands the README and the guides show, as written: only the port (and,
where a guide says so, a placeholder) is changed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import requests

from tests.support.service import ROOT
from tests.support.waiting import free_port, wait_for

DOCS = ROOT / "docs"


def fenced(path: Path, language: str, between: tuple[str, str] | None = None) -> list[str]:
    """The bodies of the ``language`` code blocks of ``path`` (within the two markers)."""
    text = path.read_text()
    if between:
        text = text.split(between[0])[1].split(between[1])[0]
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.M | re.S)


def commands(path: Path, between: tuple[str, str] | None = None) -> list[str]:
    """Each shell command of ``path``'s sh blocks (a line ending in ``\\`` goes on)."""
    found = []
    for block in fenced(path, "sh", between):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                found.append(line.strip())
    return found


def local(command: str, port: int) -> str:
    return command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")


def curl(command: str, port: int) -> tuple[int, str]:
    """Run a curl command against the service on ``port``: its HTTP status and body."""
    command = local(command, port)
    piped = "|" in command
    if not piped and "-w " not in command:
        command = command.replace("curl ", "curl -w '\\n%{http_code}' ", 1)
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, (command, done.stderr)
    if piped:
        return 200, done.stdout
    body, _, status = done.stdout.rstrip("\n").rpartition("\n")
    return int(status or body), body


class MakeRun:
    """``make run`` (or a command that ends in it) started as a guide shows it, on a free
    port, with only the given environment of ours; stopped with its process group."""

    def __init__(self, command: str, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = workdir / f"make-run-{self.port}.log"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CRONWELL_")}
        clean.update({"PORT": str(self.port), "GUNICORN_ACCESSLOG": "", **(env or {})})
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["bash", "-c", command], cwd=ROOT, env=clean, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.base_url = f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 60) -> None:
        def healthy() -> bool:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                return requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, timeout=timeout, interval=0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
