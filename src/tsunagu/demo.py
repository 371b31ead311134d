"""A demo federation on loopback: a hub and four nodes, each its own process, port, database
and keys — driven only through the ``tsunagu`` command line and the HTTP APIs, as an operator
would. ``tsunagu up`` (and ``make run``) starts it; the tests start smaller ones.

Members (corporate numbers of public bodies are public; the utility is fictional):

========== =============================== ============================================
node       member                          role
========== =============================== ============================================
wakayama   JP/MUN/6000020302015 和歌山市    residents (基本4情報), resident change events
bunkyo     JP/MUN/6000020131059 文京区      residents, address lookup
nta        JP/GOV/7000012050002 国税庁      corporations, corporation change events
utility    JP/COM/5100000000019 つなぐ電力  consumer, subscribes to corporation changes
========== =============================== ============================================

``var/demo/federation.json`` describes the running federation for scripts and tests.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

TSUNAGU = [sys.executable, "-m", "tsunagu"]
# 個人情報保護法 第69条第2項第3号: provision to another administrative organ for its duties.
BASIS_ADMIN = "415AC0000000057/article/69/paragraph/2/item/3"
# 個人情報保護法 第27条第1項第4号: cooperation with a state organ performing its duties.
BASIS_COOPERATION = "415AC0000000057/article/27/paragraph/1/item/4"
# 個人情報保護法 第1条 (purpose of the act) — a non-personal public record needs no special basis,
# yet a rule always names one; the demo cites the act's purpose clause.
BASIS_PUBLIC = "415AC0000000057/article/1"


@dataclass
class NodeSpec:
    name: str
    member: str
    org_name: str
    title: str
    title_en: str
    lg_codes: tuple[str, ...] = ()
    corporations: bool = False
    holds_numbers: bool = False
    port: int = 0
    mesh_port: int = 0
    local_tls_port: int = 0  # nonzero: the node also serves HTTPS to local systems

    @property
    def code(self) -> str:
        return self.member.split("/")[2]

    def register_org_args(self) -> list[str]:
        """``tsunagu admin create-org`` arguments registering this member's organization."""
        args = [
            "admin",
            "create-org",
            self.org_name,
            "--title",
            self.title,
            "--title-en",
            self.title_en,
            "--corporate-number",
            self.code,
            "--update",
        ]
        return args + (["--lg-code", self.lg_codes[0]] if self.lg_codes else [])


DEMO_NODES = (
    NodeSpec(
        "wakayama",
        "JP/MUN/6000020302015",
        "wakayama-city",
        "和歌山市",
        "Wakayama City",
        lg_codes=("302015",),
        holds_numbers=True,
    ),
    NodeSpec(
        "bunkyo",
        "JP/MUN/6000020131059",
        "bunkyo",
        "文京区",
        "Bunkyo City",
        lg_codes=("131059",),
        holds_numbers=True,
    ),
    NodeSpec(
        "nta",
        "JP/GOV/7000012050002",
        "nta",
        "国税庁",
        "National Tax Agency",
        corporations=True,
        holds_numbers=True,
    ),
    NodeSpec(
        "utility",
        "JP/COM/5100000000019",
        "tsunagu-denryoku",
        "つなぐ電力株式会社（架空の事業者）",
        "Tsunagu Power Co. (fictional)",
    ),
)


