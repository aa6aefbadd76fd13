"""Secrets in a job's definition: which values are secret, masking them, and keeping the
stored value when a client sends the mask back.

Secret are: ``auth.password``; ``headers`` named Authorization, Cookie or
Proxy-Authorization, or whose name holds ``token``, ``key`` or ``secret``; ``env`` values
whose name holds PASSWORD, SECRET, TOKEN or KEY (any case, both); and the passwords and
tokens of notify URLs (masked by app/notify/urls.py, for everyone).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.services import notifications
from app.services.access import Role, current_caller

MASK = "••••••"
_SECRET_HEADERS = ("authorization", "cookie", "proxy-authorization")
_HEADER_WORDS = ("token", "key", "secret")
_ENV_WORDS = ("password", "secret", "token", "key")


def _secret_header(name: str) -> bool:
    lower = name.lower()
    return lower in _SECRET_HEADERS or any(word in lower for word in _HEADER_WORDS)


def _secret_env(name: str) -> bool:
    return any(word in name.lower() for word in _ENV_WORDS)


def _secret_places(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(section, key) of each secret value in ``config`` (section "" for top level)."""
    places = []
    auth = config.get("auth")
    if isinstance(auth, Mapping) and "password" in auth:
        places.append(("auth", "password"))
    for section, secret in (("headers", _secret_header), ("env", _secret_env)):
        values = config.get(section)
        if isinstance(values, Mapping):
            places.extend((section, name) for name in values if secret(str(name)))
    return places


def masked_configuration(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``config`` with each secret value replaced by the mask (a copy)."""
    if not isinstance(config, Mapping):
        return config
    places = _secret_places(config)
    if not places:
        return dict(config)
    masked = dict(config)
    for section in {section for section, _ in places}:
        masked[section] = dict(config[section])
    for section, name in places:
        if masked[section][name] is not None:
            masked[section][name] = MASK
    return masked


def keep_stored(
    given: Mapping[str, Any] | None, stored: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """``given`` with each secret sent back as the mask replaced by the stored value."""
    if not isinstance(given, Mapping) or not isinstance(stored, Mapping):
        return given  # type: ignore[return-value]
    kept = dict(given)
    for section, name in _secret_places(given):
        if given[section][name] != MASK:
            continue
        old = stored.get(section)
        if isinstance(old, Mapping) and name in old:
            kept[section] = {**kept[section], name: old[name]}
    return kept


def masked_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A job's definition (app/services/revisions.py) with its secrets masked."""
    masked = dict(definition)
    if "configuration" in masked:
        masked["configuration"] = masked_configuration(masked["configuration"])
    if masked.get("notify"):
        masked["notify"] = notifications.shown(masked["notify"])
    return masked


def masked_changes(changes: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` with the secrets of both sides masked."""
    masked = {}
    for name, (before, after) in changes.items():
        if name == "password":
            masked[name] = [None if before is None else MASK, None if after is None else MASK]
            continue
        pair = masked_definition({name: before}), masked_definition({name: after})
        masked[name] = [pair[0][name], pair[1][name]]
    return masked


def shown_configuration(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``config`` as the current caller may see it: whole for admins, else masked."""
    if current_caller().may(Role.ADMIN):
        return config  # type: ignore[return-value]
    return masked_configuration(config)


def shown_notify(notify: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A job's ``notify`` as the current caller may see it: whole for admins, else with
    its URLs' passwords and tokens masked."""
    if notify is not None and current_caller().may(Role.ADMIN):
        return {"on": list(notify.get("on") or []), "urls": list(notify.get("urls") or [])}
    return notifications.shown(notify)


def shown_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A revision's definition as the current caller may see it."""
    if current_caller().may(Role.ADMIN):
        return dict(definition)
    return masked_definition(definition)


def shown_changes(changes: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """A revision's changes as the current caller may see them."""
    if current_caller().may(Role.ADMIN):
        return dict(changes)
    return masked_changes(changes)
