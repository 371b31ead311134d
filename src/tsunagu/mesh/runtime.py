"""What a running node holds: settings, identity, database, trust-list cache, hub client, HTTP
clients, and per-service metrics."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from tsunagu.db.driver import DriverStatement
from tsunagu.kernel import Settings
from tsunagu.trust.errors import TrustError
from tsunagu.trust.trustlist import TrustList, TrustListCache

from .client import HubClient
from .errors import MeshFault
from .identity import NodeIdentity
from .services import AccessCache
from .transport import NodeHttp
from .writer import GroupWriter

T = TypeVar("T")

TOKEN_TTL = 10.0  # seconds a local system's valid token is trusted without the database


class ServiceMetrics:
    """Prometheus metrics per service and client: requests by status class, and latency."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "tsunagu_mesh_requests",
            "Mesh messages handled, by side, service, client, status",
            ["side", "service", "client", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tsunagu_mesh_request_seconds",
            "Time to handle a mesh message",
            ["side", "service", "client"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )

        # The labelled children, looked up once: prometheus_client's labels() validates and
        # locks on every call (a few µs, twice per message).
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}

    def observe(self, side: str, service: str, client: str, status: int, seconds: float) -> None:
        key = (side, service, client, status // 100)
        children = self._children.get(key)
        if children is None:
            if len(self._children) >= 10_000:  # a bound, though the labels are checked ids
                self._children.clear()
            children = self._children[key] = (
                self.requests.labels(side, service, client, f"{status // 100}xx"),
                self.latency.labels(side, service, client),
            )
        children[0].inc()
        children[1].observe(seconds)


@dataclass
class NodeRuntime:
    settings: Settings
    identity: NodeIdentity
    sessionmaker: sessionmaker[Session]
    trust_cache: TrustListCache
    hub: HubClient
    peers: NodeHttp  # mutual TLS to other nodes
    backends: NodeHttp  # to the node's own backend systems (no client certificate)
    local: httpx.AsyncClient | None = None  # in-process calls to the node's own registry APIs
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    link_key: bytes | None = None
    writer: Callable[[], Session] | None = None  # SQLite: BEGIN IMMEDIATE, for queue work
    # Set to start the worker's next round now rather than at its next poll (new outbox events
    # committed, a notification received).
    wake: threading.Event = field(default_factory=threading.Event)
    access: AccessCache = field(default_factory=AccessCache)  # decisions by access version
    _peers: dict[bytes, tuple[str, str, Any]] = field(default_factory=dict)
    _tokens: dict[str, float] = field(default_factory=dict)
    _writer: GroupWriter | None = None

    @property
    def member_base(self) -> str:
        m = self.identity.member
        return f"{m.instance}/{m.member_class}/{m.code}"

    def trust(self, fault_prefix: str = "Server.ServerProxy") -> TrustList:
        try:
            return self.trust_cache.current()
        except TrustError as exc:
            raise MeshFault(f"{fault_prefix}.OutdatedGlobalConf", exc.detail, 503) from None

    def session(self) -> Session:
        return self.sessionmaker()

    @property
    def engine(self) -> Engine:
        return cast(Engine, self.sessionmaker.kw["bind"])

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(connection)`` in the group-committed transaction of the message-log writer
        (tsunagu.mesh.writer); returns once that transaction is committed."""
        return await self._group_writer().run(fn)

    async def write_row(
        self, statement: DriverStatement, values: dict[str, Any], alone: Callable[[Connection], Any]
    ) -> None:
        """A plain row write in the writer's next batch (``GroupWriter.run_row``): sent with
        the batch's other rows of ``statement``; returns once committed."""
        await self._group_writer().run_row(statement, values, alone)

    def _group_writer(self) -> GroupWriter:
        if self._writer is None:
            self._writer = GroupWriter(self.sessionmaker.kw["bind"])
        return self._writer

    def close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def write_session(self) -> Session:
        """A session for read-then-write work (claiming rows): takes SQLite's lock at BEGIN."""
        return (self.writer or self.sessionmaker)()

    def check_peer(self, trust: TrustList, der: bytes) -> tuple[str, Any]:
        """The member id of a node certificate the trust list vouches for (TrustError if not).

        Chain and revocation checks cost about a tenth of a request's CPU, so the answer is
        kept per certificate for as long as the same signed trust list is current.
        """
        known = self._peers.get(der)
        if known is not None and known[0] == trust.token:  # the same signed list
            return known[1], known[2]
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der)
        member = trust.check_node(cert)
        if len(self._peers) > 10_000:
            self._peers.clear()
        self._peers[der] = (trust.token, member, cert)
        return member, cert

    def token_known(self, token: str, now: float) -> bool:
        """A local system's token checked within the last TOKEN_TTL seconds."""
        expires = self._tokens.get(token)
        return expires is not None and expires > now

    def remember_token(self, token: str, now: float) -> None:
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[token] = now + TOKEN_TTL
