"""Access: who is calling (/api/me), API keys, users and the audit log."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.gate import caller, requires
from app.runtime import current as runtime
from app.schemas import pagination
from app.schemas.access import (
    AuditArgs,
    AuditEntrySchema,
    KeyCreateSchema,
    KeySchema,
    MeSchema,
    NewKeySchema,
    UserCreateSchema,
    UserSchema,
    UserUpdateSchema,
)
from app.services import accounts, audit
from app.services.access import Role

blp = Blueprint(
    "access",
    __name__,
    url_prefix="/api",
    description="Who may do what: roles, API keys, users, and the audit log of every change.",
)


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self):
        """Who is calling: actor, name, role, and how they signed in"""
        return caller()


@blp.route("/keys")
class Keys(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, KeySchema(many=True))
    def get(self):
        """List API keys (admin): by prefix, with last use; never their secrets"""
        return accounts.list_keys(runtime())

    @blp.arguments(KeyCreateSchema(), example={"name": "deploy", "role": "operator"})
    @blp.response(201, NewKeySchema)
    def post(self, data):
        """Make an API key (admin)

        The answer holds the key's secret, once: only a hash of it is kept.
        """
        made = accounts.create_key(runtime(), data["name"], data["role"], data["expires_at"])
        made.key.secret = made.secret
        return made.key


@blp.route("/keys/<int:key_id>")
class KeyById(MethodView):
    @blp.response(204)
    @blp.alt_response(404, description="Unknown key.")
    def delete(self, key_id):
        """Revoke an API key at once (admin)"""
        accounts.revoke_key(runtime(), key_id)


@blp.route("/users")
class Users(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, UserSchema(many=True))
    def get(self):
        """List users (admin)"""
        return accounts.list_users(runtime())

    @blp.arguments(
        UserCreateSchema(),
        example={"username": "alice", "role": "operator", "password": "correct horse battery"},
    )
    @blp.response(201, UserSchema)
    @blp.alt_response(409, description="The username is taken.")
    def post(self, data):
        """Make a user (admin); the password is stored hashed"""
        return accounts.create_user(runtime(), data["username"], data["role"], data["password"])


@blp.route("/users/<string:username>")
class UserByName(MethodView):
    @blp.arguments(UserUpdateSchema(), example={"role": "viewer"})
    @blp.response(200, UserSchema)
    @blp.alt_response(404, description="Unknown user.")
    def patch(self, data, username):
        """Change a user's role, password or disabled state (admin)

        Takes effect on the user's next request.
        """
        return accounts.update_user(runtime(), username, **data)

    @blp.response(204)
    @blp.alt_response(404, description="Unknown user.")
    def delete(self, username):
        """Disable a user (admin); they are kept, for the audit log"""
        accounts.update_user(runtime(), username, disabled=True)


@blp.route("/audit")
class Audit(MethodView):
    @blp.arguments(AuditArgs(), location="query")
    @blp.response(200, AuditEntrySchema(many=True), headers=pagination.HEADER_DOC)
    def get(self, args):
        """The audit log, newest first

        Every change with its actor, action, target, source and address; secrets
        masked. Pagination is in the X-Pagination header.
        """
        page, page_size = args.pop("page"), args.pop("page_size")
        entries, total = audit.list_entries(runtime(), audit.AuditFilters(**args), page, page_size)
        return entries, 200, pagination.pagination_header(page, page_size, total)
