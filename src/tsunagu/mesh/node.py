"""A node process: runtime, the mutual-TLS app other nodes call, the worker, and the server.

Two listeners: the local app (plain HTTP on ``TSUNAGU_PORT``, for the organization's own
systems and operators) and the mesh app (HTTPS with client certificates on
``TSUNAGU_NODE_MESH_PORT``, for other nodes). Uvicorn does not put the TLS peer certificate in
the ASGI scope, so ``PeerCertProtocol`` adds it as the ASGI ``tls`` extension
(https://asgi.readthedocs.io/en/latest/specs/tls.html) — a dozen lines instead of a proxy.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, func, select
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from tsunagu.db import OutboxEvent, is_postgres, make_sessionmaker, outbox
from tsunagu.http import problem_response
from tsunagu.kernel import Problem, Settings
from tsunagu.trust.ca import MemberId

from . import messagelog, protocol, push, services
from .client import HubClient, check_reply, node_url_of
from .consumer import consume
from .errors import FAULT_CONTENT, MeshFault
from .identity import NodeIdentity
from .messagelog import insert_record
from .models import MeshService
from .provider import fault, signed_response, target_of, verify_inbound
from .provider import provide as provide_handler
from .runtime import NodeRuntime, ServiceMetrics
from .transport import NodeHttp

log = logging.getLogger(__name__)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def open_runtime(
    settings: Settings, engine: Engine, local_app: Any = None, registry: Any = None
) -> NodeRuntime:
    """Load identity and trust material and build the clients of a node."""
    identity = NodeIdentity.load(settings)
    hub = HubClient(settings, identity)
    link_key = (
        settings.node_link_key_file.read_bytes().strip() if settings.node_link_key_file else None
    )
    rt = NodeRuntime(
        settings=settings,
        identity=identity,
        sessionmaker=make_sessionmaker(engine),
        trust_cache=hub.trust_cache(identity.anchor, settings.mesh_trust_refresh),
        writer=make_sessionmaker(engine, immediate=True),
        hub=hub,
        peers=NodeHttp(identity.client_context(), settings.mesh_timeout),
        backends=NodeHttp(None, settings.mesh_timeout),
        local=(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=local_app), base_url="http://node.local"
            )
            if local_app is not None
            else None
        ),
        metrics=ServiceMetrics(registry),
        link_key=link_key,
    )
    # every trust list's certificates are kept for the message log's verifiers
    rt.trust_cache.on_accept = messagelog.CertificateArchive(rt.write_session).remember
    return rt


# -- what other nodes call ------------------------------------------------------------------------


def mesh_router() -> APIRouter:
    router = APIRouter()

    @router.api_route("/mesh/v1/{service_path:path}", methods=METHODS, include_in_schema=False)
    async def provide(request: Request) -> Response:
        return await provide_handler(request)

    @router.post("/mesh/notifications", include_in_schema=False)
    async def notifications(request: Request) -> Response:
        rt: NodeRuntime = request.app.state.node
        started = time.perf_counter()
        target, client, state = target_of(request), "", {"hash": ""}
        try:
            client, headers, body, target, _message_id, _ = await verify_inbound(request, rt, state)

            def store() -> bool:
                with rt.session() as session:
                    _, new = push.receive(session, client, body)
                    session.commit()
                    return new

            new = await anyio.to_thread.run_sync(store)
            if new:
                rt.wake.set()  # the worker forwards it to the local system now, not at its poll
            out = b'{"status":"accepted"}' if new else b'{"status":"duplicate"}'
            rt.metrics.observe(
                "notify",
                headers.get(protocol.XROAD_SERVICE, "-"),
                client,
                200,
                time.perf_counter() - started,
            )
            return signed_response(rt, 200, out, "application/json", target, state["hash"], "")[0]
        except MeshFault as exc:
            rt.metrics.observe(
                "notify", "-", client or "-", exc.status, time.perf_counter() - started
            )
            return fault(rt, exc, target, state["hash"], "")

    @router.post("/mesh/subscriptions", include_in_schema=False)
    async def subscriptions(request: Request) -> Response:
        rt: NodeRuntime = request.app.state.node
        target, state = target_of(request), {"hash": ""}
        try:
            client, _headers, body, target, message_id, _ = await verify_inbound(request, rt, state)

            def create() -> dict[str, Any]:
                import json

                data = json.loads(body or b"{}")
                if not isinstance(data, dict):
                    raise MeshFault("Client.InvalidRequest", "the body is not an object", 400)
                with rt.session() as session:
                    insert_record(
                        session.connection(),
                        side="provider",
                        client=client,
                        message_id=message_id,
                        service="subscribe",
                        method="POST",
                    )
                    service_id, event_type, purpose, filter = push.parse_subscription(data)
                    parts = service_id.split("/")
                    if len(parts) != 5 or "/".join(parts[:3]) != rt.member_base:
                        raise MeshFault(
                            "Server.ServerProxy.UnknownService",
                            f"{service_id} is not a service of this node",
                            404,
                        )
                    from .services import find_service

                    service = find_service(session, parts[3], parts[4])
                    if service is None:
                        raise MeshFault(
                            "Server.ServerProxy.UnknownService", f"no service {service_id}", 404
                        )
                    sub = push.subscribe(session, client, service, event_type, purpose, filter)
                    session.commit()
                    return {"id": sub.id, "status": sub.status, "event_type": sub.event_type}

            try:
                result = await anyio.to_thread.run_sync(create)
            except Exception as exc:
                from tsunagu.kernel import Problem

                if isinstance(exc, Problem):
                    raise MeshFault("Client.InvalidRequest", exc.detail, 400) from None
                raise
            import json

            out = json.dumps(result).encode()
            return signed_response(rt, 201, out, "application/json", target, state["hash"], "")[0]
        except MeshFault as exc:
            return fault(rt, exc, target, state["hash"], "")

    @router.get("/mesh/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return router


class LeanRoute:
    """Innermost middleware: a request under ``prefix`` goes straight to ``endpoint``.

    The mesh's two per-message paths (``/r1/...`` on the local app, ``/mesh/v1/...`` on the
    mutual-TLS app) skip FastAPI's exception and exit-stack middleware, router (the local app
    matches each request against every registry route in turn) and endpoint machinery, which
    cost about a fifth of each node's CPU per round trip (py-spy, 2026-11-26). Everything
    outside the router still applies: on the local app the request middleware (body limit,
    NUL check, security headers, request id, metrics under the route's own label, access
    log), and on both the server-error handler. The endpoints read the body with their own
    bound (``read_body``) and answer X-Road faults themselves; a Problem (the middleware's
    body limit while streaming) is answered by ``problem_response``, as the router's handler
    would (on ``/r1/`` as an X-Road fault: ``app.state.problem_renderers``).
    """

    def __init__(self, app: ASGIApp, *, route_path: str, endpoint: Any) -> None:
        self.app = app
        self.prefix, rest = route_path.split("{", 1)  # "/r1/{service_path:path}"
        # The prefix without its slash names no service either: answered here as such (an
        # X-Road fault), not redirected to the prefix by the router.
        self.bare = self.prefix.rstrip("/")
        self.param = rest.split(":", 1)[0]
        self.endpoint = endpoint
        self.route = SimpleNamespace(path=route_path)  # the metrics' route label

    def serves(self, scope: Scope) -> bool:
        path = scope.get("path", "")
        return (
            scope["type"] == "http"
            and (path.startswith(self.prefix) or path == self.bare)
            and scope["method"] in METHODS
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.serves(scope):
            await self.app(scope, receive, send)
            return
        scope["path_params"] = {self.param: scope["path"][len(self.prefix) :]}
        scope["route"] = self.route
        request = Request(scope, receive)
        try:
            response = await self.endpoint(request)
        except Problem as exc:
            response = problem_response(request, exc)
        await response(scope, receive, send)


def lean_route(app: FastAPI, route_path: str, endpoint: Any) -> None:
    """Serve ``route_path`` (``/prefix/{name:path}``, also a route of ``app`` for the API
    docs and other methods) through :class:`LeanRoute`, inside every middleware of ``app``."""
    app.user_middleware.append(Middleware(LeanRoute, route_path=route_path, endpoint=endpoint))


def _crash() -> JSONResponse:  # never a stack trace out
    log.exception("mesh request failed")
    body = MeshFault("Server.ServerProxy.InternalError", "internal error", 500).body()
    return JSONResponse(body, status_code=500)


class MeshFront(LeanRoute):
    """The mutual-TLS listener's outermost app: ``/mesh/v1/...`` goes straight to the
    provider, everything else to the FastAPI app behind it.

    Messages from other nodes need none of FastAPI's layers (exception and body-limit
    middleware, router): the provider reads the body within its own bound, answers faults
    itself and is caught here if it fails. They ran on every message, as did uvicorn's proxy
    headers (off on this listener: a peer connects directly, and its ``X-Forwarded-*`` must
    not be believed).
    """

    def __init__(self, app: FastAPI) -> None:
        super().__init__(app, route_path="/mesh/v1/{service_path:path}", endpoint=provide_handler)
        self.fastapi = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.serves(scope):
            await self.app(scope, receive, send)
            return
        scope["app"] = self.fastapi  # as Starlette sets it: request.app.state.node
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await super().__call__(scope, receive, sending)
        except ClientDisconnect:
            return  # nobody left to answer
        except Exception:
            if started:
                raise
            await _crash()(scope, receive, send)


def create_mesh_app(rt: NodeRuntime) -> FastAPI:
    """The mutual-TLS listener's FastAPI app (serve it as ``MeshFront(app)``)."""
    app = FastAPI(title="tsunagu node (mesh)", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.node = rt
    app.include_router(mesh_router())

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        return _crash()

    return app


# /r1's errors as sent (docs/mesh.md#errors): X-Road's shape, from this node or the provider's.
XROAD_FAULT: dict[str, Any] = {"content": FAULT_CONTENT}
R1_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {"description": "The provider's answer, with its status and content type"},
    **{
        status: {"description": what, **XROAD_FAULT}
        for status, what in (
            (400, "A missing or malformed header, path or request"),
            (401, "No valid API token or client certificate"),
            (403, "X-Road-Client is not this node's member, or the provider refused access"),
            (404, "No such member, service or person"),
            (409, "A message id seen before"),
            (413, "The body is larger than TSUNAGU_MAX_BODY_BYTES"),
            (502, "The provider's node or backend failed, or its answer did not verify"),
            (503, "No valid trust list"),
            (504, "The provider's node or backend did not answer in time"),
        )
    },
}
R1_PATH = {
    "name": "service_path",
    "in": "path",
    "required": True,
    "description": "{INSTANCE}/{CLASS}/{MEMBER}/{SUBSYSTEM}/{SERVICE}[/path]",
    "schema": {"type": "string"},
}


