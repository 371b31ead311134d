"""REST API of the datastore at ``/api/v1/datastore/{resource_id}``: load a file, read its report.

``PUT`` takes the CSV or XLSX file itself as the request body (at most
``TSUNAGU_MAX_BODY_BYTES``; larger files go through ``tsunagu catalog datastore-load``), with a
token of the organization that owns the dataset. The body is spooled to a temporary file and
loaded like the CLI does, in the request's transaction: an unreadable file stores nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tsunagu.accounts import Caller
from tsunagu.http import get_caller, get_session, rate_limit, require_caller
from tsunagu.http.openapi import PROBLEM
from tsunagu.kernel import ValidationProblem

from ..queries import get_resource
from ..services import authorize_edit
from .load import load_file
from .services import adopt_dictionary, get_table, info

router = APIRouter(prefix="/api/v1/datastore", tags=["Datastore"])
SessionDep = Annotated[Session, Depends(get_session)]
CallerDep = Annotated[Caller | None, Depends(get_caller)]
WriterDep = Annotated[Caller, Depends(require_caller)]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"text/csv": "csv", "application/csv": "csv", XLSX_TYPE: "xlsx"}
# put_table reads the body itself (streamed to a file), so FastAPI cannot describe it.
FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in FORMATS},
    }
}


@router.put("/{resource_id}", dependencies=[Depends(rate_limit("write"))],
            responses={403: PROBLEM}, openapi_extra=FILE_BODY)  # fmt: skip
async def put_table(
    resource_id: str,
    request: Request,
    session: SessionDep,
    caller: WriterDep,
    encoding: Annotated[str | None, Query(max_length=30)] = None,
    sheet: Annotated[str | None, Query(max_length=100)] = None,
    standard: Annotated[str | None, Query(max_length=100)] = None,
    validate: bool = True,
) -> dict[str, Any]:
    """Load the request body (CSV or XLSX) into the resource's datastore table."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in FORMATS:
        raise ValidationProblem(
            f"Content-Type must be text/csv or {XLSX_TYPE}, not {media or 'missing'!r}",
            field="content-type",
        )
    with tempfile.TemporaryDirectory(prefix="tsunagu-datastore-") as tmp:
        path = Path(tmp) / f"upload.{FORMATS[media]}"
        with path.open("wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
        return await run_in_threadpool(
            _load, request, session, caller, resource_id, path, FORMATS[media], encoding, sheet,
            standard, validate,
        )  # fmt: skip


def _load(
    request: Request, session: Session, caller: Caller, resource_id: str, path: Path,
    file_format: str, encoding: str | None, sheet: str | None, standard: str | None,
    validate: bool,
) -> dict[str, Any]:  # fmt: skip
    settings = request.app.state.settings
    resource = get_resource(session, resource_id, caller)
    authorize_edit(session, caller, resource.dataset)
    if standard:
        adopt_dictionary(session, resource, standard)
    reader = settings.datastore_read_url
    report = load_file(
        session, resource, path, encoding=encoding, sheet=sheet, file_format=file_format,
        validate=validate, grant_to=make_url(reader).username if reader else None,
        max_bytes=settings.datastore_max_bytes,
    )  # fmt: skip
    report.table.source_name = request.headers.get("x-file-name", "")[:500] or path.name
    session.commit()
    return info(report.table)


@router.get("/{resource_id}")
def get_table_info(resource_id: str, session: SessionDep, caller: CallerDep) -> dict[str, Any]:
    """The table's fields and counts with the rejected rows and the validation report."""
    return info(get_table(session, resource_id, caller))
