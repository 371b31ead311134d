"""What a running node holds: settings, identity, database, trust-list cache, hub client, HTTP
clients, and per-service metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.orm import Session, sessionmaker

from tsunagu.kernel import Settings
from tsunagu.trust.errors import TrustError
from tsunagu.trust.trustlist import TrustList, TrustListCache

from .client import HubClient
from .errors import MeshFault
from .identity import NodeIdentity


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

    def observe(self, side: str, service: str, client: str, status: int, seconds: float) -> None:
        self.requests.labels(side, service, client, f"{status // 100}xx").inc()
        self.latency.labels(side, service, client).observe(seconds)


@dataclass
class NodeRuntime:
    settings: Settings
    identity: NodeIdentity
    sessionmaker: sessionmaker[Session]
    trust_cache: TrustListCache
    hub: HubClient
    peers: httpx.AsyncClient  # mutual TLS to other nodes
    backends: httpx.AsyncClient  # to the node's own backend systems (no client certificate)
    local_app: Any = None  # the node's own ASGI app, for built-in registry services
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    link_key: bytes | None = None

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
