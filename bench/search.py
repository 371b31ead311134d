"""Search benchmark: package_search with facets at 1M datasets on SQLite, PostgreSQL, the
tantivy engine and Datasette.

    python -m bench.search --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python -m bench.search --quick            # 20,000 datasets
    python -m bench.search --size 200000 --keep
    python -m bench.search --systems inproc-tantivy,inproc-sqlite,datasette   # only these

Writes docs/benchmarks.md (with docs/benchmarks-analysis.md included when present).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tsunagu.catalog import SearchQuery, search_datasets
from tsunagu.db import current_revision, make_engine, make_sessionmaker, migrate

from .data import GENERATOR_VERSION, load_vocabulary
from .load import load_datasette, load_tsunagu, read_meta
from .search_tantivy import compare, in_process_tantivy, index_dir, prepare_tantivy

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / ".data"
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Catalog search (package_search)"
ANALYSIS = ROOT / "docs" / "benchmarks-analysis.md"
BIN = Path(sys.executable).parent

QUERIES: dict[str, list[str]] = {
    "1 character": ["税", "市", "町", "橋"],
    "2 characters": ["人口", "バス", "保育", "世帯"],
    "3+ characters": ["避難所", "人口統計", "介護保険", "保育所"],
}
FACETS = ("organization", "tags", "res_format", "license_id", "municipality")
TARGET_MS = 50.0
SYSTEMS = ("inproc-sqlite", "inproc-pg", "inproc-tantivy", "http-sqlite", "http-pg",
           "http-tantivy", "datasette")  # fmt: skip


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Series:
    """Latencies (ms) of one system for one query."""

    samples: list[float] = field(default_factory=list)
    hits: int | None = None
    note: str = ""


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


# --------------------------------------------------------------------------- databases


def migrate_cached(engine: Engine) -> None:
    """Apply migrations newer than a cached bench database; note their time in bench_meta."""
    before = current_revision(engine)
    t = time.perf_counter()
    migrate(engine)
    after = current_revision(engine)
    if after != before:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO bench_meta (key, value) VALUES (:k, :v)"),
                # bench_meta.key is VARCHAR(50); several heads make a long revision string.
                {"k": f"later_migration_{after}"[:50], "v": f"{time.perf_counter() - t:.3f}"},
            )


def sqlite_url(size: int) -> tuple[str, Path]:
    path = DATA / f"tsunagu-g{GENERATOR_VERSION}-{size}.sqlite3"
    return f"sqlite:///{path}", path


def prepare_sqlite(size: int, vocab: Any) -> dict[str, Any]:
    url, path = sqlite_url(size)
    engine = make_engine(url)
    meta = read_meta(engine)
    if meta.get("generator") == str(GENERATOR_VERSION) and meta.get("size") == str(size):
        log(f"SQLite: reusing {path.name}")
        migrate_cached(engine)
        engine.dispose()
        cached = True
    else:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        log(f"SQLite: loading {size:,} datasets into {path.name}")
        load_tsunagu(url, vocab, size, log)
        cached = False
    engine = make_engine(url)
    meta = read_meta(engine)
    with engine.connect() as conn:
        # Pages in use (a migration that rebuilt a table leaves free pages until VACUUM).
        used = conn.exec_driver_sql(
            "SELECT (page_count - freelist_count) * page_size"
            " FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()"
        ).scalar_one()
    engine.dispose()
    return {"url": url, "bytes": int(used), "meta": meta, "cached": cached}


def prepare_postgres(pg_url: str, size: int, vocab: Any, keep: bool) -> dict[str, Any]:
    base = make_url(pg_url)
    name = "tsunagu_bench"
    url = base.set(database=name).render_as_string(hide_password=False)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
    meta: dict[str, str] = {}
    if exists:
        eng = make_engine(url)
        meta = read_meta(eng)
        eng.dispose()
    cached = meta.get("generator") == str(GENERATOR_VERSION) and meta.get("size") == str(size)
    if cached:
        log(f"PostgreSQL: reusing database {name} (kept by an earlier --keep run)")
        eng = make_engine(url)
        migrate_cached(eng)
        eng.dispose()
    else:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        log(f"PostgreSQL: loading {size:,} datasets into {name}")
        load_tsunagu(url, vocab, size, log)
    eng = make_engine(url)
    meta = read_meta(eng)
    with eng.connect() as conn:
        db_bytes = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        settings = {
            k: conn.execute(text(f"SHOW {k}")).scalar_one()
            for k in (
                "shared_buffers",
                "work_mem",
                "max_parallel_workers_per_gather",
                "effective_cache_size",
                "jit",
            )
        }
    eng.dispose()
    admin.dispose()
    return {
        "url": url,
        "bytes": db_bytes,
        "meta": meta,
        "cached": cached,
        "name": name,
        "base": base,
        "settings": settings,
    }


def drop_postgres(info: dict[str, Any]) -> None:
    admin = create_engine(info["base"], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{info["name"]}" WITH (FORCE)'))
    admin.dispose()


def prepare_datasette(size: int, vocab: Any) -> dict[str, Any]:
    path = DATA / f"datasette-g{GENERATOR_VERSION}-{size}.db"
    timings: dict[str, float] = {}
    cached = path.exists()
    sidecar = path.with_suffix(".json")
    if cached:
        log(f"Datasette: reusing {path.name}")
        if sidecar.exists():
            timings = json.loads(sidecar.read_text())
    else:
        log(f"Datasette: loading {size:,} rows into {path.name}")
        timings = load_datasette(path, vocab, size, log)
        sidecar.write_text(json.dumps(timings))
    return {"path": path, "bytes": path.stat().st_size, "timings": timings, "cached": cached}


def substring_hits(path: Path, q: str) -> int:
    """Reference: datasets whose title, description, organization or tags contain ``q``."""
    db = sqlite3.connect(path)
    try:
        n = db.execute(
            "SELECT count(*) FROM datasets WHERE instr(title || ' ' || notes || ' ' ||"
            " organization || ' ' || tags, ?) > 0",
            (q,),
        ).fetchone()[0]
    finally:
        db.close()
    return int(n)


# --------------------------------------------------------------------------- measuring


def measure(fn: Callable[[], int | None], reps: int, budget_s: float, warmup: int) -> Series:
    series = Series()
    t0 = time.perf_counter()
    for _ in range(warmup):
        series.hits = fn()
        if time.perf_counter() - t0 > budget_s / 4:  # slow query: one warm-up call is enough
            break
    deadline = time.perf_counter() + budget_s
    for i in range(reps):
        t = time.perf_counter()
        series.hits = fn()
        series.samples.append((time.perf_counter() - t) * 1000)
        if i >= 4 and time.perf_counter() > deadline:
            break
    return series


def in_process(url: str) -> tuple[Callable[[str], Callable[[], int]], Callable[[], None]]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)

    def runner(q: str) -> Callable[[], int]:
        query = SearchQuery(q=q, facet_fields=FACETS, rows=20)

        def run() -> int:
            with sessions() as session:
                return search_datasets(session, query).count

        return run

    return runner, engine.dispose


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {url}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=5)
            return
        time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not start")


@contextlib.contextmanager
def server(cmd: list[str], env: dict[str, str], probe: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(  # noqa: S603 - our own venv binaries
        cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_http(probe, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def tsunagu_server(url: str, size: int, engine: str = "database") -> Iterator[str]:
    port = free_port()
    env = {
        "TSUNAGU_DATABASE_URL": url,
        "TSUNAGU_RATE_LIMIT_SEARCH": "1000000/minute",  # the benchmark is one client
        "TSUNAGU_LOG_LEVEL": "WARNING",
        "TSUNAGU_DATA_DIR": str(DATA / "var"),
        "TSUNAGU_SEARCH_ENGINE": engine,
    }
    if engine == "tantivy":  # the index built by prepare_tantivy, in data_dir/search
        env["TSUNAGU_DATA_DIR"] = str(index_dir(size).parent)
    cmd = [str(BIN / "tsunagu"), "serve", "--no-seed", "--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with server(cmd, env, base + "/openapi.json"):
        yield base


@contextlib.contextmanager
def datasette_server(path: Path) -> Iterator[str]:
    port = free_port()
    cmd = [
        str(BIN / "datasette"),
        "serve",
        str(path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--setting",
        "sql_time_limit_ms",
        "60000",
        "--setting",
        "facet_time_limit_ms",
        "60000",
        "--setting",
        "suggest_facets",
        "off",
    ]
    base = f"http://127.0.0.1:{port}"
    with server(cmd, {}, base + "/-/versions.json"):
        yield base


def tsunagu_http(client: httpx.Client, base: str) -> Callable[[str], Callable[[], int | None]]:
    def runner(q: str) -> Callable[[], int | None]:
        params = {"q": q, "facet.field": json.dumps(list(FACETS)), "rows": "20"}

        def run() -> int | None:
            r = client.get(base + "/api/3/action/package_search", params=params)
            r.raise_for_status()
            body = r.json()
            if not body.get("success") or "search_facets" not in body["result"]:
                raise RuntimeError(f"unexpected package_search answer: {str(body)[:300]}")
            return int(body["result"]["count"])

        return run

    return runner


def datasette_http(
    client: httpx.Client, base: str, db: str
) -> Callable[[str], Callable[[], int | None]]:
    def runner(q: str) -> Callable[[], int | None]:
        params = [
            ("_search", q),
            ("_facet", "organization"),
            ("_facet", "format"),
            ("_facet", "license"),
            ("_size", "20"),
        ]

        def run() -> int | None:
            r = client.get(f"{base}/{db}/datasets.json", params=params)
            r.raise_for_status()
            body = r.json()
            if body.get("facets_timed_out"):
                raise RuntimeError(f"Datasette facets timed out: {body['facets_timed_out']}")
            n = body.get("filtered_table_rows_count")
            return None if n is None else int(n)

        return run

    return runner


def endpoint_available(base: str) -> bool:
    r = httpx.get(
        base + "/api/3/action/package_search", params={"q": "市", "rows": "1"}, timeout=120
    )
    return r.status_code == 200 and bool(r.json().get("success"))


# --------------------------------------------------------------------------- report


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def fmt_ms(v: float) -> str:
    return "–" if v != v else (f"{v:.1f}" if v < 100 else f"{v:.0f}")


def mib(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MiB"


def write_report(ctx: dict[str, Any]) -> str:
    res: dict[str, dict[str, Series]] = ctx["results"]  # system -> query -> series
    systems = [s for s in ctx["systems"] if s in res]
    lines: list[str] = []
    w = lines.append
    size = ctx["size"]
    w(SECTION)
    w("")
    w(
        "Generated by `make bench` (`python -m bench.search`); rerun to regenerate this section. "
        "Numbers are from one run on a shared, noisy machine: they describe this run, nothing more."
    )
    w("")
    if size != 1_000_000:
        w(f"**Size of this run: {size:,} datasets** (not the 1,000,000 target size).")
        w("")
    w("### Machine")
    w("")
    m = ctx["machine"]
    w(f"- Date: {ctx['date']}")
    w(f"- CPU: {m['cpu']} — `nproc` = {m['nproc']}; memory {m['memory']}; {m['os']}")
    w(
        f"- Python {m['python']}, SQLite {m['sqlite']}, "
        f"{ctx.get('pg_version', 'PostgreSQL: not run')}"
    )
    w(f"- Datasette {ctx.get('datasette_version', '?')}")
    if ctx.get("pg_settings"):
        w(
            "- PostgreSQL settings (server defaults, untuned): "
            + ", ".join(f"`{k}={v}`" for k, v in ctx["pg_settings"].items())
        )
    w("")
    w("### Method")
    w("")
    v = ctx["vocab_stats"]
    w(
        f"- **Data**: {size:,} datasets generated deterministically (seeded RNG, generator "
        f"version {GENERATOR_VERSION}). Titles and descriptions combine real municipality names "
        f"(ABR `mt_city_all.csv.zip`, {ctx['n_muni']:,} municipalities = organizations, one each) "
        f"with {v['terms']:,} real data terms harvested from the Tokyo Metropolitan Government "
        f"CKAN dump titles ({v['tokyo_title_pieces']:,} distinct title pieces) and data.go.jp's "
        f"tag "
        f"list ({v['dgj_tags']:,} tags); {v['terms_added']} of the query terms were missing from "
        f"the harvest and were added. Tags: {v['tags']} real tags (data.go.jp + Tokyo); formats: "
        f"{v['formats']} with data.go.jp's format shares; licences with data.go.jp's licence "
        f"shares; one municipality code per dataset. Titles join the terms the way real titles do "
        f"(mostly no spaces: `大阪市旭区・世帯統計（平成26年度）`)."
    )
    w(
        "- **Load**: Alembic migrations (`tsunagu.db.migrate`), then per batch of 10,000: "
        "SQLAlchemy "
        "core executemany into `dataset`, `dataset_tag`, `dataset_municipality`, `distribution`, "
        "and `tsunagu.catalog.search.index_documents` (our tokenizer, FTS5 / tsvector rows and "
        "facet rows). The facet `(field, value, dataset_pk)` index and, on PostgreSQL, the GIN "
        "index "
        "are dropped for the load and built once afterwards; then FTS5 `optimize` + `ANALYZE` "
        "(SQLite) or `VACUUM ANALYZE` (PostgreSQL)."
    )
    w(
        "- **Datasette**: the same datasets as one plain table `datasets(id, title, notes, "
        "organization, tags, format, license, municipality)` with the FTS5 table that "
        "sqlite-utils' `enable_fts([...title, notes, organization, tags])` creates (default "
        "`unicode61` tokenizer, external content; sqlite-utils is not installed here, so the bench "
        "runs the same two SQL statements). Served by a real `datasette serve` on a loopback port "
        "with `sql_time_limit_ms=60000`, `facet_time_limit_ms=60000` (so its counts and facets are "
        "computed, not timed out) and `suggest_facets=off`. Request: "
        "`/<db>/datasets.json?_search=<q>&_facet=organization&_facet=format&_facet=license&_size=20`."
    )
    w(
        f"- **Query**: `package_search` with facets {', '.join(FACETS)}, rows=20, relevance "
        f"order. In-process = `tsunagu.catalog.search_datasets` with a new session per call; "
        f"HTTP = "
        f"`GET /api/3/action/package_search?q=…&facet.field=[…]&rows=20` on `tsunagu serve "
        f"--no-seed` (uvicorn subprocess), one keep-alive client, sequential requests."
    )
    if ctx.get("tantivy_info"):
        w(
            "- **tantivy**: `TSUNAGU_SEARCH_ENGINE=tantivy` (`tsunagu.catalog.search_tantivy`). "
            "Its index is built from the SQLite bench database (the token strings stored in "
            "`dataset_fts`, the `dataset_facet` rows, the dataset columns), one segment after "
            "merging. Each call still runs the engine's consistency probe on SQLite (one indexed "
            "`SELECT` on `search_change`) before searching. Facet counts are terms aggregations "
            "on fast fields with every bucket requested (exact)."
        )
    w(
        f"- **Repetitions**: per query {ctx['warmup']} warm-up calls (1 if it took over a quarter "
        f"of the budget), then up to {ctx['reps']} timed "
        f"calls (at least 5; stops early after a {ctx['budget']:.0f} s budget per query and "
        f"system). "
        f"In-process systems alternate query by query; over HTTP our server and Datasette "
        f"alternate query by query in the same run. "
        f"p50/p95 per class are over all samples of that class's queries."
    )
    w(
        f"- **Target**: p95 ≤ {TARGET_MS:.0f} ms at 1M datasets for every query class, and no "
        "slower than Datasette."
    )
    w("")
    w("### Latency (ms) per query class")
    w("")
    header = "| System | " + " | ".join(f"{c} p50 | {c} p95" for c in QUERIES) + " | samples |"
    w(header)
    w("|" + "---|" * (2 + 2 * len(QUERIES)))
    class_p95: dict[str, dict[str, float]] = {}
    for s in systems:
        cells = []
        n = 0
        for cls, qs in QUERIES.items():
            samples = [x for q in qs if q in res[s] for x in res[s][q].samples]
            n += len(samples)
            class_p95.setdefault(s, {})[cls] = pct(samples, 95)
            cells += [fmt_ms(pct(samples, 50)), fmt_ms(pct(samples, 95))]
        w(f"| {ctx['labels'][s]} | " + " | ".join(cells) + f" | {n} |")
    w("")
    w(
        "Class columns pool every sample of the class's queries. Slow queries get fewer samples "
        "within the time budget, so a class p50 leans towards its fast queries: read the "
        "per-query table for any one query."
    )
    w("")
    w("### Hits found, as a share of the reference")
    w("")
    w(
        "Sum of hit counts over the class's queries ÷ sum of reference counts (see below). A speed "
        "comparison only means something where both systems find the same datasets."
    )
    w("")
    w("| System | " + " | ".join(QUERIES) + " |")
    w("|---|" + "---|" * len(QUERIES))
    for s in systems:
        cells = []
        for qs in QUERIES.values():
            found = [res[s][q].hits for q in qs if q in res[s]]
            ref = sum(ctx["reference"].get(q, 0) for q in qs)
            if not found or any(h is None for h in found) or not ref:
                cells.append("–")
            else:
                cells.append(f"{sum(h or 0 for h in found) / ref:.0%}")
        w(f"| {ctx['labels'][s]} | " + " | ".join(cells) + " |")
    w("")
    w("### Per query: p50 / p95 (ms) and hits")
    w("")
    w(
        "`reference` = datasets whose title, description, organization name or tags contain the "
        "query string (SQL `instr`, computed once on the Datasette table). Our bigram AND can also "
        "match a 3+-character query whose bigrams occur separately, so it may exceed the "
        "reference; "
        "Datasette's `unicode61` tokenizer treats a run of Japanese text as one word, so it only "
        "finds datasets where the query is a whole space/punctuation-delimited word."
    )
    w("")
    w("| Query | reference | " + " | ".join(f"{ctx['labels'][s]}" for s in systems) + " |")
    w("|---|---|" + "---|" * len(systems))
    for _cls, qs in QUERIES.items():
        for q in qs:
            cells = []
            for s in systems:
                ser = res[s].get(q)
                if ser is None or not ser.samples:
                    cells.append(ser.note if ser else "–")
                    continue
                cells.append(
                    f"{fmt_ms(pct(ser.samples, 50))} / {fmt_ms(pct(ser.samples, 95))} ms, "
                    f"{ser.hits if ser.hits is not None else '?'} hits"
                )
            w(f"| {q} | {ctx['reference'].get(q, '?'):,} | " + " | ".join(cells) + " |")
    w("")
    w("### Side-by-side ratios (same run)")
    w("")
    pairs = ctx["pairs"]
    if pairs:
        w("p95 of the first ÷ p95 of the second per class (below 1 = the first is faster):")
        w("")
        w("| Pair | " + " | ".join(QUERIES) + " |")
        w("|---|" + "---|" * len(QUERIES))
        for ours, theirs in pairs:
            if ours in class_p95 and theirs in class_p95:
                cells = [f"{class_p95[ours][c] / class_p95[theirs][c]:.2f}" for c in QUERIES]
                w(
                    f"| {ctx['labels'][ours]} ÷ {ctx['labels'][theirs]} | "
                    + " | ".join(cells)
                    + " |"
                )
    else:
        w("No HTTP comparison in this run.")
    for note in ctx["notes"]:
        w("")
        w(note)
    w("")
    w("### Target check")
    w("")
    for s in systems:
        if s.startswith("datasette"):
            continue
        worst = max(class_p95[s].values())
        met = [c for c, p in class_p95[s].items() if p <= TARGET_MS]
        missed = [f"{c} (p95 {fmt_ms(p)} ms)" for c, p in class_p95[s].items() if p > TARGET_MS]
        if not missed:
            w(
                f"- {ctx['labels'][s]}: p95 ≤ {TARGET_MS:.0f} ms met for every class "
                f"(worst {fmt_ms(worst)} ms)."
            )
        else:
            w(
                f"- {ctx['labels'][s]}: **not met** for {', '.join(missed)}; "
                f"met for {', '.join(met) or 'no class'}."
            )
    if size != 1_000_000:
        w(
            f"- These numbers are at {size:,} datasets, so they do not show whether the 1M "
            "target is met."
        )
    w("")
    w("### Load, index and size")
    w("")
    w(
        "| Database | migrate | insert rows | index_documents | build indexes "
        "| optimize/analyze | total | size |"
    )
    w("|---|---|---|---|---|---|---|---|")
    for label, info in ctx["loads"]:
        mt = info["meta"]
        keys = [
            "t_migrate",
            "t_insert_rows",
            "t_index_documents",
            "t_build_indexes",
            "t_optimize_analyze",
        ]
        vals = [float(mt.get(k, "nan")) for k in keys]
        total = sum(x for x in vals if x == x)
        cells = [f"{x:.0f} s" if x == x else "–" for x in vals]
        cached = " (cached from an earlier run)" if info["cached"] else ""
        w(
            f"| {label}{cached} | "
            + " | ".join(cells)
            + f" | {total:.0f} s | {mib(info['bytes'])} |"
        )
    for label, info in ctx["loads"]:
        for k, v in sorted(info["meta"].items()):
            if k.startswith("later_migration_"):
                w(
                    f"| {label}: migration {k.removeprefix('later_migration_')} applied to the "
                    "loaded database "
                    f"| {float(v):.0f} s | | | | | | |"
                )
    tv = ctx.get("tantivy_info")
    if tv:
        build = tv["timings"].get("build_s", float("nan"))
        cached = ", cached from an earlier run" if tv["cached"] else ""
        w(
            f"| tantivy index from the SQLite database ({tv['docs']:,} documents, "
            f"{tv['segments']} segment(s){cached}) | – | – | {build:.0f} s | – | – "
            f"| {build:.0f} s | {mib(tv['bytes'])} |"
        )
    ds = ctx.get("datasette_info")
    if ds:
        t = ds["timings"]
        when = (
            f"insert {t['insert_rows']:.0f} s + FTS {t['fts']:.0f} s" if t else "load time unknown"
        )
        if ds["cached"]:
            when += ", cached from an earlier run"
        w(f"| Datasette table ({when}) | – | – | – | – | – | – | {mib(ds['bytes'])} |")
    w("")
    if "tantivy_differ" in ctx:
        differ = ctx["tantivy_differ"]
        w(
            "tantivy against SQLite on this data (count, first 20 hits sorted by name, the five "
            "facets), every benchmark query: "
            + (f"**differs** for {', '.join(differ)}." if differ else "identical.")
        )
        w("")
    w(f"Whole benchmark run: {ctx['elapsed'] / 60:.1f} min.")
    w("")
    if ANALYSIS.exists():
        w(ANALYSIS.read_text(encoding="utf-8").rstrip())
        w("")
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's section of the shared report, keeping the other benchmarks'."""
    doc = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = section.rstrip("\n") + "\n"
    if SECTION in doc:
        head, _, rest = doc.partition(SECTION)
        tail = rest.split("\n## ", 1)
        doc = head + section + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:  # first section after the title
        title, sep, rest = doc.partition("\n")
        doc = title + sep + "\n" + section + ("\n" + rest.lstrip("\n") if rest.strip() else "")
    path.write_text(doc.rstrip("\n") + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- saved results

LAST = DATA / "search-last-run.json"


def save_results(ctx: dict[str, Any]) -> None:
    """Keep what the report needs, so ``--rewrite`` can regenerate it without measuring."""

    def plain(value: Any) -> Any:
        if isinstance(value, Series):
            return {"samples": value.samples, "hits": value.hits, "note": value.note}
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items() if k not in ("search", "base")}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    LAST.write_text(json.dumps(plain(ctx), ensure_ascii=False), encoding="utf-8")


