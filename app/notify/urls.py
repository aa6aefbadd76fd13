"""Notification URLs: which are accepted, and how they are shown (secrets masked).

``http://`` and ``https://`` URLs get the contract's JSON body. Every other scheme is a
chat, mail or push service that apprise knows (``slack://``, ``mailto://``,
``ntfy://``, ...); apprise is imported only when such a URL is met (it loads a plugin per
service).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

HTTP_SCHEMES = ("http", "https")
MAX_URLS = 10
MAX_URL_LENGTH = 2000
MASK = "****"
#: A path segment that reads like a key: long, with letters and digits (Slack and
#: Discord webhook tokens, healthchecks.io UUIDs).
_SECRET_SEGMENT = re.compile(r"^(?=.*[0-9])(?=.*[A-Za-z])[A-Za-z0-9_\-]{16,}$")


def is_http(url: str) -> bool:
    """An http(s) URL (the contract's JSON body), not one for apprise."""
    return url.partition("://")[0].lower() in HTTP_SCHEMES


def without_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """An http(s) URL without its ``user:password@``, and those (None: it had none)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = _host_port(parts)
    auth = (unquote(parts.username), unquote(parts.password or ""))
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), auth


def problem_with(url: str) -> str | None:
    """Why ``url`` cannot be a notification URL, or None when it can."""
    if not isinstance(url, str) or not url.strip():
        return "Must be a URL."
    if len(url) > MAX_URL_LENGTH:
        return f"Longer than {MAX_URL_LENGTH} characters."
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if not scheme:
        return f"{_shown(url)!r} has no scheme (http://, https://, slack://, mailto://, ...)."
    if is_http(url):
        try:
            host = urlsplit(url).hostname
        except ValueError as exc:
            return f"{_shown(url)!r} is not a valid URL: {exc}."
        return None if host else f"{_shown(url)!r} has no host."
    if _apprise_plugin(url) is None:
        return (
            f"Unknown or incomplete notification URL {_shown(url)!r} (scheme {scheme!r}): "
            "use http(s):// or a service apprise knows (slack://, discord://, mailto://, "
            "ntfy://, msteams://, ...), with the parts that service needs."
        )
    return None


def problems_with(urls: Sequence[str]) -> list[str]:
    """One message per unusable URL in ``urls`` (and one if there are too many)."""
    problems = [] if len(urls) <= MAX_URLS else [f"At most {MAX_URLS} URLs."]
    return problems + [p for p in map(problem_with, urls) if p]


def mask(url: str) -> str:
    """``url`` with its password, tokens and keys replaced by ``****``."""
    if not is_http(url):
        plugin = _apprise_plugin(url)
        return plugin.url(privacy=True) if plugin is not None else _shown(url)
    try:
        parts = urlsplit(url)
        netloc = _host_port(parts)
    except ValueError:
        return _shown(url)
    if parts.username is not None:
        user = parts.username + (f":{MASK}" if parts.password is not None else "")
        netloc = f"{user}@{netloc}"
    path = "/".join(MASK if _SECRET_SEGMENT.match(s) else s for s in parts.path.split("/"))
    pairs = [(key, MASK) for key, _ in parse_qsl(parts.query, keep_blank_values=True)]
    query = urlencode(pairs, safe="*")
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def keep_unmasked(given: Sequence[str], current: Sequence[str]) -> list[str]:
    """``given`` with each URL that is the masked form of a ``current`` one replaced by
    that one: a client that sends back a job as it read it keeps its secrets."""
    masked = {mask(url): url for url in current}
    return [masked.get(url, url) for url in given]


def _host_port(parts: SplitResult) -> str:
    """``host:port`` of a split URL, without its userinfo (an IPv6 host in brackets)."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def _shown(url: str) -> str:
    """What an error message may show of a URL it could not parse: its scheme only."""
    return url.partition("://")[0] + "://..." if "://" in url else url[:20]


@functools.lru_cache(maxsize=256)
def _apprise_plugin(url: str):
    """Apprise's plugin for ``url`` (None: no service takes it)."""
    import apprise

    return apprise.Apprise.instantiate(url, suppress_exceptions=True)
