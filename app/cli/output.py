"""How the command line prints: aligned tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns as wide as their widest cell, a header line first."""
    cells = [[str(h) for h in headers], *[["" if v is None else str(v) for v in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def as_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def short_time(value: str | None) -> str:
    """An ISO time as ``2026-12-05 23:10:04`` (UTC, as the service gives it)."""
    if not value:
        return "-"
    return value.replace("T", " ")[:19]


def duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"
