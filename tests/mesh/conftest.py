"""A real federation for the mesh tests: a hub and nodes, each its own process, on loopback
ports, talking HTTP and mutual TLS; node databases on the test database server (SQLite files,
or fresh PostgreSQL databases when TSUNAGU_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine

from tests.conftest import _free_port, _new_database
from tsunagu.demo import DEMO_NODES, Federation
from tsunagu.kernel import Settings, load_settings
from tsunagu.mesh.identity import NodeIdentity

FAST = {
    "TSUNAGU_MESH_TRUST_REFRESH": "1",
    "TSUNAGU_MESH_RETRY_BASE": "0.2",
    "TSUNAGU_MESH_RETRY_MAX": "2",
    "TSUNAGU_MESH_PAUSE_SECONDS": "2",
    "TSUNAGU_RATE_LIMIT_WRITE": "10000/minute",
}


def build(root: Path, names: tuple[str, ...], residents: int = 30,
          databases: bool = True) -> tuple[Federation, list[Callable[[], None]]]:  # fmt: skip
    drops: list[Callable[[], None]] = []
    urls: dict[str, str] = {}
    if databases and os.environ.get("TSUNAGU_TEST_DATABASE_URL"):
        for name in ("hub", *names):
            url, drop = _new_database(root, f"mesh_{name}")
            urls[name] = url
            drops.append(drop)
    nodes = tuple(s for s in DEMO_NODES if s.name in names)
    fed = Federation(
        root,
        hub_port=_free_port(),
        sink_port=_free_port(),
        nodes=nodes,
        seed_hub=False,
        residents=residents,
        database_urls=urls,
        extra_env=FAST,
    )
    for spec in fed.nodes:
        spec.port, spec.mesh_port = _free_port(), _free_port()
    return fed, drops


@dataclass
class Running:
    fed: Federation
    description: dict[str, Any]

    def node(self, name: str) -> dict[str, Any]:
        return dict(self.description["nodes"][name])

    def local(self, name: str) -> httpx.Client:
        node = self.node(name)
        return httpx.Client(
            base_url=node["url"], timeout=60, headers={"Authorization": f"Bearer {node['token']}"}
        )

    def r1(
        self,
        consumer: str,
        service: str,
        *,
        purpose: str | None = "tax-assessment",
        person: str | None = None,
        client: str | None = None,
        method: str = "GET",
        path: str = "",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        node = self.node(consumer)
        sent = {"X-Road-Client": client or node["member"]}
        if purpose is not None:
            sent["Tsunagu-Purpose"] = purpose
        if person is not None:
            sent["Tsunagu-Person"] = person
        sent.update(headers or {})
        with self.local(consumer) as http:
            return http.request(method, f"/r1/{service}{path}", headers=sent, **kwargs)

    def settings(self, name: str) -> Settings:
        """The settings a process of the federation runs with ("hub" or a node's name)."""
        env = self.fed.hub_env() if name == "hub" else self.fed.node_env(self.fed.spec(name))
        return load_settings(
            **{k[8:].lower(): v for k, v in env.items() if k.startswith("TSUNAGU_")}
        )

    def engine(self, name: str) -> Engine:
        """An engine on that process's own database (dispose it after use)."""
        return create_engine(self.settings(name).effective_database_url)

    def identity(self, name: str) -> NodeIdentity:
        """The node's own key and certificate (tests craft messages as that node)."""
        return NodeIdentity.load(self.settings(name))

    def sink(self, name: str) -> list[dict[str, Any]]:
        path = self.fed.root / "webhooks" / f"{name}.jsonl"
        if not path.exists():
            return []
        return [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]

    def hub(self) -> httpx.Client:
        return httpx.Client(base_url=self.description["hub"]["url"], timeout=60)


def wait_for(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout} s (last: {last!r})")


@contextmanager
def started(fed: Federation, drops: list[Callable[[], None]]) -> Iterator[Running]:
    """Start ``fed`` (from :func:`build`); stop it and drop its databases afterwards."""
    try:
        yield Running(fed, fed.start())
    finally:
        fed.stop()
        for drop in drops:
            drop()


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("federation")
    with started(*build(root, ("wakayama", "bunkyo", "nta", "utility"))) as running:
        yield running
