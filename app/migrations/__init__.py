"""The database schema's migrations (Alembic), shipped in the package: see app.migrate."""
