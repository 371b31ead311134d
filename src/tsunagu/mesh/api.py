"""A node's management API for its own operators and local systems (API token required).

Services, access rules, groups, subscriptions, dead letters, the message log (with export),
received notifications, persons (pseudonyms from the hub), and the client certificates of the
organization's local systems. Errors are problem+json.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.http import MAX_OFFSET, get_session, require_caller
from tsunagu.kernel import InputModel, Problem, ServiceUnavailable, ValidationProblem
from tsunagu.registries.laws import citation

from . import localtls, push, services
from .errors import MeshFault
from .messagelog import leaf_fields
from .models import (
    AccessRule,
    LocalSystemCertificate,
    MeshService,
    MessageRecord,
    ReceivedNotification,
)
from .runtime import NodeRuntime

router = APIRouter(prefix="/api/v1/mesh", tags=["Mesh"], dependencies=[Depends(require_caller)])
SessionDep = Annotated[Session, Depends(get_session)]


def runtime(request: Request) -> NodeRuntime:
    rt: NodeRuntime | None = getattr(request.app.state, "node", None)
    if rt is None:
        raise ServiceUnavailable("this process is not a mesh node")
    return rt


RuntimeDep = Annotated[NodeRuntime, Depends(runtime)]


class ServiceIn(InputModel):
    subsystem: str = Field(max_length=64)
    code: str = Field(max_length=64)
    title: str = Field(max_length=300)
    backend: str = Field(max_length=40)
    backend_url: str = Field("", max_length=2000)
    personal_data: bool | None = None
    data_items: list[str] | None = Field(None, max_length=100)
    event_types: list[str] = Field(default_factory=list, max_length=20)
    description: str = Field("", max_length=5000)
    openapi: dict[str, Any] | None = None


class RuleIn(InputModel):
    client: str = Field(max_length=200)
    purposes: list[str] = Field(max_length=50)
    legal_basis: str = Field(max_length=200)
    allow_subscribe: bool = False


class SubscriptionIn(InputModel):
    service: str = Field(max_length=300)
    event_type: str = Field(max_length=200)
    purpose: str = Field(max_length=100)
    filter: dict[str, Any] = Field(default_factory=dict)
    client: str | None = Field(None, max_length=200)


class LocalCertificateIn(InputModel):
    name: str = Field(max_length=200)
    certificate: str = Field(max_length=20_000, description="The certificate, PEM")


class PersonIn(InputModel):
    local_id: str = Field(min_length=1, max_length=64)
    individual_number: str = Field(min_length=12, max_length=12)


def service_view(row: MeshService, member: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "service_id": f"{member}/{row.subsystem}/{row.code}",
        "subsystem": row.subsystem,
        "code": row.code,
        "title": row.title,
        "backend": row.backend,
        "backend_url": row.backend_url,
        "personal_data": row.personal_data,
        "data_items": row.data_items,
        "event_types": row.event_types,
    }


def rule_view(row: AccessRule) -> dict[str, Any]:
    return {
        "id": row.id,
        "service": row.service_id,
        "client": row.client,
        "purposes": row.purposes,
        "legal_basis": row.legal_basis,
        "allow_subscribe": row.allow_subscribe,
    }


def law_known(session: Session) -> Any:
    def known(law_id: str, path: str) -> bool:
        # The law must be registered; the unit is checked where the registry holds its text
        # (the seeded 個人情報保護法 text is trimmed to its first articles).
        try:
            return citation(session, law_id, path) in ("unit", "law")
        except Problem:
            return False

    return known


@router.get("/status", summary="This node: member, certificate, trust list, queues")
def status(rt: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    trust: dict[str, Any]
    try:
        current = rt.trust_cache.current()
        trust = {
            "issued_at": current.issued_at.isoformat(),
            "expires_at": current.expires_at.isoformat(),
        }
    except Exception as exc:  # shown, not raised: the status page must answer
        trust = {"error": str(exc)}
    return {
        "member": rt.member_base,
        "certificate_sha256": rt.identity.fingerprint,
        "not_after": rt.identity.certificate.not_valid_after_utc.isoformat(),
        "trust_list": trust,
        "queues": push.due_counts(session),
    }


@router.get("/services", summary="The services this node provides")
def list_services(rt: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    return {"services": [service_view(s, rt.member_base) for s in services.services(session)]}


@router.post("/services", status_code=201, summary="Declare a service (published to the hub)")
def create_service(body: ServiceIn, rt: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    row = services.declare_service(session, **body.model_dump())
    session.commit()
    publish(rt, session)
    return service_view(row, rt.member_base)


@router.delete("/services/{service_id}", status_code=204, summary="Withdraw a service")
def delete_service(service_id: int, rt: RuntimeDep, session: SessionDep) -> Response:
    services.delete_service(session, service_id)
    session.commit()
    publish(rt, session)
    return Response(status_code=204)


def publish(rt: NodeRuntime, session: Session) -> int:
    """Tell the hub which services this node offers (trust list and catalog)."""
    from .node import service_dicts

    try:
        reply = rt.hub.call(
            "PUT",
            "/mesh/hub/services",
            {
                "services": service_dicts(services.services(session)),
                "node_url": rt.settings.effective_node_mesh_url,
            },
        )
    except MeshFault as exc:
        raise ServiceUnavailable(f"the hub did not take the service list: {exc.message}") from None
    return int(reply.get("services", 0))


@router.get("/services/{service_id}/rules", summary="Access rules of a service")
def list_rules(service_id: int, session: SessionDep) -> dict[str, Any]:
    services.get_service(session, service_id)
    return {"rules": [rule_view(r) for r in services.rules(session, service_id)]}


@router.post(
    "/services/{service_id}/rules",
    status_code=201,
    summary="Allow a client to call a service, for purposes, on a legal basis",
)
def create_rule(service_id: int, body: RuleIn, session: SessionDep) -> dict[str, Any]:
    rule = services.add_rule(
        session,
        service_id,
        body.client,
        body.purposes,
        body.legal_basis,
        allow_subscribe=body.allow_subscribe,
        known_law=law_known(session),
    )
    session.commit()
    return rule_view(rule)


@router.delete("/rules/{rule_id}", status_code=204, summary="Remove an access rule")
def delete_rule(rule_id: int, session: SessionDep) -> Response:
    services.delete_rule(session, rule_id)
    session.commit()
    return Response(status_code=204)


@router.post("/groups/{group}/members", status_code=201, summary="Add a member to a local group")
def add_group_member(group: str, body: dict[str, str], session: SessionDep) -> dict[str, str]:
    member = body.get("member", "")
    services.add_group_member(session, group, member)
    session.commit()
    return {"group": group, "member": member}


def local_certificate_view(row: LocalSystemCertificate) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "subject": row.subject,
        "fingerprint": row.fingerprint,
        "not_after": row.not_after.isoformat() + "Z",
        "created_at": row.created_at.isoformat() + "Z",
        "revoked_at": row.revoked_at.isoformat() + "Z" if row.revoked_at else None,
        "status": localtls.status(row),
    }


@router.get(
    "/local-certificates",
    summary="Client certificates of this organization's local systems (HTTPS listener)",
)
def list_local_certificates(session: SessionDep) -> dict[str, Any]:
    rows = localtls.listing(session)
    return {"certificates": [local_certificate_view(r) for r in rows]}


@router.post(
    "/local-certificates",
    status_code=201,
    summary="Register a local system's client certificate (used within seconds)",
)
def register_local_certificate(body: LocalCertificateIn, session: SessionDep) -> dict[str, Any]:
    row = localtls.register(session, body.name, body.certificate)
    session.commit()
    return local_certificate_view(row)


@router.post(
    "/local-certificates/{certificate_id}/revoke",
    summary="Revoke a local system's client certificate (refused from then on)",
)
def revoke_local_certificate(certificate_id: int, session: SessionDep) -> dict[str, Any]:
    row = localtls.revoke(session, certificate_id)
    session.commit()
    return local_certificate_view(row)


@router.get("/subscriptions", summary="Subscriptions to this node's events (provider side)")
def list_subscriptions(session: SessionDep) -> dict[str, Any]:
    return {
        "subscriptions": [
            {
                "id": s.id,
                "subscriber": s.subscriber,
                "service": s.service_id,
                "event_type": s.event_type,
                "filter": s.filter,
                "purpose": s.purpose,
                "status": s.status,
                "delivered": s.delivered,
                "consecutive_failures": s.consecutive_failures,
                "total_failures": s.total_failures,
            }
            for s in push.subscriptions(session)
        ]
    }


@router.post(
    "/subscriptions",
    status_code=201,
    summary="Subscribe this node to a provider's events (consumer side)",
)
async def create_subscription(body: SubscriptionIn, rt: RuntimeDep) -> dict[str, Any]:
    from .node import peer_client, request_subscription

    def call() -> dict[str, Any]:
        with peer_client(rt) as http:
            return request_subscription(
                rt, http, body.service, body.event_type, body.purpose, body.filter, body.client
            )

    try:
        return await anyio.to_thread.run_sync(call)
    except MeshFault as exc:
        raise ValidationProblem(f"{exc.fault_type}: {exc.message}", field="service") from None


@router.post("/subscriptions/{subscription_id}/resume", summary="Resume a paused subscription")
def resume(subscription_id: int, session: SessionDep) -> dict[str, Any]:
    row = push.resume(session, subscription_id)
    session.commit()
    return {"id": row.id, "status": row.status}


@router.get("/dead-letters", summary="Notifications that could not be delivered")
def dead_letters(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    return {
        "dead_letters": [
            {
                "id": d.id,
                "subscription": d.subscription_id,
                "event_id": d.event_id,
                "topic": d.topic,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "created_at": d.created_at.isoformat(),
            }
            for d in push.dead_letters(session, limit, offset)
        ]
    }


@router.post("/dead-letters/{delivery_id}/replay", summary="Deliver a dead letter again")
def replay(delivery_id: int, session: SessionDep) -> dict[str, Any]:
    row = push.replay(session, delivery_id)
    session.commit()
    return {"id": row.id, "status": row.status}


@router.get("/inbox", summary="Notifications this node received (subscriber side)")
def inbox(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    rows = session.scalars(
        select(ReceivedNotification).order_by(ReceivedNotification.id).limit(limit).offset(offset)
    )
    return {
        "notifications": [
            {
                "id": r.id,
                "provider": r.provider,
                "event_id": r.event_id,
                "topic": r.topic,
                "subject": r.subject,
                "status": r.status,
                "duplicates": r.duplicates,
                "body": r.body,
            }
            for r in rows
        ]
    }


def message_view(r: MessageRecord) -> dict[str, Any]:
    """A message-log record: its evidential fields (as exported and timestamped) and timing."""
    return {**leaf_fields(r), "duration_ms": round(r.duration_ms, 3)}


@router.get("/messages", summary="The message log (both sides), newest first")
def messages(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    since: datetime | None = None,
) -> dict[str, Any]:
    query = select(MessageRecord).order_by(MessageRecord.id.desc()).limit(limit).offset(offset)
    if since is not None:
        query = query.where(MessageRecord.created_at >= since)
    return {"messages": [message_view(r) for r in session.scalars(query)]}


@router.get(
    "/messages/export",
    summary="The message log as JSON Lines, with batch time-stamps, proofs and certificates",
    response_class=Response,
)
def export(rt: RuntimeDep, session: SessionDep) -> Response:
    from .messagelog import export_lines

    lines = list(export_lines(rt, session, message_view))
    return Response("\n".join(lines) + "\n", media_type="application/jsonl")


@router.post(
    "/persons",
    status_code=201,
    summary="Get this organization's pseudonym for a person it holds the number of",
)
def person(body: PersonIn, rt: RuntimeDep, session: SessionDep) -> dict[str, str]:
    if rt.link_key is None:
        raise ValidationProblem(
            "this node holds no individual numbers (no linking key)", field="individual_number"
        )
    link = services.link_of(rt.link_key, body.individual_number)
    try:
        reply = rt.hub.call("POST", "/mesh/hub/pseudonyms", {"links": [link]})
    except MeshFault as exc:
        raise ServiceUnavailable(f"the hub refused: {exc.message}") from None
    pseudonym = str(reply["pseudonyms"][0])
    services.remember_persons(session, [(pseudonym, body.local_id)])
    session.commit()
    return {"local_id": body.local_id, "pseudonym": pseudonym}
