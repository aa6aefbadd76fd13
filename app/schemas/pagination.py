"""Paged lists: ``page`` and ``page_size`` with bounds, and the X-Pagination header.

flask-smorest's ``paginate`` leaves ``page`` without an upper bound, and a page past what
the database can count (``page=121645100408832000``) overflowed SQLite's integers into a
500. These arguments are bounded, and documented so, in every list's query schema; the
header keeps flask-smorest's shape (its ``PaginationMetadataSchema``).
"""

from __future__ import annotations

import json
from typing import Any

from flask_smorest.pagination import PaginationMetadataSchema
from marshmallow import Schema, fields, validate

MAX_PAGE = 1_000_000
MAX_PAGE_SIZE = 1000
HEADER = "X-Pagination"
#: The header as the OpenAPI spec documents it (its value is JSON).
HEADER_DOC = {
    HEADER: {
        "description": "Pagination metadata, as JSON: total, total_pages, first_page, "
        "last_page, page, previous_page, next_page.",
        "content": {"application/json": {"schema": PaginationMetadataSchema}},
    }
}


class PageArgs(Schema):
    page = fields.Integer(
        load_default=1,
        validate=validate.Range(1, MAX_PAGE),
        metadata={"description": f"1 to {MAX_PAGE:,}."},
    )
    page_size = fields.Integer(
        load_default=50,
        validate=validate.Range(1, MAX_PAGE_SIZE),
        metadata={"description": f"Items a page, 1 to {MAX_PAGE_SIZE}."},
    )


def pagination_header(page: int, page_size: int, total: int) -> dict[str, str]:
    """The X-Pagination header of one page of ``total`` items."""
    meta: dict[str, Any] = {"total": total, "total_pages": 0}
    if total:
        last = (total - 1) // page_size + 1
        meta.update(total_pages=last, first_page=1, last_page=last)
        if page <= last:
            meta["page"] = page
            if page > 1:
                meta["previous_page"] = page - 1
            if page < last:
                meta["next_page"] = page + 1
    return {HEADER: json.dumps(PaginationMetadataSchema().dump(meta))}
