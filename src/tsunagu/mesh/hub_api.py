"""HTTP routes of the hub's mesh services (docs/mesh.md, "The hub")."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from tsunagu.http import get_session
from tsunagu.kernel import Forbidden, Settings, ValidationProblem
from tsunagu.ledger import AccessRecordIn, append_access_record
from tsunagu.trust.api import HubDep

from . import hub
from .errors import MeshFault

router = APIRouter(tags=["Mesh hub"])
SessionDep = Annotated[Session, Depends(get_session)]
MAX_HUB_BODY = 4_000_000


class EnrollmentIn(BaseModel):
    member_id: str = Field(max_length=200)
    node_url: str = Field(max_length=2000)
    csr: str = Field(max_length=20_000)


def fault_response(exc: MeshFault) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


async def _signed(request: Request, session: Session) -> tuple[hub.CallingNode, Any]:
    body = await request.body()
    if len(body) > MAX_HUB_BODY:
        raise MeshFault("Client.BodyTooLarge", "the body is too large", 413)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    headers = {k.lower(): v for k, v in request.headers.items()}
    settings: Settings = request.app.state.settings
    caller = hub.authenticate_node(session, request.method, target, headers, body, settings)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise MeshFault("Client.InvalidRequest", "the body is not JSON", 400) from None
    if not isinstance(data, dict):
        raise MeshFault("Client.InvalidRequest", "the body is not a JSON object", 400)
    return caller, data


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
    "/mesh/hub/services", summary="A node declares its services (signed call)", response_model=None
)
async def publish(request: Request, session: SessionDep) -> dict[str, Any] | JSONResponse:
    try:
        caller, data = await _signed(request, session)
        items = data.get("services")
        if not isinstance(items, list):
            raise ValidationProblem("services must be a list", field="services")
        node_url = str(data.get("node_url", ""))
        count = hub.publish_services(session, caller.member, items, node_url)
        session.commit()
        return {"member": str(caller.member), "services": count}
    except MeshFault as exc:
        session.rollback()
        return fault_response(exc)


@router.post(
    "/mesh/hub/pseudonyms",
    summary="A node's pseudonyms for linked persons (signed)",
    response_model=None,
)
async def pseudonyms(request: Request, session: SessionDep) -> dict[str, Any] | JSONResponse:
    try:
        caller, data = await _signed(request, session)
        links = data.get("links")
        if not isinstance(links, list):
            raise ValidationProblem("links must be a list", field="links")
        out = hub.issue_pseudonyms(session, request.app.state.settings, caller.member, links)
        session.commit()
        return {"pseudonyms": out}
    except MeshFault as exc:
        session.rollback()
        return fault_response(exc)


@router.post(
    "/mesh/hub/pseudonyms/translate",
    response_model=None,
    summary="Translate a pseudonym between two organizations, for an allowed request",
)
async def translate(request: Request, session: SessionDep) -> dict[str, Any] | JSONResponse:
    try:
        caller, data = await _signed(request, session)
        pseudonym = str(data.get("pseudonym", ""))
        if "evidence" in data:  # a query: the provider shows the consumer's signed request
            evidence = data["evidence"]
            if not isinstance(evidence, dict):
                raise ValidationProblem("evidence must be an object", field="evidence")
            consumer, person = hub.verify_evidence(
                session, evidence, request.app.state.settings, caller.member
            )
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
        session.commit()  # the message-log row records the translation
        return {"pseudonym": result, "direction": direction}
    except MeshFault as exc:
        session.rollback()
        return fault_response(exc)


@router.post(
    "/mesh/hub/access-records",
    response_model=None,
    summary="A provider node appends a personal-data access record (signed)",
)
async def access_record(request: Request, session: SessionDep) -> dict[str, Any] | JSONResponse:
    try:
        caller, data = await _signed(request, session)
        try:
            record = AccessRecordIn.model_validate(data.get("record"))
        except ValueError as exc:
            raise ValidationProblem(f"not an access record: {exc}", field="record") from None
        provider = record.provider.id.split("/")
        if provider[:3] != [caller.member.instance, caller.member.member_class, caller.member.code]:
            raise Forbidden("a node records only its own organization's accesses")
        index = append_access_record(session, record)
        session.commit()
        return {"index": index}
    except MeshFault as exc:
        session.rollback()
        return fault_response(exc)
