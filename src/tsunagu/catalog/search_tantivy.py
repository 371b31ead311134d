"""Catalog search on a tantivy index: the database's answers, fast at a million datasets.

Why tantivy: a 1-character query such as 市 matches over half of a million-dataset catalog, and
counting facets over hundreds of thousands of hits is a GROUP BY over millions of facet rows in
SQLite or PostgreSQL (seconds). tantivy is an inverted index with columnar "fast fields": its
terms aggregations count those facets in one pass over column values, and top-k collection
ranks without sorting every hit.

Semantics are the database's (:func:`tsunagu.catalog.search.search_database`): the same token
strings of :mod:`tsunagu.catalog.text` (whitespace-joined, split on whitespace only, no stemming
or lowercasing), AND of query tokens, facet filters, visibility, counts and facet counts, sort
orders with their tie-breaks. Only relevance scores differ (tantivy's BM25, fields boosted
title > keywords > body). Facet counts are exact: every bucket is requested, and a result whose
aggregation reports uncounted documents is answered by the database instead.

Consistency: the database is the source of truth. The indexer appends every changed dataset to
``search_change`` in the writing transaction. Before each query, one indexed probe through the
caller's session asks for changes past the index's last applied ``seq`` (and for ``seq`` values
skipped so far, which a PostgreSQL transaction still in flight may commit later). Pending changes
are applied by re-reading those datasets through a separate connection, so the index only ever
holds committed data; if the caller's own transaction has uncommitted changes, the database
answers that query, so a transaction always reads its own writes. The applied position is stored
as a document inside the index, so it is committed atomically with the data it describes and is
shared by every process that opens the same directory.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import tantivy
from sqlalchemy import Connection, Engine, bindparam, func, select, text
from sqlalchemy.orm import Session

from tsunagu.kernel import Settings

from .models import Dataset
from .search import (
    SORTS,
    SearchQuery,
    SearchResult,
    search_database,
)
from .search_tantivy_index import (
    FACET_PREFIX,
    TEXT_BOOSTS,
    TOKENIZER,
    documents,
    documents_sqlite,
    schema,
)
from .text import query_tokens

log = logging.getLogger(__name__)

# Terms aggregations return at most this many buckets per field; a field with more distinct
# values in one result is reported as not exact (sum_other_doc_count > 0) and the database
# answers instead.
MAX_BUCKETS = 65_000
# More pending changes than this are applied by a rebuild instead of one by one.
REBUILD_AFTER = 200_000
# A skipped seq is re-checked for this long: a transaction that has not committed by then was
# rolled back (PostgreSQL does not give sequence values back).
GAP_TTL_S = 600.0
# At a rebuild, only this many seqs below the snapshot's highest can still be in flight.
GAP_WINDOW = 1000
BATCH = 1000
WRITER_HEAP = 50_000_000  # catching up: a few documents at a time
# A rebuild with a large heap flushes few, large segments (1M datasets: one or two), which the
# facet aggregations walk faster than many small ones.
REBUILD_HEAP = 1_500_000_000
# Facet aggregations run in parallel with the top-k search (tantivy releases the GIL): the
# multi-valued fields cost most, so each gets a task; the single-valued ones share one.
FACET_GROUPS = (("tags",), ("res_format",), ("groups",),
                ("organization", "license_id", "municipality"))  # fmt: skip
_POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="tantivy")


class _Position:
    """How far the index has applied ``search_change``: the highest seq, and seqs skipped."""

    def __init__(self, seq: int = 0, gaps: dict[int, float] | None = None) -> None:
        self.seq = seq
        self.gaps: dict[int, float] = dict(gaps or {})

    def to_json(self) -> str:
        return json.dumps({"seq": self.seq, "gaps": {str(k): v for k, v in self.gaps.items()}})

    @classmethod
    def from_json(cls, raw: str) -> _Position:
        data = json.loads(raw)
        return cls(int(data["seq"]), {int(k): float(v) for k, v in data["gaps"].items()})

    def advance(self, seen: Iterable[int], upto: int) -> None:
        """Record the seqs applied (all committed ones up to ``upto``); the rest are gaps."""
        seen_set = set(seen)
        now = time.time()
        for seq in range(self.seq + 1, upto + 1):
            if seq not in seen_set:
                self.gaps[seq] = now
        for seq in seen_set:
            self.gaps.pop(seq, None)
        self.seq = max(self.seq, upto)
        self.gaps = {s: t for s, t in self.gaps.items() if now - t < GAP_TTL_S}

    def covers(self, seqs: Iterable[int]) -> bool:
        return all(s <= self.seq and s not in self.gaps for s in seqs)


class TantivySearch:
    """A tantivy index of the catalog under ``path``, answering :func:`search` (thread-safe)."""

    _instances: ClassVar[dict[Path, TantivySearch]] = {}
    _instances_lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema = schema()
        path.mkdir(parents=True, exist_ok=True)
        try:
            self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        except ValueError:
            # An index of another schema (an older tsunagu). It is a cache: start over; the
            # first query rebuilds it from the database.
            log.warning("tantivy index %s has another schema; rebuilding it", path)
            shutil.rmtree(path)
            path.mkdir(parents=True)
            self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        self.index.register_tokenizer(
            TOKENIZER, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
        )
        # One writer at a time in this process; tantivy's lock file covers other processes.
        self._lock = threading.Lock()
        self._position: _Position | None = None  # of the searcher last reloaded here

    @classmethod
    def for_settings(cls, settings: Settings) -> TantivySearch:
        """The process-wide instance for ``$TSUNAGU_DATA_DIR/search`` (one per directory)."""
        path = (settings.data_dir / "search").resolve()
        with cls._instances_lock:
            if path not in cls._instances:
                cls._instances[path] = cls(path)
            return cls._instances[path]

    # ------------------------------------------------------------------ queries

    def search(self, session: Session, query: SearchQuery, max_rows: int = 1000) -> SearchResult:
        """Answer like :func:`search_database`, after catching up with committed changes."""
        if not self._catch_up(session):
            return search_database(session, query, max_rows)
        searcher = self.index.searcher()
        q = self._query(query, scored=True)
        sort = SORTS[query.sort]
        tokens = query_tokens(query.q)
        if sort == "relevance" and not tokens:
            sort = "modified"
        # Facets are counted while the page is collected (both over every hit); an empty
        # result has no facet values, so counting them too costs nothing.
        pending = []
        if query.facet_fields:
            pending = self._facets(searcher, self._query(query, scored=False), query.facet_fields)
        pks, count = self._page(searcher, q, sort, query.start, query.rows)
        facets: dict[str, list[tuple[str, int]]] = {name: [] for name in query.facet_fields}
        if query.facet_fields and count:
            counted = _facet_lists(pending, query.facet_fields, query.facet_limit)
            if counted is None:  # more distinct values than buckets: not exact
                log.warning("tantivy facets not exact for %r; asking the database", query.q)
                return search_database(session, query, max_rows)
            facets = counted
        return SearchResult(count=count, dataset_pks=pks, facets=facets)

    def _query(self, query: SearchQuery, scored: bool) -> tantivy.Query:
        """The hits of ``query``: scored by BM25 over the three fields, or just matched."""
        s = self.schema
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for token in query_tokens(query.q):
            if not scored:
                clauses.append((tantivy.Occur.Must, tantivy.Query.term_query(s, "all", token)))
                continue
            fields = [
                tantivy.Query.boost_query(tantivy.Query.term_query(s, name, token), boost)
                for name, boost in TEXT_BOOSTS
            ]
            clauses.append(
                (tantivy.Occur.Must, tantivy.Query.boolean_query(
                    [(tantivy.Occur.Should, f) for f in fields]))
            )  # fmt: skip
        if not clauses:
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        # Visible: not private, unless of one of the caller's organizations.
        hidden = tantivy.Query.term_query(s, "private", 1)
        if query.private_org_ids:
            orgs = tantivy.Query.term_set_query(s, "org", list(query.private_org_ids))
            hidden = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, hidden), (tantivy.Occur.MustNot, orgs)]
            )
        clauses.append((tantivy.Occur.MustNot, hidden))
        filters = [
            tantivy.Query.term_query(s, FACET_PREFIX + name, value[:200])
            for name, value in query.filters
        ]
        # Filters must match but add nothing to the score.
        clauses += [(tantivy.Occur.Must, tantivy.Query.const_score_query(f, 0.0)) for f in filters]
        return tantivy.Query.boolean_query(clauses)

    def _page(
        self, searcher: tantivy.Searcher, q: tantivy.Query, sort: str, start: int, rows: int
    ) -> tuple[list[int], int]:
        """The page's pks and the total, in the database's order including its tie-breaks.

        tantivy orders by one key and breaks ties arbitrarily; the database breaks them by
        (metadata_modified desc,) pk. So collect the top ``start + rows`` and, while the last of
        them ties with the next, more; then order that prefix exactly.
        """
        want = start + rows
        field, order = {
            "relevance": (None, tantivy.Order.Desc),
            "modified": ("modified", tantivy.Order.Desc),
            "title": ("title_sort", tantivy.Order.Asc),
            "name": ("name", tantivy.Order.Asc),
        }[sort]
        if want == 0:
            return [], _count(searcher.search(q, 1, count=True))  # limit 0 panics
        limit = want + 1
        while True:
            result = searcher.search(q, limit, count=True, order_by_field=field, order=order)
            hits = result.hits
            count = _count(result)
            if len(hits) < limit or hits[want - 1][0] != hits[-1][0]:
                break
            limit *= 4
        addresses = [address for _, address in hits]
        pks = [int(v) for v in searcher.fast_field_values("pk", addresses)]  # type: ignore[arg-type]
        if sort == "relevance":
            mod = searcher.fast_field_values("modified", addresses)
            keys: list[tuple[Any, ...]] = [
                (-float(h[0]), -_int(m), -pk) for h, m, pk in zip(hits, mod, pks, strict=True)
            ]
        elif sort == "modified":
            keys = [(-_int(h[0]), -pk) for h, pk in zip(hits, pks, strict=True)]
        else:
            keys = [(str(h[0]), pk) for h, pk in zip(hits, pks, strict=True)]
        ranked = sorted(range(len(hits)), key=keys.__getitem__)
        return [pks[i] for i in ranked[start:want]], count

    def _facets(
        self, searcher: tantivy.Searcher, q: tantivy.Query, names: tuple[str, ...]
    ) -> list[Future[dict[str, Any]]]:
        """Start the terms aggregations of ``names``, every bucket requested (exact counts)."""

        def terms(name: str) -> dict[str, Any]:
            size = MAX_BUCKETS
            return {"terms": {"field": FACET_PREFIX + name, "size": size, "segment_size": size}}

        groups = [[n for n in group if n in names] for group in FACET_GROUPS]
        return [
            _POOL.submit(searcher.aggregate, q, {name: terms(name) for name in group})
            for group in groups
            if group
        ]

    # ------------------------------------------------------------------ consistency

    def _catch_up(self, session: Session) -> bool:
        """Apply committed changes; False if the caller's transaction sees changes not applied."""
        try:
            return self._catch_up_or_busy(session)
        except IndexBusy:
            log.warning("tantivy index %s busy in another process; asking the database", self.path)
            return False

    def _catch_up_or_busy(self, session: Session) -> bool:
        position = self._position
        if position is None:
            with self._lock:
                position = self._reload()
                if position is None:
                    self._rebuild_locked(_engine_of(session))
                    position = self._built()
        visible = _probe(session, position)
        if not visible:
            return True
        with self._lock:
            position = self._built()  # another thread or process may have applied them
            if position.covers(visible):
                return True
            self._apply_pending(_engine_of(session), position)
            position = self._built()
            # Still not covered: the caller's own uncommitted writes (the database answers).
            return position.covers(visible)

    def _built(self) -> _Position:
        position = self._reload()
        if position is None:
            raise RuntimeError(f"tantivy index {self.path} has no position document")
        return position

    def _reload(self) -> _Position | None:
        """Reload the searcher; the position it holds (None: never built)."""
        self.index.reload()
        searcher = self.index.searcher()
        hits = searcher.search(tantivy.Query.term_query(self.schema, "meta", 1), 1).hits
        if not hits:
            self._position = None
            return None
        raw = searcher.doc(hits[0][1]).get_first("state")
        self._position = _Position.from_json(str(raw))
        return self._position

    def _apply_pending(self, engine: Engine, position: _Position) -> None:
        with engine.connect() as conn:
            params: dict[str, Any] = {"seq": position.seq, "gaps": list(position.gaps) or [-1]}
            rows = conn.execute(
                text(
                    "SELECT seq, dataset_pk FROM search_change WHERE seq > :seq OR seq IN :gaps"
                ).bindparams(bindparam("gaps", expanding=True)),
                params,
            ).all()
            if len(rows) > REBUILD_AFTER:
                conn.rollback()
                self._rebuild_locked(engine)
                return
            pks = sorted({int(pk) for _, pk in rows})
            with self._writer() as writer:
                for part in _chunks(pks, BATCH):
                    writer.delete_documents_by_query(
                        tantivy.Query.term_set_query(self.schema, "pk", part)
                    )
                    for doc in documents(conn, part):
                        writer.add_document(doc)
                position.advance(
                    (int(s) for s, _ in rows), max([position.seq, *(s for s, _ in rows)])
                )
                _store_position(writer, self.schema, position)
                writer.commit()

    def rebuild(self, engine: Engine, progress: Callable[[int], object] | None = None) -> int:
        """Index every active dataset from scratch (atomic for readers); the number indexed."""
        with self._lock:
            total = self._rebuild_locked(engine, progress)
            self._reload()
            return total

    def _rebuild_locked(
        self, engine: Engine, progress: Callable[[int], object] | None = None
    ) -> int:
        total = 0
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # One snapshot for the position and the documents.
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            upto = int(
                conn.execute(text("SELECT coalesce(max(seq), 0) FROM search_change")).scalar_one()
            )
            # seqs below upto not committed yet are gaps to re-check; only recent ones can be.
            low = max(0, upto - GAP_WINDOW)
            recent = (
                conn.execute(text("SELECT seq FROM search_change WHERE seq > :low"), {"low": low})
                .scalars()
                .all()
            )
            position = _Position(low)
            position.advance(recent, upto)
            active = conn.execute(
                select(func.count()).select_from(Dataset).where(Dataset.state == "active")
            ).scalar_one()
            heap = min(REBUILD_HEAP, max(WRITER_HEAP, active * 1500))  # ~1.2 kB per dataset
            with self._writer(heap) as writer:
                writer.delete_all_documents()
                read = documents_sqlite if conn.dialect.name == "sqlite" else documents
                last = 0
                while True:
                    pks = list(
                        conn.execute(
                            select(Dataset.pk)
                            .where(Dataset.pk > last, Dataset.state == "active")
                            .order_by(Dataset.pk)
                            .limit(BATCH)
                        ).scalars()
                    )
                    if not pks:
                        break
                    for doc in read(conn, pks):
                        writer.add_document(doc)
                    total += len(pks)
                    last = pks[-1]
                    if progress is not None:
                        progress(len(pks))
                _store_position(writer, self.schema, position)
                writer.commit()
                writer.wait_merging_threads()
        return total

    def _writer(self, heap: int = WRITER_HEAP) -> _Writer:
        return _Writer(self.index, heap)


