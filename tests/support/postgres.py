"""A throwaway PostgreSQL server for the tests that run Cronwell on PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from tests.support.waiting import free_port


class Postgres:
    """A throwaway PostgreSQL server in a temp directory, on a free loopback port."""

    def __init__(self, bindir: Path, listen: tuple[str, ...] = ("127.0.0.1",)) -> None:
        import pwd
        import tempfile

        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cronwell-pg-"))
        self.data = self.root / "data"
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.listen = listen
        self._run("initdb", "-D", str(self.data), "-U", "cronwell", "--auth=trust", "-E", "UTF8")
        with open(self.data / "pg_hba.conf", "a") as hba:
            for address in listen[1:]:  # hosts of the test's own (tests/support/netns.py)
                hba.write(f"host all all {address.rsplit('.', 1)[0]}.0/24 trust\n")
        self.start()
        self.count = 0

    def start(self) -> None:
        """Start the server (again, after :meth:`stop_server`), on the same port."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-w", "-l", str(self.root / "server.log"),
            "-o", f"-p {self.port} -k {self.root} -c listen_addresses={','.join(self.listen)}"
            " -c fsync=off",
            "start",
        )  # fmt: skip

    def stop_server(self) -> None:
        """Stop the server as an operator would (``pg_ctl stop``, fast: every connection
        is dropped), keeping its data for :meth:`start`."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.prefix, str(self.bindir / tool), *args],
            check=True,
            capture_output=True,
            cwd=self.root,
        )

    def new_database(self) -> str:
        """A fresh empty database; its SQLAlchemy URL."""
        self.count += 1
        name = f"cronwell_{self.count}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "cronwell", name)
        return self.url(name)

    def url(self, name: str, address: str = "127.0.0.1") -> str:
        """The SQLAlchemy URL of database ``name`` through ``address``."""
        return f"postgresql+psycopg://cronwell@{address}:{self.port}/{name}"

    def stop(self) -> None:
        import shutil

        # It may be stopped already (a test stopped it and failed before starting it).
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def find_postgres() -> Path | None:
    import glob
    import shutil

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None
