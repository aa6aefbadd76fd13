"""The job form: what it shows for a job, and the API's payload it makes when sent.

The form's fields carry the API's field names, so that a refusal (from the schemas the
API uses too, or from the services: the same validation) lands next to its field:
``configuration.url`` under "Configuration", ``notify.urls.0`` under "Notify URLs".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing, validate
from werkzeug.datastructures import MultiDict

from app.models import DEFAULT_NOTIFY_ON, NOTIFY_EVENTS
from app.schemas import field_errors
from app.services import secrets
from app.services.job_reads import schedule_text

INTEGER_FIELDS = (
    "max_duration_seconds",
    "retry_count",
    "retry_delay_seconds",
    "misfire_grace_seconds",
    "jitter_seconds",
)
#: Fields typed as a list of words (commas or spaces between them).
LIST_FIELDS = ("tags", "on_success", "on_failure", "calendars")
#: Where an error about an API field is shown, when not under its own name.
SHOWN_UNDER = {"schedule_type": "schedule", "schedule_config": "schedule", "_body": "form"}


@dataclass(frozen=True)
class ConfigField:
    """A field of a job type's configuration the form shows as an input of its own."""

    name: str
    kind: str  # "text", "number", "choice" or "check"
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    default: Any = None


def config_fields(config_schema: type[Schema] | None) -> list[ConfigField]:
    """The inputs a type's configuration schema asks for: strings, numbers, choices and
    yes/no each get a field; the rest (lists, mappings, nested parts) stays in the
    form's JSON box."""
    if config_schema is None:
        return []
    found = []
    for name, spec in config_schema().fields.items():
        if spec.dump_only:
            continue
        choices = tuple(
            str(choice)
            for check in spec.validators
            if isinstance(check, validate.OneOf)
            for choice in check.choices
        )
        one_of = spec.metadata.get("oneOf") or []
        if isinstance(spec, fields.Boolean):
            kind = "check"
        elif isinstance(spec, fields.Number):
            kind = "number"
        elif choices:
            kind = "choice"
        elif isinstance(spec, fields.String) or {"type": "string"} in one_of:
            kind = "text"
        else:
            continue
        default = spec.load_default
        found.append(
            ConfigField(
                name=name,
                kind=kind,
                required=spec.required,
                help=str(spec.metadata.get("description") or ""),
                choices=choices,
                default=None if default is missing or callable(default) else default,
            )
        )
    return found


def _config_values(spec: list[ConfigField], configuration: Mapping[str, Any] | None):
    """(the typed fields' values as the form shows them, the rest as JSON text)."""
    configuration = dict(configuration or {})
    shown: dict[str, Any] = {}
    for item in spec:
        value = configuration.pop(item.name, item.default)
        if item.kind == "check":
            shown[item.name] = bool(value)
        else:
            shown[item.name] = "" if value is None else str(value)
    rest = json.dumps(configuration, indent=2, ensure_ascii=False) if configuration else ""
    return shown, rest


@dataclass
class JobForm:
    """What the form shows: its values (as text) and the errors under each field."""

    values: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)
    message: str | None = None
    #: The chosen type's own fields (their values are in ``values["config"]``).
    spec: list[ConfigField] = field(default_factory=list)

    def error(self, name: str) -> list[str]:
        return self.errors.get(name, [])


def blank_form(defaults: Mapping[str, Any], spec: list[ConfigField]) -> JobForm:
    """The form for a new job (``spec``: its type's fields)."""
    shown, rest = _config_values(spec, {})
    return JobForm(
        {
            "id": "",
            "name": "",
            "description": "",
            "type": defaults["type"],
            "schedule": "",
            "timezone": defaults["timezone"],
            "config": shown,
            "configuration": rest,
            "is_enabled": True,
            "max_duration_seconds": "300",
            "retry_count": "0",
            "retry_delay_seconds": "10",
            "overlap_policy": "skip",
            "misfire_grace_seconds": "60",
            "jitter_seconds": "0",
            "tags": "",
            "on_success": "",
            "on_failure": "",
            "calendars": "",
            "run_on": "",
            "concurrency_group": "",
            "expected_duration_seconds": "",
            "notify_defaults": True,
            "notify_on": list(DEFAULT_NOTIFY_ON),
            "notify_urls": "",
        },
        spec=spec,
    )


