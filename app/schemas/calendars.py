"""Calendars: named sets of times when jobs must not run."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.schemas.fields import JOB_ID_PATTERN

WINDOW_DOC = (
    'Weekly: {"days": ["sat", "sun"], "start": "00:00", "end": "24:00"} (in the calendar\'s '
    'timezone; "22:00" to "06:00" crosses midnight). One-off: {"start": ISO time, "end": ISO '
    "time}. A window includes its start and excludes its end."
)


class HolidaysSchema(Schema):
    country = fields.String(
        required=True,
        validate=validate.Length(2, 3),
        metadata={"description": "ISO 3166 code, e.g. DE (the holidays library's)."},
    )
    subdivision = fields.String(
        load_default=None, allow_none=True, metadata={"description": "e.g. BY (Bavaria)."}
    )


class CalendarFieldsSchema(Schema):
    name = fields.String(validate=validate.Length(1, 200))
    timezone = fields.String(
        validate=validate.Length(1, 64), metadata={"description": "IANA name, e.g. Europe/Berlin."}
    )
    dates = fields.List(
        fields.String(validate=validate.Length(10, 10)),
        validate=validate.Length(max=1000),
        metadata={"description": 'Whole days, "2026-12-25".'},
    )
    holidays = fields.Nested(
        HolidaysSchema,
        allow_none=True,
        metadata={"description": "Public holidays of a country (and subdivision)."},
    )
    windows = fields.List(
        fields.Dict(), validate=validate.Length(max=100), metadata={"description": WINDOW_DOC}
    )


class CalendarCreateSchema(CalendarFieldsSchema):
    id = fields.String(
        required=True,
        validate=validate.Regexp(JOB_ID_PATTERN, error="Letters, digits, . _ - (up to 100)."),
    )
    name = fields.String(required=True, validate=validate.Length(1, 200))
    timezone = fields.String(load_default="UTC", validate=validate.Length(1, 64))


class CalendarUpdateSchema(CalendarFieldsSchema):
    """The fields given are changed; the rest stay."""


class CalendarSchema(Schema):
    id = fields.String()
    name = fields.String()
    timezone = fields.String()
    dates = fields.List(fields.String())
    holidays = fields.Dict(allow_none=True)
    windows = fields.List(fields.Dict())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
