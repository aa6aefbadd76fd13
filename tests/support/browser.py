"""A real Chromium for the UI tests: Debian's package, driven by Playwright.

Playwright's own browser download cannot work here, so it launches /usr/bin/chromium
(``make test`` installs it when missing). The flags keep Chromium off the network: without
them it calls Google's hosts at start, and those calls would count as a page asking
another host for something.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]


def find_chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class RequestLog:
    """Every URL the pages of one browser context asked for."""

    urls: list[str] = field(default_factory=list)

    def hosts(self) -> set[str]:
        return {
            urlsplit(url).netloc for url in self.urls if not url.startswith(("data:", "about:"))
        }


#: axe-core, pinned (tests/support/vendor/README.md).
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on ``page`` as it is now (axe is put
    in through the DevTools protocol, which the page's Content-Security-Policy allows)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "where": [n["target"] for n in v["nodes"]][:5]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def sign_in(page, secret: str, path: str = "/ui/", username: str = "") -> None:
    """Open ``path`` and sign in at the login page it leads to: as ``username`` with the
    password ``secret``, or (no username) with the API token ``secret``."""
    page.goto(path)
    if username:
        page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(secret)
    page.get_by_role("button", name="Sign in").click()
