"""The consumer side: a local system calls its own node at ``/r1/{service id}[/path]``.

Compatible with the X-Road REST message protocol: ``X-Road-Client`` (required), ``X-Road-Id``,
``X-Road-UserId``, ``X-Road-Issue``; tsunagu adds ``Tsunagu-Purpose``, ``Tsunagu-Legal-Basis``
and ``Tsunagu-Person``. The local system authenticates to its node with an API token, or on
the node's HTTPS listener with a registered client certificate (mesh.localtls).
"""

from __future__ import annotations

import hashlib
import time
import uuid

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tsunagu.accounts import authenticate
from tsunagu.kernel import Problem
from tsunagu.trust.ca import MemberId

from . import localtls, protocol
from .client import check_reply, node_url_of
from .errors import MeshFault, client_fault, consumer_fault
from .messagelog import RowWrite, record_write
from .provider import header_dict, raw_path, read_body, tls_peer
from .runtime import NodeRuntime
from .services import valid_code
from .transport import FetchConnectError, FetchError, FetchTimeout


def fault_json(exc: MeshFault, xroad_id: str = "") -> JSONResponse:
    headers = {"X-Road-Id": xroad_id} if xroad_id else {}
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def problem_answer(request: Request, problem: Problem) -> Response:
    """/r1's answer to a Problem raised around the consumer — the request middleware's body
    limit and NUL check, before or while the body is read: an X-Road fault like the consumer's
    own (docs/mesh.md#errors), not problem+json."""
    if problem.status == 413:
        exc = client_fault("BodyTooLarge", problem.detail, 413)
    elif problem.status < 500:
        exc = client_fault("InvalidRequest", problem.detail, 400)
    else:
        exc = consumer_fault("InternalError", problem.detail, problem.status)
    return fault_json(exc)


def _authenticate_local(rt: NodeRuntime, token: str) -> None:
    now = time.monotonic()
    if rt.token_known(token, now):
        return
    # A read (accounts.authenticate records last_used only if the write lock is free): a write
    # session would wait at BEGIN for SQLite's lock, held by the message-log writer under load.
    with rt.session() as session:
        try:
            authenticate(session, token)
            session.commit()
        except Problem:
            raise client_fault(
                "Unauthorized", "the local system's API token is not valid", 401
            ) from None
    rt.remember_token(token, now)


async def _authenticate_certificate(rt: NodeRuntime, der: bytes | None) -> None:
    """A local system's client certificate (the HTTPS local listener, mesh.localtls)."""
    if der is None:
        raise client_fault(
            "Unauthorized",
            "local systems authenticate with an API token (Authorization: Bearer ...) or, on "
            "the node's HTTPS listener, a registered client certificate",
            401,
        )
    key = "x509:" + hashlib.sha256(der).hexdigest()  # never a token: tokens start "Bearer"
    if rt.token_known(key, time.monotonic()):
        return

    def check() -> str | None:
        with rt.session() as session:
            return localtls.active_name(session, key[5:])

    if await anyio.to_thread.run_sync(check) is None:
        raise client_fault(
            "Unauthorized", "the client certificate is not registered with this node", 401
        )
    rt.remember_token(key, time.monotonic())