class IndexBusy(RuntimeError):
    """Another process has held the index writer for too long (building the index, say)."""


class _Writer:
    """The index writer for one batch of changes; its lock is released on exit (other processes
    sharing the directory take turns), uncommitted work is rolled back on error."""

    def __init__(self, index: tantivy.Index, heap: int) -> None:
        self._index = index
        self._heap = heap
        self._writer: tantivy.IndexWriter | None = None

    def __enter__(self) -> tantivy.IndexWriter:
        deadline = time.monotonic() + 30
        while True:
            try:
                self._writer = self._index.writer(self._heap, 1)
                return self._writer
            except ValueError as exc:  # another process holds the lock (LockBusy)
                if time.monotonic() > deadline:
                    raise IndexBusy(str(exc)) from exc
                time.sleep(0.05)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._writer is not None:
            if exc_type is not None:
                self._writer.rollback()
            self._writer = None  # drop it: releases the lock file


def _facet_lists(
    pending: list[Future[dict[str, Any]]], names: tuple[str, ...], limit: int
) -> dict[str, list[tuple[str, int]]] | None:
    """The facet counts in the database's order, or None if a field had uncounted values."""
    answer: dict[str, Any] = {}
    for future in pending:
        answer.update(future.result())
    facets: dict[str, list[tuple[str, int]]] = {}
    for name in names:
        result = answer[name]
        if result.get("sum_other_doc_count", 0) or result.get("doc_count_error_upper_bound", 0):
            return None
        buckets = [(str(b["key"]), int(b["doc_count"])) for b in result["buckets"]]
        # The database's order: count desc, then value in byte (code point) order.
        buckets.sort(key=lambda vn: (-vn[1], vn[0]))
        facets[name] = buckets[:limit]
    return facets


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def _probe(session: Session, position: _Position) -> list[int]:
    """seqs the caller can see that the index may not have applied (usually none)."""
    params: dict[str, Any] = {"seq": position.seq, "gaps": list(position.gaps) or [-1]}
    stmt = text("SELECT seq FROM search_change WHERE seq > :seq OR seq IN :gaps").bindparams(
        bindparam("gaps", expanding=True)
    )
    return [int(s) for s in session.execute(stmt, params).scalars()]


def _store_position(
    writer: tantivy.IndexWriter, schema: tantivy.Schema, position: _Position
) -> None:
    # By query: delete_documents_by_term turns a Python int into an i64 term, which never
    # matches a u64 field.
    writer.delete_documents_by_query(tantivy.Query.term_query(schema, "meta", 1))
    doc = tantivy.Document()
    doc.add_unsigned("meta", 1)
    doc.add_unsigned("private", 1)  # never a search hit
    doc.add_text("state", position.to_json())
    writer.add_document(doc)


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"expected an integer fast field value, got {value!r}")
    return value


def _count(result: tantivy.SearchResult) -> int:
    # SearchResult.count exists at runtime (the total with count=True) but not in the stub.
    count = getattr(result, "count", None)
    if not isinstance(count, int):
        raise TypeError("tantivy search did not count its hits")
    return count
