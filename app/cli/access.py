"""``cronwell keys``, ``cronwell users`` and ``cronwell audit``: who may do what, and who
did what."""

from __future__ import annotations

import sys
from typing import Any

import click

from app.cli.client import Client
from app.cli.output import as_json, short_time, table

ROLES = click.Choice(["viewer", "operator", "admin"])
JSON_OPTION = click.option("--json", "as_json_", is_flag=True, help="The API's JSON, for scripts.")


def register(main: click.Group) -> None:
    """Add ``keys``, ``users`` and ``audit`` to the command group."""

    @main.group()
    def keys() -> None:
        """Make, list and revoke API keys (admin)."""

    @keys.command("create")
    @click.argument("name")
    @click.option("--role", type=ROLES, required=True, help="What the key may do.")
    @click.option("--expires", "expires_at", help="When it stops working (ISO time, with offset).")
    @click.pass_obj
    def create_key(client: Client, name: str, role: str, expires_at: str | None) -> None:
        """Make a key and print its secret: it is shown this once, never again."""
        made = client.post("/api/keys", {"name": name, "role": role, "expires_at": expires_at})
        click.echo(made["secret"])
        click.echo(
            f"Key {made['id']} ({made['name']}, {made['role']}): keep the secret above now; "
            "the service keeps only its hash.",
            err=True,
        )

    @keys.command("list")
    @JSON_OPTION
    @click.pass_obj
    def list_keys(client: Client, as_json_: bool) -> None:
        """Every key, by its prefix, with when it was last used."""
        found = client.get("/api/keys")
        if as_json_:
            as_json(found)
            return
        table(
            ("ID", "NAME", "ROLE", "PREFIX", "LAST USED (UTC)", "EXPIRES (UTC)", "STATE"),
            [
                (k["id"], k["name"], k["role"], k["prefix"], short_time(k["last_used_at"]),
                 short_time(k["expires_at"]), "revoked" if k["revoked_at"] else "live")
                for k in found
            ],
        )  # fmt: skip

    @keys.command("revoke")
    @click.argument("key_id", type=int)
    @click.pass_obj
    def revoke_key(client: Client, key_id: int) -> None:
        """Revoke a key at once."""
        client.delete(f"/api/keys/{key_id}")
        click.echo(f"Key {key_id} revoked.")

    @main.group()
    def users() -> None:
        """Add users, list them, change their role, disable them (admin)."""

    @users.command("add")
    @click.argument("username")
    @click.option("--role", type=ROLES, required=True, help="What the user may do.")
    @click.option(
        "--password-stdin", is_flag=True, help="Read the password from stdin, not a prompt."
    )
    @click.pass_obj
    def add_user(client: Client, username: str, role: str, password_stdin: bool) -> None:
        """Add a user; the password is asked for (at least 12 characters)."""
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        body = {"username": username, "role": role, "password": password}
        made = client.post("/api/users", body)
        click.echo(f"User {made['username']} added ({made['role']}).")

    @users.command("list")
    @JSON_OPTION
    @click.pass_obj
    def list_users(client: Client, as_json_: bool) -> None:
        """Every user, with their role and state."""
        found = client.get("/api/users")
        if as_json_:
            as_json(found)
            return
        table(
            ("USERNAME", "ROLE", "STATE", "SIGNS IN WITH", "CREATED (UTC)"),
            [
                (u["username"], u["role"], "disabled" if u["disabled"] else "active",
                 "password" if u["has_password"] else "proxy", short_time(u["created_at"]))
                for u in found
            ],
        )  # fmt: skip

    @users.command("set-role")
    @click.argument("username")
    @click.argument("role", type=ROLES)
    @click.pass_obj
    def set_role(client: Client, username: str, role: str) -> None:
        """Change a user's role (from their next request)."""
        client.call("PATCH", f"/api/users/{username}", {"role": role})
        click.echo(f"User {username} is now {role}.")

    @users.command("disable")
    @click.argument("username")
    @click.pass_obj
    def disable_user(client: Client, username: str) -> None:
        """Disable a user (from their next request); they stay in the audit log."""
        client.delete(f"/api/users/{username}")
        click.echo(f"User {username} disabled.")

    @main.command()
    @click.option("--target", help="e.g. job:nightly, user:alice, key:3.")
    @click.option("--actor", help="e.g. user:alice, key:deploy, token.")
    @click.option("--action", help="e.g. job.update, login.failed.")
    @click.option("--since", help="Entries at or after this time (ISO, with offset).")
    @click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
    @JSON_OPTION
    @click.pass_obj
    def audit(client: Client, limit: int, as_json_: bool, **filters: Any) -> None:
        """Who changed what, newest first."""
        params = {k: v for k, v in filters.items() if v}
        found = client.get("/api/audit", page_size=limit, **params)
        if as_json_:
            as_json(found)
            return
        table(
            ("AT (UTC)", "ACTOR", "ACTION", "TARGET", "SOURCE", "CHANGED"),
            [
                (short_time(e["at"]), e["actor"], e["action"], e["target"], e["source"],
                 ",".join(sorted(e["changes"])) or "-")
                for e in found
            ],
        )  # fmt: skip