def local_router() -> APIRouter:
    router = APIRouter()

    @router.api_route(
        "/r1/{service_path:path}",
        methods=METHODS,
        tags=["Mesh"],
        summary="Call a service of another member (X-Road REST message protocol)",
        responses=R1_RESPONSES,
        openapi_extra={"parameters": [R1_PATH]},
    )
    async def r1(request: Request) -> Response:
        return await consume(request)

    return router


# -- subscribing (consumer side, sends a signed request to the provider) --------------------------


def request_subscription(
    rt: NodeRuntime,
    http: httpx.Client,
    service_id: str,
    event_type: str,
    purpose: str,
    filter: dict[str, Any] | None = None,
    client: str | None = None,
) -> dict[str, Any]:
    import json

    parts = service_id.split("/")
    if len(parts) != 5:
        raise MeshFault("Client.InvalidServiceIdentifier", "a service id has five parts", 400)
    provider = MemberId.parse("/".join(parts[:3]))
    # They travel in headers (X-Road-Service, -Client, Tsunagu-Purpose), which hold ASCII only:
    # checked here, as the provider would, rather than failing to encode them (a 500).
    if not all(services.valid_code(part) for part in parts[3:]):
        raise MeshFault(
            "Client.InvalidServiceIdentifier", "subsystem and code are 1-64 of A-Z a-z 0-9 . _ -"
        )
    if not services.valid_purpose(purpose):
        raise MeshFault("Client.InvalidRequest", "purpose is 1-100 of A-Z a-z 0-9 . _ : -")
    if client is not None:
        try:
            MemberId.parse(client)
        except Exception:
            raise MeshFault(
                "Client.InvalidClientIdentifier", f"{client!r} is not a member id"
            ) from None
    trust = rt.trust("Server.ClientProxy")
    body = json.dumps(
        {
            "service": service_id,
            "event_type": event_type,
            "purpose": purpose,
            "filter": filter or {},
        }
    ).encode()
    target = "/mesh/subscriptions"
    headers = {
        "content-type": "application/json",
        protocol.XROAD_CLIENT: client or rt.member_base,
        protocol.PURPOSE: purpose,
        protocol.XROAD_SERVICE: service_id,
    }
    signed, sent = protocol.sign_message(rt.identity.signer, "POST", target, headers, body)
    sent_hash = sent.request_hash
    try:
        response = http.post(node_url_of(trust, provider) + target, content=body, headers=signed)
    except httpx.HTTPError as exc:
        raise MeshFault(
            "Server.ClientProxy.NetworkError", f"{type(exc).__name__}: {exc}", 502
        ) from None
    reply = check_reply(
        trust, provider, response, "POST", target, sent_hash, rt.settings, rt.check_peer
    )
    data: dict[str, Any] = reply.json()
    if reply.status >= 400:
        raise MeshFault(str(data.get("type")), str(data.get("message")), reply.status)
    return data