@dataclass
class Federation:
    """Start, configure and stop a federation under ``root``."""

    root: Path
    hub_port: int = 8000
    base_port: int = 8100
    mesh_base_port: int = 8440
    sink_port: int = 8199
    nodes: tuple[NodeSpec, ...] = DEMO_NODES
    seed_hub: bool = True
    residents: int = 500
    database_urls: dict[str, str] = field(default_factory=dict)  # name -> URL; default SQLite
    extra_env: dict[str, str] = field(default_factory=dict)
    log: Any = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # See interrupt(): a stop asked for while a process was being started.
    _spawning: bool = field(default=False, init=False, repr=False)
    _interrupted: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.nodes = tuple(replace(spec) for spec in self.nodes)  # ports are per federation
        for i, spec in enumerate(self.nodes):
            spec.port = spec.port or self.base_port + i + 1
            spec.mesh_port = spec.mesh_port or self.mesh_base_port + i + 1

    # -- environment ------------------------------------------------------------------------

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}"

    @property
    def sink_url(self) -> str:
        return f"http://127.0.0.1:{self.sink_port}"

    def hub_env(self) -> dict[str, str]:
        env = self._base_env(self.root / "hub", "hub")
        env["TSUNAGU_PORT"] = str(self.hub_port)
        return env

    def node_env(self, spec: NodeSpec) -> dict[str, str]:
        env = self._base_env(self.root / "nodes" / spec.name, spec.name)
        env.update(
            {
                "TSUNAGU_PORT": str(spec.port),
                "TSUNAGU_NODE_MEMBER": spec.member,
                "TSUNAGU_NODE_HUB_URL": self.hub_url,
                "TSUNAGU_NODE_MESH_PORT": str(spec.mesh_port),
                "TSUNAGU_NODE_MESH_URL": f"https://127.0.0.1:{spec.mesh_port}",
                "TSUNAGU_NODE_WEBHOOK_URL": f"{self.sink_url}/{spec.name}",
            }
        )
        if spec.holds_numbers:
            env["TSUNAGU_NODE_LINK_KEY_FILE"] = str(self.root / "link.key")
        if spec.local_tls_port:
            env["TSUNAGU_NODE_LOCAL_TLS_PORT"] = str(spec.local_tls_port)
        return env

    def _base_env(self, data_dir: Path, name: str) -> dict[str, str]:
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TSUNAGU_")}
        env.update(
            {
                "TSUNAGU_DATA_DIR": str(data_dir),
                "TSUNAGU_LOG_LEVEL": "WARNING",
                "TSUNAGU_HOST": "127.0.0.1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if name in self.database_urls:
            env["TSUNAGU_DATABASE_URL"] = self.database_urls[name]
        env.update(self.extra_env)
        return env

    def run(self, env: dict[str, str], *args: str) -> str:
        """Run one ``tsunagu`` command; its stdout, or RuntimeError with its error line."""
        done = subprocess.run(  # noqa: S603 - our own command line, no shell
            [*TSUNAGU, *args], env=env, capture_output=True, text=True, timeout=1800, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"tsunagu {' '.join(args)}: {done.stderr.strip()[-500:]}")
        return done.stdout

    def say(self, text: str) -> None:
        if self.log is not None:
            self.log(text)

    # -- processes ---------------------------------------------------------------------------

    def spawn(self, name: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self._spawning = True
        try:
            with (logs / f"{name}.log").open("ab") as out:  # the child keeps its own descriptor
                process = subprocess.Popen(  # noqa: S603 - our own command line, no shell
                    [*TSUNAGU, *args], env=env, stdout=out, stderr=out, start_new_session=True
                )
            self.processes[name] = process
        finally:
            self._spawning = False
        if self._interrupted:
            raise KeyboardInterrupt
        return process

    def interrupt(self) -> None:
        """Stop setting up, as Ctrl-C would: raises KeyboardInterrupt, for a signal handler to
        call. While a process is being started the interruption waits until it is in
        :attr:`processes`, so that :meth:`stop` stops it too: raised in the middle of
        ``Popen``, it left the new process running, known to no one."""
        if self._spawning:
            self._interrupted = True
        else:
            raise KeyboardInterrupt

    def log_progress(self, name: str) -> str:
        """The latest progress bar (tqdm) or line a process wrote to its log, for people."""
        path = self.root / "logs" / f"{name}.log"
        try:
            with path.open("rb") as log:
                log.seek(max(0, path.stat().st_size - 4096))
                tail = log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        pieces = [p.strip() for p in tail.replace("\r", "\n").split("\n") if p.strip()]
        return pieces[-1][:150] if pieces else ""

    def wait_http(
        self, url: str, timeout: float, name: str, verify: Any = True, show_progress: bool = False
    ) -> None:
        deadline = time.monotonic() + timeout
        shown, last = "", 0.0
        while time.monotonic() < deadline:
            if show_progress and self.log is not None and time.monotonic() - last >= 5:
                line = self.log_progress(name)  # at most every 5 s: a progress report, no flood
                if line and line != shown and not line.startswith("{"):  # not the JSON logs
                    self.log(f"  {name}: {line}")
                    shown, last = line, time.monotonic()
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                tail = (self.root / "logs" / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")
            try:
                if httpx.get(url, timeout=2, verify=verify).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not answer at {url} within {timeout:.0f} s")

    def kill(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name)

    def start_node(
        self,
        spec: NodeSpec,
        *extra: str,
        name: str | None = None,
        ports: tuple[int, int] | None = None,
    ) -> None:
        """Start a node process; ``name`` and ``ports`` start another process of the same node
        (scale-out: same keys and database, its own listeners)."""
        name = name or spec.name
        env = self.node_env(spec)
        if ports is not None:
            env["TSUNAGU_PORT"], env["TSUNAGU_NODE_MESH_PORT"] = str(ports[0]), str(ports[1])
        self.spawn(name, env, "node", *extra)
        self.wait_http(f"http://127.0.0.1:{env['TSUNAGU_PORT']}/healthz", 120, name)

    # -- setting up --------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """Set up (idempotently) and start everything; returns the federation description."""
        self.root.mkdir(parents=True, exist_ok=True)
        link_key = self.root / "link.key"
        if not link_key.exists():
            fd = os.open(link_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        self.spawn(
            "sink",
            dict(os.environ),
            "demo-sink",
            "--port",
            str(self.sink_port),
            "--out",
            str(self.root / "webhooks"),
        )
        hub_env = self.hub_env()
        self.say("hub: migrating and registering the members")
        self.run(hub_env, "migrate")
        for spec in self.nodes:
            args = spec.register_org_args()
            self.run(hub_env, *args)
        self.say("hub: starting (the first start loads the seed data; this takes a while)")
        self.spawn("hub", hub_env, "hub", *([] if self.seed_hub else ["--no-seed"]))
        self.wait_http(f"{self.hub_url}/readyz", 3600, "hub", show_progress=True)
        self.wait_http(f"{self.sink_url}/", 30, "sink")
        tokens: dict[str, str] = {}
        for spec in self.nodes:
            tokens[spec.name] = self._setup_node(spec, hub_env)
        for spec in self.nodes:
            self.say(f"{spec.name}: starting {spec.member}")
            self.start_node(spec)
        description = self._configure(tokens)
        (self.root / "federation.json").write_text(
            json.dumps(description, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        return description

    def _setup_node(self, spec: NodeSpec, hub_env: dict[str, str]) -> str:
        env = self.node_env(spec)
        self.say(f"{spec.name}: keys, certificate, seed data")
        self.run(env, "migrate")
        out = self.run(env, "node", "init", "--member", spec.member, "--hub", self.hub_url)
        if "installed" not in out:
            enrollment = out.strip().splitlines()[-1]
            self.run(hub_env, "hub", "approve", enrollment)
            self.run(env, "node", "init", "--member", spec.member, "--hub", self.hub_url)
        seed = ["node", "seed", "--residents", str(self.residents)]
        for code in spec.lg_codes:
            seed += ["--lg-code", code]
        if spec.corporations:
            seed.append("--corporations")
        self.run(env, *seed)
        self.run(env, *spec.register_org_args())
        token_file = self.root / "nodes" / spec.name / "local-token"
        if not token_file.exists():
            token = (
                self.run(
                    env,
                    "admin",
                    "create-token",
                    "--org",
                    spec.org_name,
                    "--label",
                    "demo local system",
                )
                .strip()
                .splitlines()[-1]
            )
            token_file.write_text(token, encoding="utf-8")
            token_file.chmod(0o600)
        return token_file.read_text(encoding="utf-8").strip()

    def api(
        self,
        spec: NodeSpec,
        token: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200, 201, 409),
    ) -> Any:
        response = httpx.request(
            method,
            f"http://127.0.0.1:{spec.port}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        if response.status_code not in ok:
            raise RuntimeError(
                f"{spec.name} {method} {path}: {response.status_code} {response.text[:500]}"
            )
        return response.json() if response.content else None

    def spec(self, name: str) -> NodeSpec:
        return next(s for s in self.nodes if s.name == name)

    def _configure(self, tokens: dict[str, str]) -> dict[str, Any]:
        names = {s.name for s in self.nodes}
        services: dict[str, list[dict[str, Any]]] = {n: [] for n in names}

        def declare(name: str, body: dict[str, Any]) -> int:
            spec = self.spec(name)
            self.api(spec, tokens[name], "POST", "/api/v1/mesh/services", body)
            listed = self.api(spec, tokens[name], "GET", "/api/v1/mesh/services")["services"]
            found = next(s for s in listed if s["code"] == body["code"])
            services[name].append(found)
            return int(found["id"])

        def allow(
            name: str,
            service: int,
            client: str,
            purposes: list[str],
            basis: str,
            subscribe: bool = False,
        ) -> None:
            self.api(
                self.spec(name),
                tokens[name],
                "POST",
                f"/api/v1/mesh/services/{service}/rules",
                {
                    "client": client,
                    "purposes": purposes,
                    "legal_basis": basis,
                    "allow_subscribe": subscribe,
                },
            )

        members = {s.name: s.member for s in self.nodes}
        samples: dict[str, Any] = {}
        if "wakayama" in names:
            basic4 = declare(
                "wakayama",
                {
                    "subsystem": "residents",
                    "code": "basic4",
                    "title": "住民基本4情報の照会",
                    "backend": "resident",
                    "event_types": ["resident.person."],
                },
            )
            for client, purposes in (
                ("nta", ["tax-assessment", "tax-address-update"]),
                ("bunkyo", ["resident-move-in"]),
            ):
                if client in names:
                    allow(
                        "wakayama", basic4, members[client], purposes, BASIS_ADMIN, subscribe=True
                    )
            self.say("wakayama: linking residents with the hub's pseudonym service")
            self.run(
                self.node_env(self.spec("wakayama")), "node", "persons-sync", "--lg-code", "302015"
            )
            numbers = self.run(
                self.node_env(self.spec("wakayama")),
                "residents",
                "numbers",
                "--lg-code",
                "302015",
                "--limit",
                "3",
            ).split("\n")
            people = [line.split() for line in numbers if line.strip()]
            samples["wakayama_residents"] = []
            for i, (resident_id, number) in enumerate(people):
                entry: dict[str, Any] = {"wakayama_resident_id": resident_id}
                for holder in ("nta", "bunkyo"):
                    if holder in names:
                        got = self.api(
                            self.spec(holder),
                            tokens[holder],
                            "POST",
                            "/api/v1/mesh/persons",
                            {"local_id": f"demo-{holder}-{i + 1}", "individual_number": number},
                            ok=(201,),
                        )
                        entry[f"{holder}_pseudonym"] = got["pseudonym"]
                samples["wakayama_residents"].append(entry)
            for client, purpose in (("nta", "tax-address-update"), ("bunkyo", "resident-move-in")):
                if client in names:
                    self.api(
                        self.spec(client),
                        tokens[client],
                        "POST",
                        "/api/v1/mesh/subscriptions",
                        {
                            "service": f"{members['wakayama']}/residents/basic4",
                            "event_type": "resident.person.",
                            "purpose": purpose,
                        },
                    )
        if "bunkyo" in names:
            address = declare(
                "bunkyo",
                {
                    "subsystem": "address",
                    "code": "lookup",
                    "title": "住所（町字）の照会",
                    "backend": "address",
                },
            )
            for client in ("nta", "utility", "wakayama"):
                if client in names:
                    allow("bunkyo", address, members[client], ["address-lookup"], BASIS_PUBLIC)
        if "nta" in names:
            corp = declare(
                "nta",
                {
                    "subsystem": "houjin",
                    "code": "corporations",
                    "title": "法人番号・商号・所在地の照会",
                    "backend": "corporation",
                    "event_types": ["corporation."],
                },
            )
            for client in ("utility", "wakayama", "bunkyo"):
                if client in names:
                    allow(
                        "nta",
                        corp,
                        members[client],
                        ["customer-check", "corporate-record"],
                        BASIS_PUBLIC,
                        subscribe=True,
                    )
            if "utility" in names:
                self.api(
                    self.spec("utility"),
                    tokens["utility"],
                    "POST",
                    "/api/v1/mesh/subscriptions",
                    {
                        "service": f"{members['nta']}/houjin/corporations",
                        "event_type": "corporation.",
                        "purpose": "customer-check",
                    },
                )
        return {
            "hub": {"url": self.hub_url, "trust_list": f"{self.hub_url}/trust/list"},
            "webhook_sink": self.sink_url,
            "nodes": {
                spec.name: {
                    "member": spec.member,
                    "title": spec.title,
                    "url": f"http://127.0.0.1:{spec.port}",
                    "mesh_url": f"https://127.0.0.1:{spec.mesh_port}",
                    **(
                        {"local_tls_url": f"https://127.0.0.1:{spec.local_tls_port}"}
                        if spec.local_tls_port
                        else {}
                    ),
                    "token": tokens[spec.name],
                    "webhook_log": str(self.root / "webhooks" / f"{spec.name}.jsonl"),
                    "services": [s["service_id"] for s in services[spec.name]],
                }
                for spec in self.nodes
            },
            "samples": samples,
            "legal_basis": {"administrative": BASIS_ADMIN, "public": BASIS_PUBLIC},
        }


def try_text(description: dict[str, Any]) -> str:
    """What to try, printed by ``tsunagu up``."""
    nodes = description["nodes"]
    lines = [f"hub (catalog, trust list, transparency log): {description['hub']['url']}/"]
    for name, node in nodes.items():
        lines.append(
            f"  node {name:9} {node['member']:22} local {node['url']}  mesh {node['mesh_url']}"
        )
    sample = (description.get("samples", {}).get("wakayama_residents") or [{}])[0]
    if "nta" in nodes and "wakayama" in nodes and sample.get("nta_pseudonym"):
        nta, wak = nodes["nta"], nodes["wakayama"]
        lines += [
            "",
            "国税庁 asks 和歌山市 for a resident's address (allowed purpose):",
            f"  curl -s {nta['url']}/r1/{wak['member']}/residents/basic4?items=name,address \\",
            f"    -H 'Authorization: Bearer {nta['token']}' \\",
            f"    -H 'X-Road-Client: {nta['member']}' -H 'Tsunagu-Purpose: tax-assessment' \\",
            f"    -H 'Tsunagu-Person: {sample['nta_pseudonym']}'",
            "The same with -H 'Tsunagu-Purpose: marketing' is refused "
            "(Server.ServerProxy.AccessDenied).",
            f"Who looked at the person: {description['hub']['url']}/log/checkpoint and the "
            "transparency-log API (docs/mesh.md).",
            "",
            f"Everything above, for scripts: {description.get('file', 'var/demo/federation.json')}",
        ]
    return "\n".join(lines)