def load_results() -> dict[str, Any]:
    ctx: dict[str, Any] = json.loads(LAST.read_text(encoding="utf-8"))
    ctx["results"] = {
        system: {q: Series(**ser) for q, ser in queries.items()}
        for system, queries in ctx["results"].items()
    }
    ctx["loads"] = [tuple(x) for x in ctx["loads"]]
    ctx["pairs"] = [tuple(x) for x in ctx["pairs"]]
    return ctx


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--pg-url", default="", help="PostgreSQL server (a database tsunagu_bench is created there)"
    )
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="20,000 datasets")
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL bench database")
    ap.add_argument("--reps", type=int, default=30, help="timed calls per query and system")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--budget", type=float, default=10.0, help="seconds per query and system")
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument("--load-only", action="store_true", help="build the databases, measure nothing")
    ap.add_argument("--output", type=Path, default=DOC)
    ap.add_argument(
        "--rewrite",
        action="store_true",
        help="only rewrite the report from the last run's saved results (after editing the "
        "analysis)",
    )
    ap.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help="comma-separated subset of: " + ", ".join(SYSTEMS),
    )
    args = ap.parse_args(argv)
    wanted = [x.strip() for x in args.systems.split(",") if x.strip()]
    unknown = sorted(set(wanted) - set(SYSTEMS))
    if unknown:
        ap.error(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
    if args.no_http:
        wanted = [x for x in wanted if x.startswith("inproc-")]
    if args.rewrite:
        ctx_saved = load_results()
        write_section(args.output, write_report(ctx_saved))
        log(f"rewrote {args.output} from {LAST}")
        return 0
    size = 20_000 if args.quick else args.size
    started = time.perf_counter()
    DATA.mkdir(parents=True, exist_ok=True)
    vocab = load_vocabulary()
    ctx: dict[str, Any] = {
        "size": size,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "vocab_stats": vocab.stats,
        "n_muni": len(vocab.municipalities),
        "reps": args.reps,
        "warmup": args.warmup,
        "budget": args.budget,
        "results": {},
        "labels": {},
        "systems": [],
        "pairs": [],
        "notes": [],
        "loads": [],
    }
    ctx["datasette_version"] = (
        subprocess.run(  # noqa: S603
            [str(BIN / "datasette"), "--version"], capture_output=True, text=True, check=False
        )
        .stdout.strip()
        .split()[-1]
    )
    res: dict[str, dict[str, Series]] = ctx["results"]

    backends: list[tuple[str, str, dict[str, Any]]] = []
    sq = prepare_sqlite(size, vocab)
    backends.append(("sqlite", "SQLite", sq))
    ctx["loads"].append(("tsunagu SQLite", sq))
    pg: dict[str, Any] | None = None
    if args.pg_url and {"inproc-pg", "http-pg"} & set(wanted):
        pg = prepare_postgres(args.pg_url, size, vocab, args.keep)
        backends.append(("pg", "PostgreSQL", pg))
        ctx["loads"].append(("tsunagu PostgreSQL", pg))
        ctx["pg_settings"] = pg["settings"]
        eng = make_engine(pg["url"])
        with eng.connect() as conn:
            ctx["pg_version"] = "PostgreSQL " + str(
                conn.execute(text("SHOW server_version")).scalar_one()
            )
        eng.dispose()
    tv: dict[str, Any] | None = None
    if {"inproc-tantivy", "http-tantivy"} & set(wanted):
        tv = prepare_tantivy(sq["url"], size, log)
        backends.append(("tantivy", "tantivy", tv))
        ctx["tantivy_info"] = tv
    dsi = prepare_datasette(size, vocab)
    ctx["datasette_info"] = dsi
    if args.load_only:
        log(f"databases ready in {(time.perf_counter() - started) / 60:.1f} min")
        return 0
    ctx["reference"] = {q: substring_hits(dsi["path"], q) for qs in QUERIES.values() for q in qs}
    if tv is not None:
        queries = [q for qs in QUERIES.values() for q in qs]
        ctx["tantivy_differ"] = compare(sq["url"], tv["search"], queries, FACETS)
        log(f"tantivy answers differing from SQLite's: {ctx['tantivy_differ']}")

    try:
        # (a) in-process, systems alternating query by query (the same machine load for each)
        runners: dict[str, Callable[[str], Callable[[], int]]] = {}
        disposers: list[Callable[[], None]] = []
        for key, label, info in backends:
            system = f"inproc-{key}"
            if system not in wanted:
                continue
            ctx["systems"].append(system)
            note = " (index built from the SQLite database)" if key == "tantivy" else ""
            ctx["labels"][system] = f"tsunagu {label}, in-process{note}"
            if key == "tantivy":
                runners[system], dispose = in_process_tantivy(sq["url"], info["search"], FACETS)
            else:
                runners[system], dispose = in_process(info["url"])
            disposers.append(dispose)
            res[system] = {}
        if "inproc-tantivy" in runners and "inproc-sqlite" in runners:
            ctx["pairs"].append(("inproc-tantivy", "inproc-sqlite"))
        for qs in QUERIES.values():
            for q in qs:
                for system, runner in runners.items():
                    res[system][q] = measure(runner(q), args.reps, args.budget, args.warmup)
                    ser = res[system][q]
                    log(
                        f"{system} {q}: p50 {pct(ser.samples, 50):.1f} ms p95 "
                        f"{pct(ser.samples, 95):.1f} ms, {ser.hits} hits, n={len(ser.samples)}"
                    )
        for dispose in disposers:
            dispose()

        # (b) HTTP: our server and Datasette alternating, query by query
        if "datasette" in wanted or any(x.startswith("http-") for x in wanted):
            ctx["systems"].append("datasette")
            ctx["labels"]["datasette"] = "Datasette (HTTP)"
            res["datasette"] = {}
            with datasette_server(dsi["path"]) as ds_base, httpx.Client(timeout=300) as client:
                ds_run = datasette_http(client, ds_base, dsi["path"].stem)
                for key, label, info in backends:
                    system = f"http-{key}"
                    if system not in wanted:
                        continue
                    engine = "tantivy" if key == "tantivy" else "database"
                    db_url = sq["url"] if key == "tantivy" else info["url"]
                    with tsunagu_server(db_url, size, engine) as base:
                        if not endpoint_available(base):
                            ctx["notes"].append(
                                f"tsunagu over HTTP on {label}: `/api/3/action/package_search` was "
                                "not available in this build, so only in-process numbers exist."
                            )
                            log(f"{system}: package_search not available")
                            continue
                        ctx["systems"].insert(ctx["systems"].index("datasette"), system)
                        ctx["labels"][system] = f"tsunagu {label} (HTTP)"
                        ctx["pairs"].append((system, "datasette"))
                        res[system] = {}
                        ours = tsunagu_http(client, base)
                        for qs in QUERIES.values():
                            for q in qs:
                                a = measure(ours(q), args.reps, args.budget, args.warmup)
                                res[system][q] = a
                                b = measure(ds_run(q), args.reps, args.budget, args.warmup)
                                prev = res["datasette"].get(q)
                                if prev:  # second backend: pool Datasette's samples
                                    prev.samples += b.samples
                                else:
                                    res["datasette"][q] = b
                                log(
                                    f"{system} {q}: p95 {pct(a.samples, 95):.1f} ms "
                                    f"({a.hits} hits) | "
                                    f"datasette p95 {pct(b.samples, 95):.1f} ms ({b.hits} hits)"
                                )
                if not any(p[1] == "datasette" for p in ctx["pairs"]):
                    # No server of ours to alternate with: measure Datasette alone.
                    for qs in QUERIES.values():
                        for q in qs:
                            res["datasette"][q] = measure(
                                ds_run(q), args.reps, args.budget, args.warmup
                            )
    finally:
        if pg is not None and not args.keep:
            drop_postgres(pg)
            log("PostgreSQL: dropped tsunagu_bench")

    ctx["elapsed"] = time.perf_counter() - started
    save_results(ctx)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_section(args.output, write_report(ctx))
    log(f"wrote {args.output} in {ctx['elapsed'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
