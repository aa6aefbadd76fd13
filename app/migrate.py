"""Bringing the database to the latest schema with Alembic, once, however many start.

gunicorn's master runs ``python -m app.migrate`` before it starts its workers
(``gunicorn.conf.py``), and ``create_app()`` checks the schema's revision with one read
(:func:`ensure_schema`) and migrates only when it is not the latest (an embedding
application, a race). Alembic is imported only to migrate: kept in every worker, it cost
11 MiB of memory. Processes starting at once on one database take a lock first (an
exclusive ``flock`` beside a SQLite file, a PostgreSQL advisory lock); the first
migrates, the others wait and find nothing left to do. A database written by Cronwell 0.1.0, before
migrations, has the tables but no ``alembic_version``: it is stamped with the first
revision (the 0.1.0 schema) and upgraded from there, keeping every row.

``python -m app.migrate`` (``make migrate``) migrates without serving.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from app.db import sqlite_path

logger = logging.getLogger("cronwell.migrate")
SCRIPTS = Path(__file__).with_name("migrations")
#: The revision whose schema Cronwell 0.1.0 created without migrations.
BEFORE_MIGRATIONS = "0001"
ADVISORY_KEY = 0x43524F4D  # "CROM"; the leader lock is "CRON"
#: The latest revision in app/migrations (a test holds the two together).
HEAD = "0013"

if TYPE_CHECKING:
    from alembic.config import Config


def ensure_schema(engine: Engine) -> None:
    """Migrate unless the database is already at :data:`HEAD` (one read to tell)."""
    try:
        with engine.connect() as connection:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # no alembic_version yet: a new or a 0.1.0 database
        current = []
    if current != [(HEAD,)]:
        upgrade_database(engine)


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision`` (the latest), under the database's migration lock."""
    from alembic import command

    with _migration_lock(engine), engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        connection.rollback()
        config = _config(connection)
        if "jobs" in tables and "alembic_version" not in tables:
            logger.info("Database written before migrations: stamping %s", BEFORE_MIGRATIONS)
            command.stamp(config, BEFORE_MIGRATIONS)
            connection.commit()
        command.upgrade(config, revision)
        connection.commit()


def _config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                connection.commit()
        return
    database = sqlite_path(str(engine.url))
    if database is None:  # in-memory SQLite: one process by definition
        yield
        return
    fd = os.open(database.with_name(database.name + ".migrate.lock"), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits for whoever migrates
        yield
    finally:
        os.close(fd)


def main() -> None:
    """Migrate the database the service is configured with, then exit (reading only the
    settings: gunicorn's master waits for this before it starts its workers).

    ``--print-settings NAME...`` prints those settings (upper-case names) as one line of
    JSON, for gunicorn's master: reading them needs Flask's ``Config``, which the master
    would otherwise import and keep (10 MiB it never uses). Only the names asked for are
    printed, so the database's password and other secrets stay in this process."""
    import argparse
    import json

    from app.config import Settings, instance_settings
    from app.db import make_engine
    from app.logs import configure_logging

    parser = argparse.ArgumentParser(prog="python -m app.migrate", description=main.__doc__)
    parser.add_argument("--print-settings", nargs="+", metavar="NAME", default=[])
    arguments = parser.parse_args()
    unknown = sorted(set(arguments.print_settings) - set(Settings.names()))
    if unknown:
        parser.error(f"--print-settings: no setting named {', '.join(unknown)}")
    settings = instance_settings()
    configure_logging(settings)
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    engine.dispose()
    logger.info("%s: schema up to date", engine.url.render_as_string(hide_password=True))
    if arguments.print_settings:
        plain = settings.plain()
        print(json.dumps({name: plain[name] for name in arguments.print_settings}))


if __name__ == "__main__":
    main()
