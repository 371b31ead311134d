"""The provider side of a request: checks, access rule, backend, signed response, logs.

Order of checks (each refusal is logged in the message log and counted in the metrics):
TLS peer certificate in the trust list → body size → signature, time window → X-Road-Client is
the member the certificate proves → service known → message id not seen (replay) → an access
rule for the client with the request's purpose → backend.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import MutableMapping
from datetime import date
from functools import partial
from typing import Any

import anyio
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from tsunagu.db import record_events
from tsunagu.kernel import Problem, ValidationProblem, naive_utcnow, parse_iso_date
from tsunagu.kernel.events import Event
from tsunagu.registries.residents import as_of
from tsunagu.trust.ca import MemberId
from tsunagu.trust.errors import TrustError
from tsunagu.trust.trustlist import TrustList

from . import protocol
from .client import evidence_of, member_name, response_message_headers
from .errors import MeshFault, provider_fault
from .messagelog import (
    RowWrite,
    finish_write,
    insert_record,
    insert_versioned,
    set_legal_basis,
)
from .runtime import NodeRuntime
from .services import RuleView, ServiceView, local_id
from .transport import FetchError, FetchTimeout

log = logging.getLogger(__name__)

ACCESS_TOPIC = "mesh.access.recorded"
RESIDENT_ITEMS = ("name", "address", "birth_date", "sex")


_DER: dict[str, bytes] = {}  # PEM -> DER of the peers' certificates (a few, on every message)


def tls_peer(scope: MutableMapping[str, Any]) -> bytes | None:
    """The DER client certificate the TLS listener put in the ASGI ``tls`` extension."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    der = _DER.get(chain[0])
    if der is None:
        if len(_DER) > 1000:
            _DER.clear()
        der = _DER[chain[0]] = ssl.PEM_cert_to_DER_cert(chain[0])
    return der


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (read off ``receive``: cheaper than
    ``request.stream()`` for the usual empty or one-message body)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise MeshFault("Client.BodyTooLarge", f"the body is larger than {limit} bytes", 413)
    chunks, size = [], 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise MeshFault("Client.BodyTooLarge", f"the body is larger than {limit} bytes", 413)
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def header_dict(scope: MutableMapping[str, Any]) -> dict[str, str]:
    """A request's headers by lower-case name (the last of a repeated one), decoded once
    (``request.headers.items()`` decodes every header again on each call)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def raw_path(request: Request) -> str:
    """The path as sent, still percent-encoded (what a message's signature covers)."""
    return (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")


def target_of(request: Request) -> str:
    query = request.scope.get("query_string") or b""
    return raw_path(request) + ("?" + query.decode("latin-1") if query else "")


def signed_response(
    rt: NodeRuntime,
    status: int,
    body: bytes,
    content_type: str,
    target: str,
    request_hash: str,
    xroad_id: str,
) -> tuple[Response, protocol.Hashes]:
    """The signed answer to a message, and its hashes (for the message log)."""
    headers = response_message_headers(status, request_hash, xroad_id, content_type)
    signed, hashes = protocol.sign_message(rt.identity.signer, "RESPONSE", target, headers, body)
    return Response(body, status_code=status, headers=signed), hashes


def signed_fault(
    rt: NodeRuntime, exc: MeshFault, target: str, request_hash: str, xroad_id: str
) -> tuple[Response, protocol.Hashes]:
    """The signed refusal of a message, and its hashes (for the message log)."""
    body = json.dumps(exc.body(), ensure_ascii=False).encode("utf-8")
    return signed_response(rt, exc.status, body, "application/json", target, request_hash, xroad_id)


def fault(
    rt: NodeRuntime, exc: MeshFault, target: str, request_hash: str, xroad_id: str
) -> Response:
    return signed_fault(rt, exc, target, request_hash, xroad_id)[0]


def log_refusal(
    connection: Connection, client: str, service: str, exc: MeshFault, method: str
) -> None:
    """A message refused before it had a log row (unsigned, replayed, ...), under its error id."""
    insert_record(
        connection,
        side="refused",
        message_id=exc.detail,
        client=client[:200],
        service=service[:300],
        method=method,
        status=exc.status,
        error_type=exc.fault_type,
    )


async def verify_inbound(
    request: Request,
    rt: NodeRuntime,
    state: dict[str, str],
    headers: dict[str, str] | None = None,
) -> tuple[str, dict[str, str], bytes, str, str, TrustList]:
    """Check a message from another node; (client, headers, body, target, message id, trust).

    The body is read first (bounded) and its request hash put in ``state["hash"]``, so that
    even a refusal is a signed answer bound to the request. Then: the TLS peer certificate is
    a node of the current trust list, the signature is by that certificate and within the
    time window, and ``X-Road-Client`` names the member the certificate proves. ``headers``
    is :func:`header_dict` of the request where the caller has it already.
    """
    body = await read_body(request, rt.settings.max_body_bytes)
    target = target_of(request)
    if headers is None:
        headers = header_dict(request.scope)
    hashes = protocol.hashes(request.method, target, headers.items(), body)
    state["hash"], state["digest"] = hashes.request_hash, hashes.digest
    der = tls_peer(request.scope)
    if der is None:
        raise provider_fault("SslAuthenticationFailed", "no client certificate", 401)
    trust = rt.trust()
    try:
        proven, cert = rt.check_peer(trust, der)
    except TrustError as exc:
        raise provider_fault("SslAuthenticationFailed", exc.detail, 401) from None
    message_id = protocol.check_signature(
        request.method,
        target,
        headers,
        body,
        cert,
        skew_seconds=rt.settings.mesh_clock_skew,
        fault_prefix="Server.ServerProxy",
        digest=hashes.digest,
    )
    client = headers.get(protocol.XROAD_CLIENT, "")
    if "/".join(client.split("/")[:3]) != "/".join(proven.split("/")[:3]):
        raise provider_fault(
            "InvalidClientIdentifier",
            f"the certificate is {proven}'s, the message claims {client!r}",
            403,
        )
    return client, headers, body, target, message_id, trust


async def provide(request: Request) -> Response:
    rt: NodeRuntime = request.app.state.node
    started = time.perf_counter()
    target = target_of(request)
    headers = header_dict(request.scope)
    xroad_id = headers.get(protocol.XROAD_ID, "")
    client = headers.get(protocol.XROAD_CLIENT, "")
    service_id = headers.get(protocol.XROAD_SERVICE, "")
    state = {"hash": ""}  # set as soon as the body is read: refusals are bound to it too
    record_id: int | None = None
    labels = ("-", "-")  # the metrics' service and client: checked ids only, never free text
    try:
        client, headers, body, target, message_id, trust = await verify_inbound(
            request, rt, state, headers
        )
        request_hash = state["hash"]
        try:
            client_id = MemberId.parse(client)
        except Exception:
            raise MeshFault(
                "Client.InvalidClientIdentifier",
                f"X-Road-Client {client!r} is not a member id",
                400,
            ) from None
        service, rest = _service_of(rt, request, service_id)
        labels = (service_id, client)
        purpose = headers.get(protocol.PURPOSE, "")
        asked_basis = headers.get(protocol.LEGAL_BASIS, "")
        request_digest = state["digest"]

        def admit(connection: Connection) -> tuple[int, MeshFault | tuple[ServiceView, str]]:
            """Access rule and replay store in one transaction: the log row is written either
            way (a refusal is finished below with the signed answer that carried it), with the
            legal basis when the rule admits the message; a message id seen before fails the
            insert (DuplicateMessage). The decision may come from the node's cache; the insert
            reads the access version back, and a decision out of date is made again here."""
            client_text = str(client_id)
            version, found, rule, cached = rt.access.lookup(connection, *service, client_text)
            refusal, basis = _decide(found, rule, service_id, client, purpose, asked_basis)
            record_id, current = insert_versioned(
                connection,
                side="provider",
                client=client_text,
                message_id=message_id,
                service=service_id,
                method=request.method,
                xroad_id=xroad_id[:100],
                purpose=purpose[:200],
                legal_basis=basis,
                issue=headers.get(protocol.XROAD_ISSUE, "")[:200],
                user_id=headers.get(protocol.XROAD_USER, "")[:200],
                request_hash=request_hash,
                request_signature=headers.get(protocol.SIGNATURE, ""),
                request_digest=request_digest,
            )
            if cached and current != version:  # the rules changed since the decision was read
                _, found, rule = rt.access.read(connection, *service, client_text)
                refusal, fresh = _decide(found, rule, service_id, client, purpose, asked_basis)
                if fresh != basis:
                    set_legal_basis(connection, record_id, fresh)
            if refusal is not None or found is None or rule is None:
                return record_id, refusal or provider_fault("AccessDenied", "refused", 403)
            return record_id, (found, rule.legal_basis)

        admitted, outcome = await rt.write(admit)
        record_id = admitted
        if isinstance(outcome, MeshFault):
            raise outcome
        found, legal_basis = outcome
        status, out, content_type, person, items = await _backend(
            rt, request, found, rest, body, headers, target
        )
        response, hashes = signed_response(
            rt, status, out, content_type, target, request_hash, xroad_id
        )
        access = None
        if found.personal_data and person and 200 <= status < 300:
            access = _access_record(
                rt, trust, str(client_id), person, items, purpose, legal_basis, headers, message_id
            )
        seconds = time.perf_counter() - started
        if access is None:  # the log row alone: sent with the batch's others
            await rt.write_row(*_finish_write(admitted, response, status, "", seconds, hashes))
        else:
            await rt.write(
                lambda connection: _finish(
                    connection, admitted, response, status, "", seconds, access, hashes
                )
            )
        rt.metrics.observe("provider", service_id, client, status, time.perf_counter() - started)
        return response
    except ClientDisconnect:  # the peer went away mid-body: nobody to answer
        raise
    except Exception as error:  # a refusal, or a failure: either way a signed, logged answer
        exc = error if isinstance(error, MeshFault) else _internal_error(error)
        refused, refused_hashes = signed_fault(rt, exc, target, state["hash"], xroad_id)
        seconds = time.perf_counter() - started
        if record_id is not None:
            finished = record_id
            await rt.write_row(
                *_finish_write(
                    finished, refused, exc.status, exc.fault_type, seconds, refused_hashes
                )
            )
        else:
            await rt.write(
                partial(
                    log_refusal, client=client, service=service_id, exc=exc, method=request.method
                )
            )
        rt.metrics.observe("provider", *labels, exc.status, time.perf_counter() - started)
        return refused


def _decide(
    found: ServiceView | None,
    rule: RuleView | None,
    service_id: str,
    client: str,
    purpose: str,
    asked_basis: str,
) -> tuple[MeshFault | None, str]:
    """The refusal of a message (None: admitted) and the legal basis its log row records."""
    if found is None:
        return provider_fault("UnknownService", f"no service {service_id}", 404), ""
    if rule is None:
        return provider_fault("AccessDenied", f"{client} may not call {service_id}", 403), ""
    if not purpose:
        return provider_fault(
            "AccessDenied", "the request states no purpose (Tsunagu-Purpose)", 403
        ), ""
    if purpose not in rule.purposes:
        return provider_fault(
            "AccessDenied", f"purpose {purpose!r} is not allowed for {client}", 403
        ), ""
    if asked_basis and asked_basis != rule.legal_basis:
        return provider_fault(
            "AccessDenied",
            f"legal basis {asked_basis} is not the one this access rests on ({rule.legal_basis})",
            403,
        ), ""
    return None, rule.legal_basis


def _internal_error(error: Exception) -> MeshFault:
    """A failure no check foresaw, as the fault the consumer gets (signed, like any answer)
    with an error id that finds its traceback in this node's log; nothing of it goes out."""
    fault = provider_fault("InternalError", "the provider failed to handle the message", 500)
    log.error("mesh provider failed (error id %s)", fault.detail, exc_info=error)
    return fault


def _service_of(rt: NodeRuntime, request: Request, header: str) -> tuple[tuple[str, str], str]:
    """(subsystem, code) and the rest of the path as sent (percent-encoded, for the backend);
    the header must name the path's service."""
    parts, rest = protocol.service_path(raw_path(request), "/mesh/v1/")
    service_id = "/".join(parts)
    if header != service_id:
        raise MeshFault(
            "Client.InvalidServiceIdentifier",
            "X-Road-Service does not name the service in the path",
            400,
        )
    if "/".join(parts[:3]) != rt.member_base:
        raise provider_fault("UnknownService", f"{service_id} is not provided by this node", 404)
    return (parts[3], parts[4]), rest


# What a URL backend gets of the request's headers: the body's type and who asks (X-Road's
# headers to a provider's local system), each only if the request has it (an empty
# X-Road-UserId would tell the backend of a user nobody named).
_TO_BACKEND = ("content-type", "accept", protocol.XROAD_CLIENT, protocol.XROAD_ID,
               protocol.XROAD_USER)  # fmt: skip


async def _backend(
    rt: NodeRuntime,
    request: Request,
    service: ServiceView,
    rest: str,
    body: bytes,
    headers: dict[str, str],
    target: str,
) -> tuple[int, bytes, str, str, list[str]]:
    """Call the service's backend: (status, body, content type, provider pseudonym, items)."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    if service.backend == "resident":
        return await _resident(rt, request, service, rest, body, headers, target)
    if service.backend in ("address", "corporation"):
        prefix = {"address": "/api/v1/address", "corporation": "/api/v1/corporations"}
        if rt.local is None:
            raise provider_fault("ServiceFailed", "this node serves no built-in registries", 502)
        url = prefix[service.backend] + rest + (f"?{query}" if query else "")
        reply = await rt.local.request(request.method, url, content=body or None)
        return (
            reply.status_code,
            reply.content,
            reply.headers.get("content-type", ""),
            "",
            list(service.data_items),
        )
    url = service.backend_url.rstrip("/") + rest + (f"?{query}" if query else "")
    forward = {k: headers[k] for k in _TO_BACKEND if headers.get(k)}
    try:
        answer = await rt.backends.request(request.method, url, content=body, headers=forward)
    except FetchTimeout:
        raise provider_fault("ServiceFailed", "the backend did not answer in time", 504) from None
    except FetchError as exc:
        raise provider_fault(
            "ServiceFailed", f"the backend cannot be reached ({type(exc).__name__})", 502
        ) from None
    return (
        answer.status,
        answer.body,
        answer.headers.get("content-type", ""),
        "",
        list(service.data_items),
    )


async def _resident(
    rt: NodeRuntime,
    request: Request,
    service: ServiceView,
    rest: str,
    body: bytes,
    headers: dict[str, str],
    target: str,
) -> tuple[int, bytes, str, str, list[str]]:
    """住民基本4情報 of a person the consumer names by its own pseudonym (Tsunagu-Person)."""
    person = headers.get(protocol.PERSON, "")
    if not person:
        raise MeshFault("Client.MissingHeaderField", "Tsunagu-Person names no person", 400)
    wanted = [i for i in request.query_params.get("items", "").split(",") if i] or list(
        RESIDENT_ITEMS
    )
    unknown = [i for i in wanted if i not in RESIDENT_ITEMS or i not in service.data_items]
    if unknown:
        raise MeshFault("Client.InvalidRequest", f"items not offered: {', '.join(unknown)}", 400)
    when = request.query_params.get("as_of")
    try:  # before the hub translates anything: a bad date is the consumer's error, not a crash
        on = parse_iso_date(when, "as_of") if when else None
    except ValidationProblem as exc:
        raise MeshFault("Client.InvalidRequest", exc.detail, 400) from None
    evidence = evidence_of(request.method, target, headers, body)

    def work() -> tuple[str, dict[str, Any]]:
        translated = rt.hub.call(
            "POST", "/mesh/hub/pseudonyms/translate", {"pseudonym": person, "evidence": evidence}
        )
        own = str(translated["pseudonym"])
        with rt.session() as session:
            resident_id = local_id(session, own)
            if resident_id is None:
                raise provider_fault("UnknownPerson", "this municipality holds no such person", 404)
            version = _current(session, resident_id, on)
            return own, _basic4(version, wanted)

    try:
        own, data = await anyio.to_thread.run_sync(work)
    except Problem as exc:
        raise MeshFault("Client.InvalidRequest", exc.detail, exc.status) from None
    except MeshFault as exc:
        if exc.fault_type.startswith("Server.ClientProxy."):  # the hub client's, on this side
            raise provider_fault(
                exc.fault_type.rsplit(".", 1)[1], exc.message, exc.status
            ) from None
        raise
    body_out = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return 200, body_out, "application/json", own, wanted


def _current(session: Session, resident_id: str, on: date | None) -> Any:
    from sqlalchemy import select

    from tsunagu.registries.residents.models import ResidentVersion

    code = session.scalar(
        select(ResidentVersion.lg_code).where(ResidentVersion.resident_id == resident_id).limit(1)
    )
    return as_of(session, str(code), resident_id, on)


def _basic4(version: Any, wanted: list[str]) -> dict[str, Any]:
    full = {
        "name": {
            "family_name": version.family_name,
            "given_name": version.given_name,
            "family_name_kana": version.family_name_kana,
            "given_name_kana": version.given_name_kana,
        },
        "address": {
            "text": version.address_text,
            "lg_code": version.address_lg_code,
            "machiaza_id": version.machiaza_id,
        },
        "birth_date": version.birth_date.isoformat(),
        "sex": version.sex,
    }
    out = {k: full[k] for k in wanted}
    out["status"] = version.status
    out["valid_from"] = version.valid_from.isoformat()
    return out


def _access_record(
    rt: NodeRuntime,
    trust: Any,
    client: str,
    person: str,
    items: list[str],
    purpose: str,
    legal_basis: str,
    headers: dict[str, str],
    message_id: str,
) -> dict[str, Any]:
    return {
        "accessed_at": naive_utcnow().isoformat(),
        "requester": {"id": client, "name": member_name(trust, client)},
        "provider": {"id": rt.member_base, "name": member_name(trust, rt.member_base)},
        "pseudonym": person,
        "data_items": items,
        "purpose": purpose,
        "legal_basis": legal_basis,
        "case_id": headers.get(protocol.XROAD_ISSUE) or "-",
        "message_id": message_id,
    }


def _finish_write(
    record_id: int,
    response: Response,
    status: int,
    error: str,
    seconds: float,
    hashes: protocol.Hashes,
) -> RowWrite:
    """The provider's completion of its log row, as a plain row write."""
    return finish_write(
        record_id,
        status=status,
        error_type=error,
        duration_ms=seconds * 1000,
        # Both hashes of the response's canonical form as signed (the consumer logs the same).
        response_hash=hashes.request_hash,
        response_signature=response.headers.get(protocol.SIGNATURE, ""),
        response_digest=hashes.digest,
    )


def _finish(
    connection: Connection,
    record_id: int,
    response: Response,
    status: int,
    error: str,
    seconds: float,
    access: dict[str, Any] | None,
    hashes: protocol.Hashes,
) -> None:
    """The completion and, in the same transaction, the access record (a job of the writer)."""
    _, _, alone = _finish_write(record_id, response, status, error, seconds, hashes)
    alone(connection)
    if access is not None:
        # Same transaction as the log record: the transparency entry reaches the hub
        # at least once (the worker forwards it), even if this process dies now.
        record_events(
            connection, [Event(topic=ACCESS_TOPIC, key=access["message_id"], data=access)]
        )
