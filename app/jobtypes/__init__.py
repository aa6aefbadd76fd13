"""Job types behind a registry: built-ins, then CONFIG JOB_TYPES, then entry points.

A host application adds a type by config (``{"policy_execution": "mytool.jobs:run"}``) or a
``cronwell.job_types`` entry point. The target is a :class:`JobType` subclass or instance,
or a plain function ``fn(configuration, context) -> dict | RunResult | None`` (raise to
fail); a function may carry a marshmallow ``config_schema`` attribute.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError

from app.config import Settings
from app.errors import ValidationFailed
from app.jobtypes.agent import AGENT_TYPES, AgentJobType
from app.jobtypes.base import JobType, RunContext, RunResult
from app.jobtypes.heartbeat import HeartbeatJobType
from app.jobtypes.http import HttpJobType
from app.jobtypes.shell import ShellJobType

logger = logging.getLogger("cronwell.jobtypes")
ENTRY_POINT_GROUP = "cronwell.job_types"


class AnyConfigSchema(Schema):
    """Configuration of a host type that declares no schema: any JSON object."""

    class Meta:
        unknown = INCLUDE


class FunctionJobType(JobType):
    """A host-registered function wrapped as a job type."""

    def __init__(self, name: str, function: Callable[..., Any]) -> None:
        self.name = name  # type: ignore[misc]
        self.function = function
        self.description = (
            (function.__doc__ or "").strip().splitlines()[0:1]
            and (  # type: ignore[misc]
                (function.__doc__ or "").strip().splitlines()[0]
            )
        ) or f"Host job type {name}."
        self.config_schema = getattr(function, "config_schema", AnyConfigSchema)  # type: ignore[misc]

    def run(self, context: RunContext) -> RunResult:
        outcome = self.function(dict(context.configuration), context)
        if isinstance(outcome, RunResult):
            return outcome
        return RunResult(ok=True, result=outcome if isinstance(outcome, dict) else {})


def _load(name: str, target: Any) -> JobType:
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module_name), attr)
    if isinstance(target, type) and issubclass(target, JobType):
        instance = target()
        if not instance.name:
            instance.name = name  # type: ignore[misc]
        return instance
    if isinstance(target, JobType):
        return target
    if callable(target):
        return FunctionJobType(name, target)
    raise TypeError(f"job type {name!r}: {target!r} is not a JobType or a function")


class JobTypeRegistry:
    """The job types this server knows, by name."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.types: dict[str, JobType] = {
            "http": HttpJobType(),
            "shell": ShellJobType(),
            "heartbeat": HeartbeatJobType(),
        }
        for name in AGENT_TYPES:
            self.types[name] = AgentJobType(name)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                self.types[ep.name] = _load(ep.name, ep.load())
            except Exception:
                logger.exception("Could not load job type %r from entry point", ep.name)
        for name, target in (settings.job_types).items():
            self.types[name] = _load(name, target)

    def names(self) -> list[str]:
        return sorted(self.types)

    def enabled_names(self) -> list[str]:
        return [n for n in self.names() if self.is_enabled(n)[0]]

    def is_enabled(self, name: str) -> tuple[bool, str | None]:
        if name in (self.settings.disabled_job_types):
            return False, f"The {name} job type is disabled by DISABLED_JOB_TYPES."
        return self.types[name].is_enabled(self.settings)

    def get(self, name: str) -> JobType:
        """The enabled type ``name``; :class:`ValidationFailed` on ``type`` otherwise."""
        known = ", ".join(self.enabled_names())
        if name not in self.types:
            raise ValidationFailed("type", f"Unknown job type {name!r}; known types: {known}.")
        enabled, why = self.is_enabled(name)
        if not enabled:
            raise ValidationFailed("type", f"{why} Enabled types: {known}.")
        return self.types[name]

    def config_schema(self, name: str) -> type | None:
        """The configuration schema of the type ``name`` (None: no such type, or none)."""
        job_type = self.types.get(name)
        return getattr(job_type, "config_schema", None) if job_type is not None else None

    def end_leftovers(self, runs: set[tuple[int, str]]) -> int:
        """End, on this host, what every type's runs left behind when their worker was
        lost (the engine knows the types only through this registry)."""
        return sum(job_type.end_leftovers(runs) for job_type in self.types.values())

    def validate(self, name: str, configuration: Any) -> dict[str, Any]:
        """The type's loaded configuration; errors are named ``configuration.<field>``."""
        job_type = self.get(name)
        if configuration is not None and not isinstance(configuration, dict):
            raise ValidationFailed("configuration", "Must be a JSON object.")
        try:
            return job_type.validate(configuration, self.settings)
        except ValidationError as exc:
            raise _configuration_error(exc) from None


def _configuration_error(exc: ValidationError) -> ValidationFailed:
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)
        else:
            flat[prefix] = [str(m) for m in (value if isinstance(value, list) else [value])]

    walk("configuration", messages)
    first_field, first_messages = next(iter(flat.items()))
    error = ValidationFailed(first_field, first_messages[0])
    error.errors = flat
    error.message = "; ".join(f"{k}: {' '.join(v)}" for k, v in flat.items())
    return error
