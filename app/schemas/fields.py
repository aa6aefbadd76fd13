"""Field types shared by the HTTP schemas (strict JSON types, job ids) and URL converters."""

from __future__ import annotations

from marshmallow import fields, validate
from werkzeug.routing import BaseConverter

#: Job ids: safe in a URL path segment, no "/" or "..".
JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class StrictInteger(fields.Integer):
    """An integer that must be a JSON number (no "5" strings, no 5.5, no true)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """true or false, nothing else (not 0 or 1, which equal False and True in Python)."""

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def job_id_field(**kwargs) -> fields.String:
    return fields.String(
        validate=validate.Regexp(
            JOB_ID_PATTERN,
            error="Must be 1-100 characters: letters, digits, '_', '.', '-', "
            "starting with a letter or digit.",
        ),
        **kwargs,
    )


#: A job's tags: a label each, at most MAX_TAGS.
TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,62}$"
MAX_TAGS = 20
#: Job ids in one chain list (on_success, on_failure) at most.
MAX_CHAIN = 20


def tag_field(**kwargs) -> fields.String:
    return fields.String(
        validate=validate.Regexp(
            TAG_PATTERN,
            error="Must be 1-63 characters: letters, digits, '_', '.', ':', '/', '-', "
            "starting with a letter or digit.",
        ),
        **kwargs,
    )


class CronJobIdConverter(BaseConverter):
    """A job id in /api/engine/cron/<job_id>, never ``status`` (that URL is the seed's
    scheduler status): the URL answers one resource, and its Allow header says which
    methods. Such a job stays reachable under /api/jobs."""

    regex = r"(?!status$)[^/]+"
    part_isolating = True  # one path segment (werkzeug guesses from the regex's "/")

    @staticmethod
    def openapi_schema(_converter: BaseConverter) -> dict[str, str]:
        return {"type": "string", "pattern": "^(?!status$)[^/]+$"}