def form_of(job: Any, spec: list[ConfigField]) -> JobForm:
    """The form filled with ``job``'s definition (notification URLs masked)."""
    notify = secrets.shown_notify(job.notify)
    shown, rest = _config_values(spec, job.configuration)
    return JobForm(
        {
            "id": job.id,
            "name": job.name,
            "description": job.description or "",
            "type": job.type,
            "schedule": schedule_text(job),
            "timezone": job.timezone,
            "config": shown,
            "configuration": rest,
            "is_enabled": job.is_enabled,
            **{name: str(getattr(job, name)) for name in INTEGER_FIELDS},
            "overlap_policy": job.overlap_policy,
            **{name: ", ".join(getattr(job, name) or []) for name in LIST_FIELDS},
            "run_on": ", ".join(f"{k}={v}" for k, v in sorted((job.run_on or {}).items())),
            "concurrency_group": job.concurrency_group or "",
            "expected_duration_seconds": str(job.expected_duration_seconds or ""),
            "notify_defaults": notify is None,
            "notify_on": list((notify or {}).get("on") or DEFAULT_NOTIFY_ON),
            "notify_urls": "\n".join((notify or {}).get("urls") or []),
        },
        spec=spec,
    )


def sent_form(form: MultiDict, spec: list[ConfigField]) -> JobForm:
    """The form as it was sent (shown again, with its errors, when it is refused)."""
    values: dict[str, Any] = {
        name: form.get(name, "")
        for name in (
            "id",
            "name",
            "description",
            "type",
            "schedule",
            "timezone",
            "configuration",
            "overlap_policy",
            "notify_urls",
            "run_on",
            "concurrency_group",
            "expected_duration_seconds",
            *INTEGER_FIELDS,
            *LIST_FIELDS,
        )
    }
    values["is_enabled"] = form.get("is_enabled") == "on"
    values["notify_defaults"] = form.get("notify_defaults") == "on"
    values["notify_on"] = form.getlist("notify_on")
    values["config"] = {
        item.name: (form.get(f"config.{item.name}") == "on")
        if item.kind == "check"
        else form.get(f"config.{item.name}", "")
        for item in spec
    }
    return JobForm(values, spec=spec)


