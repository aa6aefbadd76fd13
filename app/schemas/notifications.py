"""Notification test schemas."""

from marshmallow import Schema, fields, validate


class NotificationTestSchema(Schema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "An http(s):// URL, or a service apprise knows."},
    )


class NotificationTestResultSchema(Schema):
    url = fields.String(metadata={"description": "Passwords and tokens masked."})
    delivered = fields.Boolean()
    detail = fields.String(metadata={"description": "What the receiver answered."})
    status_code = fields.Integer(allow_none=True, metadata={"description": "http(s) only."})
