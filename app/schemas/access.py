"""Who is calling, API keys, users, the audit log and job revisions."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.schemas.fields import StrictBoolean
from app.schemas.pagination import PageArgs
from app.services.access import ROLES
from app.services.accounts import MIN_PASSWORD
from app.services.audit import ACTIONS
from app.services.secrets import shown_changes, shown_definition

ROLE_FIELD = {"enum": list(ROLES)}


class MeSchema(Schema):
    actor = fields.String(
        metadata={"description": "user:alice, key:<name>, token, proxy:alice or anonymous."}
    )
    name = fields.String()
    role = fields.String(metadata=ROLE_FIELD)
    via = fields.String(metadata={"enum": ["session", "key", "token", "proxy", "open"]})


class KeyCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    expires_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "When the key stops working (null: never)."},
    )


class KeySchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    role = fields.String(dump_only=True, metadata=ROLE_FIELD)
    prefix = fields.String(
        dump_only=True, metadata={"description": "The secret's first 8 characters."}
    )
    created_at = fields.DateTime(dump_only=True)
    created_by = fields.String(dump_only=True)
    expires_at = fields.DateTime(dump_only=True, allow_none=True)
    last_used_at = fields.DateTime(
        dump_only=True, allow_none=True, metadata={"description": "Updated at most once a minute."}
    )
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class NewKeySchema(KeySchema):
    secret = fields.String(
        dump_only=True,
        metadata={"description": "The key: shown this once, never again (only a hash is kept)."},
    )


class UserCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(1, 100))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=MIN_PASSWORD, max=1000),
        metadata={"description": f"At least {MIN_PASSWORD} characters; stored hashed (Argon2id)."},
    )


class UserUpdateSchema(Schema):
    role = fields.String(validate=validate.OneOf(ROLES))
    password = fields.String(load_only=True, validate=validate.Length(min=MIN_PASSWORD, max=1000))
    disabled = StrictBoolean()


class UserSchema(Schema):
    username = fields.String(dump_only=True)
    role = fields.String(dump_only=True, metadata=ROLE_FIELD)
    disabled = fields.Boolean(dump_only=True)
    has_password = fields.Function(
        lambda user: user.password_hash is not None,
        dump_only=True,
        metadata={"type": "boolean", "description": "false: signs in through the proxy only."},
    )
    created_at = fields.DateTime(dump_only=True)
    created_by = fields.String(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class AuditArgs(PageArgs):
    actor = fields.String(metadata={"description": "e.g. user:alice, key:deploy, token."})
    action = fields.String(validate=validate.OneOf(ACTIONS))
    target = fields.String(metadata={"description": "e.g. job:nightly, user:alice, key:3."})
    since = fields.AwareDateTime(metadata={"description": "Entries at or after this time."})
    until = fields.AwareDateTime(metadata={"description": "Entries before this time."})


class AuditEntrySchema(Schema):
    id = fields.Integer(dump_only=True)
    at = fields.DateTime(dump_only=True)
    actor = fields.String(dump_only=True)
    action = fields.String(dump_only=True, metadata={"enum": list(ACTIONS)})
    target = fields.String(dump_only=True)
    source = fields.String(dump_only=True, metadata={"enum": ["api", "ui", "cli"]})
    remote_addr = fields.String(dump_only=True, allow_none=True)
    changes = fields.Dict(
        dump_only=True,
        metadata={"description": "{field: [before, after]}, secrets masked."},
    )


class RevisionSchema(Schema):
    revision = fields.Integer(dump_only=True)
    at = fields.DateTime(dump_only=True)
    actor = fields.String(dump_only=True)
    changes = fields.Function(
        lambda rev: shown_changes(rev.changes),
        dump_only=True,
        metadata={
            "type": "object",
            "description": "{field: [before, after]} from the revision before; secrets "
            "masked but for admins.",
        },
    )


class RevisionDetailSchema(RevisionSchema):
    definition = fields.Function(
        lambda rev: shown_definition(rev.definition),
        dump_only=True,
        metadata={
            "type": "object",
            "description": "The job's whole definition as it was; secrets masked but for admins.",
        },
    )
