"""Hosts of the test's own: network namespaces joined to this one by veth pairs.

Each host gets a /30 of 198.18.0.0/15, the range set aside for network tests (RFC 2544):
the outer end stays in this namespace, the inner end in the host's. Nothing is routed
beyond the pair. A host's programs run in a process namespace of their own too. Cutting
a host takes the outer end down; its processes keep running, unable to reach anything
outside their namespace. Needs root, iproute2's ``ip`` and util-linux's ``unshare``.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def can_make_hosts() -> bool:
    return os.geteuid() == 0 and all(shutil.which(tool) for tool in ("ip", "unshare"))


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class Host:
    """A network namespace with one veth pair to this namespace."""

    def __init__(self, index: int) -> None:
        tag = f"{os.getpid() % 100000}{index}"
        self.namespace = f"cw{tag}"
        self.outer, self.inner = f"cwo{tag}", f"cwi{tag}"
        self.outer_address = f"198.18.{index}.1"
        self.address = f"198.18.{index}.2"
        _ip("netns", "add", self.namespace)
        try:
            _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
            _ip("link", "set", self.inner, "netns", self.namespace)
            _ip("addr", "add", f"{self.outer_address}/30", "dev", self.outer)
            _ip("link", "set", self.outer, "up")
            for args in (
                ("addr", "add", f"{self.address}/30", "dev", self.inner),
                ("link", "set", self.inner, "up"),
                ("link", "set", "lo", "up"),
            ):
                _ip("netns", "exec", self.namespace, "ip", *args)
        except Exception:
            self.remove()
            raise

    @property
    def prefix(self) -> list[str]:
        """The command prefix that runs a program on this host: its network, and a process
        namespace of its own (as on another machine, no other host sees or signals its
        processes)."""
        return [
            "ip", "netns", "exec", self.namespace,
            "unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
        ]  # fmt: skip

    def cut(self) -> None:
        _ip("link", "set", self.outer, "down")

    def heal(self) -> None:
        _ip("link", "set", self.outer, "up")

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, timeout=10)
