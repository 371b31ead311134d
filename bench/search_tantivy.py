"""The tantivy engine in the search benchmark: its index built from the cached SQLite bench
database, in-process runners, and a check that it answers exactly as the database does.

    python -m bench.search_tantivy --size 20000     # build (or reuse) and compare only
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from tqdm import tqdm

from tsunagu.catalog import SearchQuery
from tsunagu.catalog.search import SEARCH_ENGINE_KEY, search_database
from tsunagu.catalog.search_tantivy import TantivySearch
from tsunagu.db import make_engine, make_sessionmaker, migrate

from .data import GENERATOR_VERSION

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / ".data"
# The search_change table; later migrations of other contexts are not needed here.
REVISION = "0006_search_change"


def index_dir(size: int) -> Path:
    """Where the index lives: a data_dir's ``search`` directory, as the server would use it."""
    return DATA / f"tantivy-g{GENERATOR_VERSION}-{size}" / "search"


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def prepare_tantivy(url: str, size: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Build the index from the SQLite bench database at ``url``, or reuse a complete one."""
    engine = make_engine(url)
    migrate(engine, REVISION)
    path = index_dir(size)
    with engine.connect() as conn:
        active = int(
            conn.execute(text("SELECT count(*) FROM dataset WHERE state = 'active'")).scalar_one()
        )
    search = TantivySearch(path)
    timings: dict[str, float] = {}
    cached = search.index.searcher().num_docs == active + 1  # datasets and the position
    if cached:
        log(f"tantivy: reusing {path}")
        sidecar = path.parent / "build.txt"
        if sidecar.exists():
            timings["build_s"] = float(sidecar.read_text())
    else:
        log(f"tantivy: building the index of {active:,} datasets in {path}")
        t = time.perf_counter()
        with tqdm(total=active, desc="tantivy", unit="ds", file=sys.stderr, mininterval=5) as bar:
            search.rebuild(engine, progress=bar.update)
        timings["build_s"] = time.perf_counter() - t
        (path.parent / "build.txt").write_text(f"{timings['build_s']:.1f}")
    engine.dispose()
    searcher = search.index.searcher()
    return {
        "path": path,
        "bytes": dir_bytes(path),
        "segments": searcher.num_segments,
        "docs": searcher.num_docs - 1,
        "timings": timings,
        "cached": cached,
        "search": search,
    }


def in_process_tantivy(
    url: str, search: TantivySearch, facets: tuple[str, ...]
) -> tuple[Callable[[str], Callable[[], int]], Callable[[], None]]:
    """Runners like ``bench.search.in_process``, answered by the tantivy engine."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)

    def runner(q: str) -> Callable[[], int]:
        query = SearchQuery(q=q, facet_fields=facets, rows=20)

        def run() -> int:
            with sessions() as session:
                session.info[SEARCH_ENGINE_KEY] = search
                return search.search(session, query).count

        return run

    return runner, engine.dispose


def compare(
    url: str, search: TantivySearch, queries: list[str], facets: tuple[str, ...]
) -> list[str]:
    """Queries whose count, first page (sorted by name) or facets differ from the database's."""
    engine = make_engine(url)
    differ = []
    with make_sessionmaker(engine)() as session:
        for q in queries:
            query = SearchQuery(q=q, facet_fields=facets, rows=20, sort="name")
            if search.search(session, query) != search_database(session, query):
                differ.append(q)
    engine.dispose()
    return differ


def main(argv: list[str] | None = None) -> int:
    from .search import FACETS, QUERIES, log, sqlite_url

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--compare", action="store_true", help="check answers against SQLite")
    args = ap.parse_args(argv)
    url, _ = sqlite_url(args.size)
    info = prepare_tantivy(url, args.size, log)
    log(
        f"tantivy: {info['docs']:,} docs, {info['segments']} segments, "
        f"{info['bytes'] / 2**20:,.0f} MiB, {info['timings']}"
    )
    if args.compare:
        queries = [q for qs in QUERIES.values() for q in qs]
        log(f"differ from SQLite: {compare(url, info['search'], queries, FACETS)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