def peer_client(rt: NodeRuntime) -> httpx.Client:
    return httpx.Client(
        verify=rt.identity.client_context(),
        timeout=rt.settings.mesh_timeout,
        follow_redirects=False,
    )


# -- worker ---------------------------------------------------------------------------------------


class Worker(threading.Thread):
    """Dispatches the outbox, delivers notifications, forwards the inbox and access records."""

    def __init__(self, rt: NodeRuntime, interval: float | None = None) -> None:
        super().__init__(name="tsunagu-mesh-worker", daemon=True)
        self.rt = rt
        # New work wakes the worker (below); the poll is the safety net and the clock of
        # retries, leases and message-log batches.
        self.interval = rt.settings.mesh_poll_seconds if interval is None else interval
        self.stopping = threading.Event()
        self.pool: ThreadPoolExecutor | None = None  # senders, while run() runs

    def run(self) -> None:
        peers = peer_client(self.rt)
        plain = httpx.Client(timeout=self.rt.settings.mesh_timeout, follow_redirects=False)
        wake = self.rt.wake
        self.pool = pool = ThreadPoolExecutor(
            self.rt.settings.mesh_push_concurrency, thread_name_prefix="tsunagu-mesh-send"
        )
        unregister = outbox.on_commit(wake.set)  # events committed by this process
        # events committed by any process: PostgreSQL's NOTIFY, or SQLite's newest outbox row
        postgres = is_postgres(self.rt.engine)
        listener = _OutboxListener(self.rt, wake) if postgres else _OutboxProbe(self.rt, wake)
        listener.start()
        try:
            while not self.stopping.is_set():
                wake.clear()  # a wake during the round below starts the next one at once
                busy = 0
                try:
                    busy += self.step(peers, plain)
                except Exception:  # a bad round must not end the worker
                    log.exception("mesh worker round failed")
                if not busy:
                    wake.wait(self.interval)
        finally:
            unregister()
            listener.stop()
            pool.shutdown(wait=True)
            peers.close()
            plain.close()

    def step(self, peers: httpx.Client, plain: httpx.Client) -> int:
        with self.rt.write_session() as session:
            busy = push.dispatch(session)
            session.commit()
        busy += push.deliver_due(self.rt, peers, pool=self.pool)
        busy += push.forward_inbox(self.rt, plain, pool=self.pool)
        busy += push.forward_access_records(self.rt)
        busy += messagelog.seal_due(self.rt)  # batch time-stamps of the message log
        return busy

    def stop(self) -> None:
        self.stopping.set()
        self.rt.wake.set()


