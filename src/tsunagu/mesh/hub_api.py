"""HTTP routes of the hub's mesh services (docs/mesh.md, "The hub")."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy.orm import Session

from tsunagu.db import make_sessionmaker
from tsunagu.http import get_session
from tsunagu.http.openapi import PROBLEM_MEDIA
from tsunagu.kernel import Forbidden, InputModel, Problem, Settings, ValidationProblem
from tsunagu.ledger import AccessRecordIn, append_access_record
from tsunagu.trust import TrustError
from tsunagu.trust.api import HubDep, hub_of

from . import hub, messagelog
from .errors import FAULT_CONTENT, MeshFault

log = logging.getLogger(__name__)
router = APIRouter(tags=["Mesh hub"])
SessionDep = Annotated[Session, Depends(get_session)]
MAX_HUB_BODY = 4_000_000

# A refused signed call answers X-Road's error shape (docs/mesh.md, "Errors"); a body that is
# JSON but not what the call takes is a problem+json 422 (tsunagu.http.openapi documents 503).
_FAULT = FAULT_CONTENT
_PROBLEM: dict[str, Any] = {PROBLEM_MEDIA: {}}
_SIGNED_CALL_FAULTS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not JSON, a malformed message id or timestamp", "content": _FAULT},
    401: {
        "description": "Unsigned, a bad signature, or a signer that is not a node of this hub "
        "(unknown, revoked or expired certificate), or outside the time window",
        "content": _FAULT,
    },
    409: {"description": "The message id was used before (a replay)", "content": _FAULT},
    413: {"description": f"A body larger than {MAX_HUB_BODY} bytes", "content": _FAULT},
    422: {"description": "The body is not what the call takes (RFC 9457 problem)",
          "content": _PROBLEM},
}  # fmt: skip


def _signed_call_doc(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """``openapi_extra`` for a signed call: its JSON body (read by hand, the signature covers
    the bytes as sent)."""
    schema = {"type": "object", "properties": properties, "required": required}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


class EnrollmentIn(InputModel):
    member_id: str = Field(max_length=200)
    node_url: str = Field(max_length=2000)
    csr: str = Field(max_length=20_000)


def fault_response(exc: MeshFault) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


Work = Callable[[hub.CallingNode, dict[str, Any]], dict[str, Any]]


async def _signed_call(request: Request, session: Session, work: Work) -> Any:
    """Check a node's signed call, run ``work`` and finish the call's message-log row.

    A refusal (``MeshFault`` as X-Road's error shape, a ``Problem`` as problem+json) rolls the
    work back and is then logged in a transaction of its own: the hub's log keeps refused
    calls too (a translation that was refused is evidence as much as one that was granted).
    """
    started = time.perf_counter()
    body = await request.body()
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    headers = {k.lower(): v for k, v in request.headers.items()}
    settings: Settings = request.app.state.settings
    caller: hub.CallingNode | None = None
    try:
        if len(body) > MAX_HUB_BODY:
            raise MeshFault("Client.BodyTooLarge", "the body is too large", 413)
        caller = hub.authenticate_node(session, request.method, target, headers, body, settings)
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise MeshFault("Client.InvalidRequest", "the body is not JSON", 400) from None
        if not isinstance(data, dict):
            raise MeshFault("Client.InvalidRequest", "the body is not a JSON object", 400)
        result = work(caller, data)
        hub.finish_hub_record(session, caller, 200, time.perf_counter() - started)
        session.commit()
        return result
    except (MeshFault, Problem) as exc:
        session.rollback()
        error = exc.fault_type if isinstance(exc, MeshFault) else f"problem:{exc.slug}"
        seconds = time.perf_counter() - started
        call = (request.method, target, headers, body)
        hub.log_hub_refusal(session, caller, call, exc.status, error, seconds)
        session.commit()
        if isinstance(exc, MeshFault):
            return fault_response(exc)
        raise


@router.post("/mesh/hub/enrollments", status_code=201, summary="Ask for a node certificate")
def enroll(body: EnrollmentIn, session: SessionDep, platform: HubDep) -> dict[str, Any]:
    row = hub.submit_enrollment(session, platform, body.member_id, body.node_url, body.csr)
    session.commit()
    return hub.enrollment_view(session, platform, row)


@router.get("/mesh/hub/enrollments/{enrollment_id}", summary="An enrollment and its certificate")
def enrollment(enrollment_id: str, session: SessionDep, platform: HubDep) -> dict[str, Any]:
    return hub.enrollment_view(session, platform, hub.get_enrollment(session, enrollment_id))


@router.get("/mesh/hub/services", summary="Every service declared in the mesh")
def services(session: SessionDep) -> dict[str, Any]:
    return {"services": hub.registered_services(session)}


@router.put(
    "/mesh/hub/services",
    summary="A node declares its services (signed call)",
    response_model=None,
    responses=_SIGNED_CALL_FAULTS,
    openapi_extra=_signed_call_doc(
        {"services": {"type": "array", "items": {"type": "object"}},
         "node_url": {"type": "string"}},
        ["services"],
    ),
)  # fmt: skip
async def publish(request: Request, session: SessionDep) -> dict[str, Any] | JSONResponse:
    def work(caller: hub.CallingNode, data: dict[str, Any]) -> dict[str, Any]:
        items = data.get("services")
        if not isinstance(items, list):
            raise ValidationProblem("services must be a list", field="services")
        node_url = str(data.get("node_url", ""))
        count = hub.publish_services(session, caller.member, items, node_url)
        return {"member": str(caller.member), "services": count}

    return cast(dict[str, Any] | JSONResponse, await _signed_call(request, session, work))


@router.post(
    "/mesh/hub/pseudonyms",
    summary="A node's pseudonyms for linked persons (signed)",
    response_model=None,
    responses=_SIGNED_CALL_FAULTS,
    openapi_extra=_signed_call_doc(
        {"links": {"type": "array", "items": {"type": "string"}}}, ["links"]
    ),
)
async def pseudonyms(request: Request, session: SessionDep) -> dict[str, Any] | JSONResponse:
    def work(caller: hub.CallingNode, data: dict[str, Any]) -> dict[str, Any]:
        links = data.get("links")
        if not isinstance(links, list):
            raise ValidationProblem("links must be a list", field="links")
        out = hub.issue_pseudonyms(session, request.app.state.settings, caller.member, links)
        return {"pseudonyms": out}

    return cast(dict[str, Any] | JSONResponse, await _signed_call(request, session, work))


@router.post(
    "/mesh/hub/pseudonyms/translate",
    response_model=None,
    summary="Translate a pseudonym between two organizations, for an allowed request",
    responses={
        **_SIGNED_CALL_FAULTS,
        403: {"description": "The evidence does not allow this translation", "content": _FAULT},
        404: {"description": "The pseudonym is not one of the caller's", "content": _FAULT},
    },
    openapi_extra=_signed_call_doc(
        {
            "pseudonym": {"type": "string"},
            "evidence": {"type": "object", "description": "the consumer's signed request"},
            "to": {"type": "string", "description": "a subscriber's member id (push)"},
        },
        ["pseudonym"],
    ),
)
async def translate(request: Request, session: SessionDep) -> dict[str, Any] | JSONResponse:
    def work(caller: hub.CallingNode, data: dict[str, Any]) -> dict[str, Any]:
        pseudonym = str(data.get("pseudonym", ""))
        if "evidence" in data:  # a query: the provider shows the consumer's signed request
            evidence = data["evidence"]
            if not isinstance(evidence, dict):
                raise ValidationProblem("evidence must be an object", field="evidence")
            consumer, person, asked = hub.verify_evidence(
                session, evidence, request.app.state.settings, caller.member
            )
            hub.note_evidence(caller, asked)
            if person != pseudonym:
                raise MeshFault("Client.AccessDenied", "the evidence is about another person", 403)
            result = hub.translate(session, pseudonym, consumer.code, caller.member.code)
            direction = f"{consumer.code}->{caller.member.code}"
        else:  # a push: the provider's own pseudonym to a subscriber's, if it holds one
            to_code = str(data.get("to", "")).split("/")[2:3]
            if not to_code:
                raise ValidationProblem("to must be a member id", field="to")
            result = hub.translate(session, pseudonym, caller.member.code, to_code[0])
            direction = f"{caller.member.code}->{to_code[0]}"
        # the message-log row (signed request, its evidence) records the translation
        return {"pseudonym": result, "direction": direction}

    return cast(dict[str, Any] | JSONResponse, await _signed_call(request, session, work))


@router.post(
    "/mesh/hub/access-records",
    response_model=None,
    summary="A provider node appends a personal-data access record (signed)",
    responses={
        **_SIGNED_CALL_FAULTS,
        403: {"description": "A record of another organization's access", "content": _PROBLEM},
    },
    openapi_extra=_signed_call_doc({"record": {"type": "object"}}, ["record"]),
)
async def access_record(request: Request, session: SessionDep) -> dict[str, Any] | JSONResponse:
    def work(caller: hub.CallingNode, data: dict[str, Any]) -> dict[str, Any]:
        try:
            record = AccessRecordIn.model_validate(data.get("record"))
        except ValueError as exc:
            raise ValidationProblem(f"not an access record: {exc}", field="record") from None
        provider = record.provider.id.split("/")
        if provider[:3] != [caller.member.instance, caller.member.member_class, caller.member.code]:
            raise Forbidden("a node records only its own organization's accesses")
        return {"index": append_access_record(session, record)}

    return cast(dict[str, Any] | JSONResponse, await _signed_call(request, session, work))


# -- the hub's own message log: sealed in time-stamped batches by its own TSA ---------------------


def seal_hub_log(app: Any) -> int:
    """One sealing round of the hub's message log; the number of records sealed.

    On sessions of its own over the engine, never ``app.state.sessionmaker``'s (a test binds
    that to one connection, which a background thread must not share with requests), and
    the trust material is opened only when there is something to seal.
    """
    sessions = getattr(app.state, "sealing_sessions", None)
    if sessions is None:
        sessions = app.state.sealing_sessions = make_sessionmaker(app.state.engine)
    settings: Settings = app.state.settings
    if not messagelog.has_unsealed(sessions, settings):
        return 0
    platform = hub_of(app)
    return messagelog.seal_records(sessions, settings, hub.hub_timestamper(sessions, platform))


@contextlib.asynccontextmanager
async def hub_lifespan(app: Any) -> AsyncIterator[None]:
    """Seal the hub's message log every ``TSUNAGU_MESH_LOG_BATCH_SECONDS`` while it serves."""

    async def loop() -> None:
        settings: Settings = app.state.settings
        warned = False
        delay = settings.mesh_log_batch_seconds
        while True:
            await asyncio.sleep(delay)
            delay = settings.mesh_log_batch_seconds
            try:
                sealed = await asyncio.to_thread(seal_hub_log, app)
            except TrustError as exc:  # no CA yet: the hub serves, its log waits
                if not warned:
                    log.warning("hub message log not sealed: %s", exc.detail)
                    warned = True
                continue
            except Exception:  # a failed round must not end sealing for good
                log.exception("hub message log: sealing round failed")
                continue
            warned = False
            if sealed >= messagelog.BATCH_LIMIT:
                delay = 0  # a backlog drains without waiting

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
