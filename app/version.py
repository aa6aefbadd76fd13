"""The package version, in one place (the API, the OpenAPI spec, the User-Agent)."""

__version__ = "0.1.0"
