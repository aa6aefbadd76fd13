"""What a request may carry and what an answer holds (marshmallow schemas), shared by
the API and the UI; and marshmallow's error dicts as the field names both show."""

from __future__ import annotations

from typing import Any


def field_errors(messages: dict) -> dict[str, list[str]]:
    """A marshmallow error dict as dotted field names ({"notify.on.0": [...]}): what the
    API answers with, and what the UI shows next to each field."""
    flat: dict[str, list[str]] = {}
    _flatten_into(flat, "", messages)
    return flat


def _flatten_into(flat: dict[str, list[str]], prefix: str, errors: dict) -> None:
    for field, value in errors.items():
        name = "_body" if field == "_schema" and not prefix else str(field)
        name = f"{prefix}.{name}" if prefix else name
        if isinstance(value, dict):
            _flatten_into(flat, name, value)
        else:
            flat[name] = texts(value)


def texts(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
