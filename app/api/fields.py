"""Field types shared by the HTTP schemas: strict JSON types and the one-string schedule."""

from __future__ import annotations

from marshmallow import fields, validate

#: Job ids: safe in a URL path segment, no "/" or "..".
JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class StrictInteger(fields.Integer):
    """An integer that must be a JSON number (no "5" strings, no 5.5, no true)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


class StrictBoolean(fields.Boolean):
    """true or false, nothing else."""

    truthy = {True}
    falsy = {False}


def job_id_field(**kwargs) -> fields.String:
    return fields.String(
        validate=validate.Regexp(
            JOB_ID_PATTERN,
            error="Must be 1-100 characters: letters, digits, '_', '.', '-', "
            "starting with a letter or digit.",
        ),
        **kwargs,
    )
