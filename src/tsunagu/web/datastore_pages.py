"""The datastore page of a resource: its table, the rows the load rejected, the validation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from tsunagu.catalog import datastore
from tsunagu.http import get_session
from tsunagu.kernel import BadRequest, NotFound

from .render import render

router = APIRouter(include_in_schema=False)
DbSession = Annotated[Session, Depends(get_session)]
PREVIEW_ROWS = 100
SHOWN_ERRORS = 200


@router.get("/dataset/{name}/resource/{resource_id}/data")
def datastore_page(name: str, resource_id: str, request: Request, session: DbSession) -> Response:
    for param in request.query_params:
        if param not in ("lang", "offset"):
            raise BadRequest(f"unknown parameter {param[:50]!r}; allowed: lang, offset")
    offset_text = request.query_params.get("offset", "0")
    if not (offset_text.isascii() and offset_text.isdigit()):
        raise BadRequest("offset must be a non-negative integer")
    reg = datastore.get_table(session, resource_id, None)
    resource = datastore.distribution_of(session, reg)
    if name not in (resource.dataset.name, resource.dataset.id):
        raise NotFound(f"resource {resource_id!r} is not part of dataset {name!r}")
    preview = datastore.search(
        session, reg, datastore.SearchRequest(limit=PREVIEW_ROWS, offset=int(offset_text))
    )
    validation = reg.validation or None
    return render(
        request,
        "datastore.html",
        {
            "nav": "datasets",
            "ds": resource.dataset,
            "resource": resource,
            "reg": reg,
            "preview": preview,
            "page_size": PREVIEW_ROWS,
            "validation": validation,
            "validation_errors": (validation or {}).get("errors", [])[:SHOWN_ERRORS],
            "load_errors": reg.load_errors[:SHOWN_ERRORS],
            "shown_errors": SHOWN_ERRORS,
        },
    )