class _OutboxListener(threading.Thread):
    """LISTEN for the outbox's NOTIFY on PostgreSQL and wake the worker (db.outbox)."""

    def __init__(self, rt: NodeRuntime, wake: threading.Event) -> None:
        super().__init__(name="tsunagu-mesh-outbox-listener", daemon=True)
        self.rt, self.wake = rt, wake
        self.stopping = threading.Event()

    def run(self) -> None:
        import psycopg

        url = self.rt.engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        while not self.stopping.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as connection:
                    connection.execute(f"LISTEN {outbox.NOTIFY_CHANNEL}")
                    self.wake.set()  # anything committed while not listening
                    while not self.stopping.is_set():
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self.wake.set()
            except psycopg.Error as exc:  # the server restarted: listen again; polling covers
                log.warning("outbox listener: %s; reconnecting", exc)
                self.stopping.wait(1.0)

    def stop(self) -> None:
        self.stopping.set()


class _OutboxProbe(_OutboxListener):
    """SQLite has no NOTIFY: read the newest outbox row's ``seq`` (the rowid, so a lookup, not
    a scan) every 0.1 s and wake the worker when it grows — events another process committed
    (``tsunagu corp import`` against the node's file, say). Not ``PRAGMA data_version``: every
    message-log write bumps that, and would start a worker round per request under load."""

    INTERVAL = 0.1

    def run(self) -> None:
        newest = select(func.max(OutboxEvent.seq))
        seen: int | None = None
        while not self.stopping.wait(self.INTERVAL):
            try:
                with self.rt.engine.connect() as connection:
                    current = connection.scalar(newest) or 0
            except Exception as exc:  # the file is busy or away: the poll covers
                log.warning("outbox probe: %s", exc)
                continue
            if seen is not None and current != seen:
                self.wake.set()
            seen = current