def payload_of(form: JobForm, schema: Schema, *, creating: bool) -> dict[str, Any]:
    """The API payload the form asks for, loaded by the API's own ``schema``.

    Raises :class:`FormRefused` with the errors by field when the text does not parse or
    the schema refuses it.
    """
    values = form.values
    raw: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in ("name", "type", "schedule", "timezone", "overlap_policy"):
        if values[name].strip():
            raw[name] = values[name].strip()
    if creating and values["id"].strip():
        raw["id"] = values["id"].strip()
    description = values["description"].strip()
    if description or not creating:
        raw["description"] = description or None
    raw["is_enabled"] = values["is_enabled"]
    for name in INTEGER_FIELDS:
        text = values[name].strip()
        if text:
            try:
                raw[name] = int(text)
            except ValueError:
                errors[name] = ["Must be a whole number."]
    for name in LIST_FIELDS:
        raw[name] = words(values[name])
    labels = [word.partition("=") for word in words(values["run_on"])]
    if any(not sep for _, sep, _ in labels):
        errors["run_on"] = ["Write labels as key=value, with commas or spaces between them."]
    raw["run_on"] = {key: value for key, _, value in labels}
    group = values["concurrency_group"].strip()
    if group or not creating:
        raw["concurrency_group"] = group or None
    expected = values["expected_duration_seconds"].strip()
    if expected.isdigit():
        raw["expected_duration_seconds"] = int(expected)
    elif expected:
        errors["expected_duration_seconds"] = ["Must be a whole number of seconds."]
    elif not creating:
        raw["expected_duration_seconds"] = None
    configuration: dict[str, Any] = {}
    text = values["configuration"].strip()
    if text:
        try:
            configuration = json.loads(text)
        except json.JSONDecodeError as exc:
            errors["configuration"] = [f"Not valid JSON: {exc.msg} (line {exc.lineno})."]
        if not isinstance(configuration, dict):
            errors["configuration"] = ["Write the other settings as a JSON object: {...}."]
            configuration = {}
    for item in form.spec:  # the type's own fields
        given = values["config"].get(item.name)
        if item.kind == "check":
            configuration[item.name] = bool(given)
        elif given is not None and str(given).strip():
            if item.kind == "number":
                try:
                    configuration[item.name] = json.loads(str(given).strip())
                except json.JSONDecodeError:
                    errors[f"configuration.{item.name}"] = ["Must be a number."]
            else:
                configuration[item.name] = str(given).strip()
    if configuration or form.spec or text:
        raw["configuration"] = configuration
    if values["notify_defaults"]:
        raw["notify"] = None
    else:
        urls = [line.strip() for line in values["notify_urls"].splitlines() if line.strip()]
        raw["notify"] = {"on": values["notify_on"], "urls": urls}
    try:
        loaded = schema.load(raw)
    except ValidationError as exc:
        errors.update(field_errors(exc.normalized_messages()))
        loaded = exc.valid_data if isinstance(exc.valid_data, dict) else {}
    if errors:
        raise FormRefused(errors, {k: v for k, v in loaded.items() if k not in errors})
    return loaded


class FormRefused(Exception):
    """The form's values were refused: ``errors`` by API field name; ``valid`` holds the
    fields that were not (for the services' own checks, so that all show at once)."""

    def __init__(self, errors: dict[str, list[str]], valid: dict[str, Any]) -> None:
        super().__init__("The form was refused.")
        self.errors = errors
        self.valid = valid


#: marshmallow's stock messages, in plain words for the form.
PLAIN_WORDS = {
    "Missing data for required field.": "Required.",
    "Field may not be null.": "Required.",
    "Not a valid integer.": "Must be a whole number.",
    "Not a valid string.": "Must be text.",
    "Not a valid boolean.": "Must be yes or no.",
    "Not a valid list.": "Must be a list.",
    "Not a valid mapping type.": "Must be key: value pairs (a JSON object).",
    "Unknown field.": "Not a setting this job type has.",
}


def errors_by_field(
    errors: Mapping[str, list[str]] | None, spec: list[ConfigField] | None = None
) -> dict[str, list[str]]:
    """API field names (``configuration.url``, ``notify.urls.0``) to the form field each
    is shown under, with the part after the field's own name kept in the message, in
    plain words, each once."""
    shown: dict[str, list[str]] = {}
    for name, messages in (errors or {}).items():
        head, _, rest = name.partition(".")
        typed = {item.name for item in spec or []}
        if head == "configuration" and rest.partition(".")[0] in typed:
            key, _, rest = rest.partition(".")
            target, head = f"config.{key}", "config"
        elif head == "notify":
            part, _, rest = rest.partition(".")
            target = {"on": "notify_on", "urls": "notify_urls"}.get(part, "notify_urls")
        else:
            target = SHOWN_UNDER.get(head, head)
        prefix = f"{rest}: " if rest and head == "configuration" else ""
        if rest.isdigit():  # the n-th of a list: tags.0, on_success.1, notify.urls.0
            prefix = f"#{int(rest) + 1}: "
        kept = shown.setdefault(target, [])
        for message in messages:
            text = prefix + PLAIN_WORDS.get(message, message)
            if text not in kept:
                kept.append(text)
    return shown


def words(text: str) -> list[str]:
    """A list typed as words, with commas or spaces between them."""
    return [word for word in re.split(r"[\s,]+", text) if word]


NOTIFY_CHOICES = NOTIFY_EVENTS