async def consume(request: Request) -> Response:
    rt: NodeRuntime = request.app.state.node
    started = time.perf_counter()
    headers = header_dict(request.scope)
    xroad_id = headers.get(protocol.XROAD_ID) or str(uuid.uuid4())
    client = headers.get(protocol.XROAD_CLIENT, "")
    service_id = ""
    caller = "-"  # the metrics' client label: checked ids only, never a caller's free text
    try:
        token = headers.get("authorization", "")
        if token:
            if not rt.token_known(token, time.monotonic()):
                await anyio.to_thread.run_sync(_authenticate_local, rt, token)
        else:
            await _authenticate_certificate(rt, tls_peer(request.scope))
        if not client:
            raise client_fault("MissingHeaderField", "X-Road-Client is required")
        try:
            client_id = MemberId.parse(client)
        except Exception:
            raise client_fault(
                "InvalidClientIdentifier", f"{client!r} is not a member id"
            ) from None
        if "/".join(client.split("/")[:3]) != rt.member_base:
            raise client_fault(
                "InvalidClientIdentifier", f"this node serves {rt.member_base}, not {client}", 403
            )
        caller = client
        parts, rest = protocol.service_path(raw_path(request), "/r1/")
        service_id = "/".join(parts)
        try:
            provider = MemberId.parse("/".join(parts[:4]))
        except Exception as exc:
            raise client_fault("InvalidServiceIdentifier", str(exc)) from None
        if not valid_code(parts[4]):
            raise client_fault(
                "InvalidServiceIdentifier", "a service code is 1-64 of A-Z a-z 0-9 . _ -"
            )
        if not headers.get(protocol.PURPOSE):
            raise client_fault("MissingHeaderField", "Tsunagu-Purpose is required: say why")
        body = await read_body(request, rt.settings.max_body_bytes)
        trust = rt.trust("Server.ClientProxy")
        base_url = node_url_of(trust, provider)
        query = request.scope.get("query_string") or b""
        target = f"/mesh/v1/{service_id}{rest}"
        target += "?" + query.decode("latin-1") if query else ""
        out = protocol.forwardable(headers.items())
        out[protocol.XROAD_SERVICE] = service_id
        out[protocol.XROAD_ID] = xroad_id
        out[protocol.XROAD_CLIENT] = str(client_id)
        signed, sent = protocol.sign_message(rt.identity.signer, request.method, target, out, body)
        sent_hash = sent.request_hash
        try:
            response = await rt.peers.request(
                request.method, base_url + target, content=body, headers=signed
            )
        except FetchTimeout:
            raise consumer_fault(
                "Timeout", "the provider's node did not answer in time", 504
            ) from None
        except FetchConnectError as exc:
            message = str(exc)
            kind = (
                "SslAuthenticationFailed"
                if "SSL" in message or "certificate" in message
                else ("NetworkError")
            )
            raise consumer_fault(kind, f"cannot reach {base_url}: {message[:200]}", 502) from None
        except FetchError as exc:
            raise consumer_fault("NetworkError", str(exc)[:200], 502) from None
        reply = check_reply(
            trust, provider, response, request.method, target, sent_hash, rt.settings, rt.check_peer
        )
        digests = (sent.digest, reply.digest)
        seconds = time.perf_counter() - started
        await rt.write_row(
            *_log(
                signed,
                service_id,
                request.method,
                sent_hash,
                reply.headers,
                reply.status,
                seconds,
                "",
                "",
                digests,
                reply.response_hash,
            )
        )
        rt.metrics.observe(
            "consumer", service_id, client, reply.status, time.perf_counter() - started
        )
        passed: dict[str, str] = {
            "X-Road-Id": xroad_id,
            "X-Road-Request-Hash": sent_hash,
        }
        if reply.headers.get("content-type"):
            passed["content-type"] = reply.headers["content-type"]
        return Response(reply.body, status_code=reply.status, headers=passed)
    except MeshFault as exc:
        seconds = time.perf_counter() - started
        await rt.write_row(
            *_log(
                sent={protocol.MESSAGE_ID: exc.detail, protocol.XROAD_ID: xroad_id},
                service=service_id or "-",
                method=request.method,
                sent_hash="",
                reply={},
                status=exc.status,
                seconds=seconds,
                error=exc.fault_type,
                client=client,
            )
        )
        rt.metrics.observe(
            "consumer", service_id or "-", caller, exc.status, time.perf_counter() - started
        )
        return fault_json(exc, xroad_id)


def _log(
    sent: dict[str, str],
    service: str,
    method: str,
    sent_hash: str,
    reply: dict[str, str],
    status: int,
    seconds: float,
    error: str,
    client: str = "",
    digests: tuple[str, str] = ("", ""),
    response_hash: str = "",
) -> RowWrite:
    """The consumer's message-log row, for the group-committed writer (``rt.write_row``)."""
    return record_write(
        side="consumer",
        message_id=sent.get(protocol.MESSAGE_ID, "")[:100],
        xroad_id=sent.get(protocol.XROAD_ID, "")[:100],
        client=(sent.get(protocol.XROAD_CLIENT) or client or "-")[:200],
        service=service[:300],
        method=method,
        purpose=sent.get(protocol.PURPOSE, "")[:200],
        legal_basis=sent.get(protocol.LEGAL_BASIS, "")[:200],
        issue=sent.get(protocol.XROAD_ISSUE, "")[:200],
        user_id=sent.get(protocol.XROAD_USER, "")[:200],
        request_hash=sent_hash,
        response_hash=response_hash,
        request_signature=sent.get(protocol.SIGNATURE, ""),
        response_signature=reply.get(protocol.SIGNATURE, ""),
        request_digest=digests[0],
        response_digest=digests[1],
        status=status,
        error_type=error,
        duration_ms=seconds * 1000,
    )