@asynccontextmanager
async def node_lifespan(rt: NodeRuntime, worker: bool) -> AsyncIterator[None]:
    thread = Worker(rt) if worker else None
    if thread is not None:
        thread.start()
    try:
        yield
    finally:
        if thread is not None:
            thread.stop()
            thread.join(timeout=5)
        rt.close_writer()
        await rt.peers.aclose()
        await rt.backends.aclose()
        if rt.local is not None:
            await rt.local.aclose()
        rt.hub.close()


# -- the TLS listener ---------------------------------------------------------------------------


class _PeerCert:
    """Adds the ASGI TLS extension (the client certificate chain) to uvicorn's protocols."""

    app: Any

    def _with_peer(self, transport: asyncio.Transport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(True) if ssl_object is not None else None
        chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
        tls = {
            "client_cert_chain": chain,
            "tls_version": None,
            "cipher_suite": None,
            "server_cert": None,
            "client_cert_name": None,
            "client_cert_error": None,
        }
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            extensions = dict(scope.get("extensions") or {})
            extensions["tls"] = tls
            scope["extensions"] = extensions
            await inner(scope, receive, send)

        self.app = app


class PeerCertH11Protocol(H11Protocol, _PeerCert):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._with_peer(transport)


def peer_cert_protocol() -> type[asyncio.Protocol]:
    """The httptools-based protocol (faster) when httptools is installed, else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools ships with uvicorn[standard]
        return PeerCertH11Protocol

    class PeerCertHttpToolsProtocol(HttpToolsProtocol, _PeerCert):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._with_peer(transport)

    return PeerCertHttpToolsProtocol


def serve_node(settings: Settings, local_app: FastAPI, rt: NodeRuntime) -> None:
    """Run the local listener, the mutual-TLS listener and, if configured, the HTTPS listener
    for local systems (mesh.localtls) in one event loop."""
    local = _server(local_app, settings.host, settings.port)
    mesh = _server(
        MeshFront(create_mesh_app(rt)),
        settings.node_mesh_host,
        settings.node_mesh_port,
        rt.identity.server_context(),
        proxy_headers=False,
    )

    servers = [local.serve(), mesh.serve()]
    if settings.node_local_tls_port:
        servers.extend(_local_tls_servers(settings, local_app, rt))

    async def serve_all() -> None:
        await asyncio.gather(*servers)

    # uvloop where it is installed (uvicorn[standard] brings it; not on Windows): uvicorn picks
    # it only in Server.run, and two servers in one loop need serve() under our own runner.
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - platforms without uvloop
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve_all())


def _server(
    app: Any,
    host: str,
    port: int,
    context: ssl.SSLContext | None = None,
    *,
    proxy_headers: bool = True,
) -> Any:
    """A uvicorn server for one listener; with ``context``, TLS that hands the client
    certificate to the app (the ASGI ``tls`` extension)."""
    import uvicorn

    tls: dict[str, Any] = {}
    if context is not None:
        tls = {
            "http": peer_cert_protocol(),
            "ssl_context_factory": lambda _config, _default: context,
        }
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=proxy_headers,
        timeout_graceful_shutdown=5,
        **tls,
    )
    return uvicorn.Server(config)


def _local_tls_servers(settings: Settings, local_app: FastAPI, rt: NodeRuntime) -> list[Any]:
    """The HTTPS listener for local systems, and the task that loads newly registered client
    certificates into its verify store (mesh.localtls)."""

    from .localtls import REFRESH_SECONDS, LocalTls

    tls = LocalTls.create(settings)
    with rt.session() as session:
        tls.refresh(session)
    server = _server(
        local_app, settings.node_local_tls_host, settings.node_local_tls_port, tls.context
    )

    def refresh() -> None:
        with rt.session() as session:
            tls.refresh(session)

    async def keep_loading() -> None:
        while not server.should_exit:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await asyncio.to_thread(refresh)
            except Exception:  # the database may be busy or away: next round
                log.exception("local TLS: could not load registered certificates")

    return [server.serve(), keep_loading()]


def service_dicts(services: list[MeshService]) -> list[dict[str, Any]]:
    return [
        {
            "subsystem": s.subsystem,
            "code": s.code,
            "title": s.title,
            "personal_data": s.personal_data,
            "data_items": s.data_items,
            "event_types": s.event_types,
            "openapi": s.openapi,
        }
        for s in services
    ]
