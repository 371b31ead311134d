"""Full-text search with facets over the catalog, on SQLite FTS5 or PostgreSQL tsvector.

Both backends index the same token strings (see :mod:`tsunagu.catalog.text`) and evaluate the
same query (AND of tokens, filters, visibility), so they return the same hits and counts.
Relevance differs only in the scoring function (FTS5 bm25 vs ts_rank), both weighting title >
keywords/organization > description.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.orm import Session

from tsunagu.http import MAX_OFFSET
from tsunagu.kernel import ValidationProblem, naive_utcnow

from .text import MAX_QUERY_CHARS, MAX_QUERY_TOKENS, index_tokens, query_tokens

FACET_FIELDS = ("organization", "groups", "tags", "res_format", "license_id", "municipality")
SORTS = {
    "relevance": "relevance",
    "score desc": "relevance",
    "score desc, metadata_modified desc": "relevance",
    "modified": "modified",
    "metadata_modified desc": "modified",
    "modified desc": "modified",
    "title": "title",
    "title_string asc": "title",
    "title asc": "title",
    "name asc": "name",
    "name": "name",
}
_FQ_TERM = re.compile(r'\s*(\+?)([a-z_]+):(?:"((?:[^"\\]|\\.)*)"|(\S+))\s*')
_POSITIONS_PER_TOKEN = 4


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    filters: tuple[tuple[str, str], ...] = ()
    facet_fields: tuple[str, ...] = ()
    facet_limit: int = 50
    sort: str = "relevance"
    rows: int = 20
    start: int = 0
    # Organizations whose private datasets the caller may see.
    private_org_ids: tuple[int, ...] = ()


@dataclass
class SearchResult:
    count: int
    dataset_pks: list[int]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexDocument:
    """What the indexer needs of a dataset."""

    pk: int
    title: str
    keywords: str  # tags, organization and group titles
    body: str  # descriptions, resource names
    facets: tuple[tuple[str, str], ...]


def parse_fq(fq: str) -> tuple[tuple[str, str], ...]:
    """Parse a CKAN/Solr ``fq`` of ``field:value`` / ``field:"quoted value"`` terms (ANDed)."""
    filters: list[tuple[str, str]] = []
    pos = 0
    fq = fq.strip()
    while pos < len(fq):
        m = _FQ_TERM.match(fq, pos)
        if not m:
            raise ValidationProblem(
                f'cannot parse fq at {fq[pos : pos + 30]!r}: use field:value or field:"value"',
                field="fq",
            )
        name = m.group(2)
        value = m.group(3) if m.group(3) is not None else m.group(4)
        value = re.sub(r"\\(.)", r"\1", value)
        if name not in FACET_FIELDS:
            raise ValidationProblem(
                f"unknown fq field {name!r}; allowed: {', '.join(FACET_FIELDS)}", field="fq"
            )
        filters.append((name, value))
        pos = m.end()
    return tuple(filters)


def validate_query(query: SearchQuery, max_rows: int = 1000) -> None:
    if len(query.q) > MAX_QUERY_CHARS:
        raise ValidationProblem(
            f"query is {len(query.q)} characters; at most {MAX_QUERY_CHARS} allowed", field="q"
        )
    if not 0 <= query.rows <= max_rows:
        raise ValidationProblem(f"rows must be between 0 and {max_rows}", field="rows")
    if query.start < 0:
        raise ValidationProblem("start must not be negative", field="start")
    if query.start > MAX_OFFSET:  # also a page far enough that page × rows passes it
        raise ValidationProblem(f"start must be at most {MAX_OFFSET}", field="start")
    for name in query.facet_fields:
        if name not in FACET_FIELDS:
            raise ValidationProblem(
                f"unknown facet field {name!r}; allowed: {', '.join(FACET_FIELDS)}",
                field="facet.field",
            )
    if query.sort not in SORTS:
        raise ValidationProblem(
            f"unknown sort {query.sort!r}; use relevance, modified, title or name", field="sort"
        )
    if len(query_tokens(query.q)) > MAX_QUERY_TOKENS:
        raise ValidationProblem("query has too many terms", field="q")


class SearchBackend(Protocol):
    """A database-specific full-text index."""

    def index(self, session: Session, docs: list[IndexDocument]) -> None: ...

    def delete(self, session: Session, pks: list[int]) -> None: ...

    def match(self, tokens: list[str]) -> tuple[str, dict[str, object]]:
        """SQL selecting (dataset_pk, score) of the documents holding every token."""
        ...

    def title_order(self) -> str: ...

    def binary(self, column: str) -> str: ...


class SearchEngine(Protocol):
    """A search engine outside the database (see :mod:`tsunagu.catalog.search_tantivy`).

    It answers :func:`search` for sessions whose ``info["search_engine"]`` names it, from the
    same index documents, replaying the ``search_change`` log the indexer writes.
    """

    def search(self, session: Session, query: SearchQuery, max_rows: int) -> SearchResult: ...


# Session.info key the composition root sets to a SearchEngine (absent: the database answers).
SEARCH_ENGINE_KEY = "search_engine"


class SqliteFtsBackend:
    """SQLite FTS5 table ``dataset_fts`` (rowid = dataset.pk)."""

    def index(self, session: Session, docs: list[IndexDocument]) -> None:
        if not docs:
            return
        self.delete(session, [d.pk for d in docs])
        session.execute(
            text("INSERT INTO dataset_fts(rowid, title, keywords, body) VALUES (:pk, :t, :k, :b)"),
            [
                {
                    "pk": d.pk,
                    "t": " ".join(index_tokens(d.title)),
                    "k": " ".join(index_tokens(d.keywords)),
                    "b": " ".join(index_tokens(d.body)),
                }
                for d in docs
            ],
        )

    def delete(self, session: Session, pks: list[int]) -> None:
        if pks:
            session.execute(
                text("DELETE FROM dataset_fts WHERE rowid IN :pks").bindparams(
                    bindparam("pks", expanding=True)
                ),
                {"pks": pks},
            )

    def match(self, tokens: list[str]) -> tuple[str, dict[str, object]]:
        # Every token is a quoted FTS5 string, so nothing typed by a user is FTS syntax.
        expr = " AND ".join('"' + t.replace('"', '""') + '"' for t in tokens)
        sql = (
            "SELECT rowid AS dataset_pk, -bm25(dataset_fts, 10.0, 4.0, 1.0) AS score "
            "FROM dataset_fts WHERE dataset_fts MATCH :fts"
        )
        return sql, {"fts": expr}

    def title_order(self) -> str:
        return "d.title_sort ASC"

    def binary(self, column: str) -> str:
        return column


class PostgresTsvectorBackend:
    """PostgreSQL table ``dataset_search`` with a GIN-indexed tsvector.

    The tsvector is built from a literal (``'tok':1A ...``) rather than ``to_tsvector``, because
    PostgreSQL's parser drops CJK characters under the C locale; the literal is locale-free.
    """

    def index(self, session: Session, docs: list[IndexDocument]) -> None:
        if not docs:
            return
        session.execute(
            text(
                "INSERT INTO dataset_search(dataset_pk, document) "
                "VALUES (:pk, CAST(:doc AS tsvector)) "
                "ON CONFLICT (dataset_pk) DO UPDATE SET document = EXCLUDED.document"
            ),
            [{"pk": d.pk, "doc": _tsvector_literal(d)} for d in docs],
        )

    def delete(self, session: Session, pks: list[int]) -> None:
        if pks:
            session.execute(
                text("DELETE FROM dataset_search WHERE dataset_pk IN :pks").bindparams(
                    bindparam("pks", expanding=True)
                ),
                {"pks": pks},
            )

    def match(self, tokens: list[str]) -> tuple[str, dict[str, object]]:
        expr = " & ".join(_quote_lexeme(t) for t in tokens)
        sql = (
            "SELECT dataset_pk, ts_rank(document, CAST(:tsq AS tsquery)) AS score "
            "FROM dataset_search WHERE document @@ CAST(:tsq AS tsquery)"
        )
        return sql, {"tsq": expr}

    def title_order(self) -> str:
        return 'd.title_sort COLLATE "C" ASC'

    def binary(self, column: str) -> str:
        """Byte-order comparison, as SQLite's default BINARY collation does."""
        return f'{column} COLLATE "C"'


def _quote_lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _tsvector_literal(doc: IndexDocument) -> str:
    positions: dict[str, list[str]] = {}
    pos = 1
    for weight, value in (("A", doc.title), ("B", doc.keywords), ("C", doc.body)):
        counts: Counter[str] = Counter()
        for token in index_tokens(value):
            pos = min(pos + 1, 16383)
            if counts[token] < _POSITIONS_PER_TOKEN:
                counts[token] += 1
                positions.setdefault(token, []).append(f"{pos}{weight}")
    return " ".join(f"{_quote_lexeme(t)}:{','.join(p)}" for t, p in positions.items())


def backend_for(dialect_name: str) -> SearchBackend:
    if dialect_name == "sqlite":
        return SqliteFtsBackend()
    if dialect_name == "postgresql":
        return PostgresTsvectorBackend()
    raise RuntimeError(f"no search backend for {dialect_name}")


def _log_changes(session: Session, pks: list[int]) -> None:
    """Append to ``search_change`` in the caller's transaction: external engines replay it."""
    if pks:
        now = naive_utcnow()
        session.execute(
            text("INSERT INTO search_change(dataset_pk, changed_at) VALUES (:pk, :at)"),
            [{"pk": pk, "at": now} for pk in pks],
        )


def index_documents(session: Session, docs: list[IndexDocument]) -> None:
    """(Re)index datasets: full-text rows and facet rows, in the caller's transaction."""
    backend = backend_for(session.get_bind().dialect.name)
    backend.index(session, docs)
    pks = [d.pk for d in docs]
    _log_changes(session, pks)
    if pks:
        session.execute(
            text("DELETE FROM dataset_facet WHERE dataset_pk IN :pks").bindparams(
                bindparam("pks", expanding=True)
            ),
            {"pks": pks},
        )
    rows = [{"pk": d.pk, "f": f, "v": v[:200]} for d in docs for f, v in sorted(set(d.facets)) if v]
    if rows:
        session.execute(
            text("INSERT INTO dataset_facet(dataset_pk, field, value) VALUES (:pk, :f, :v)"), rows
        )


def unindex(session: Session, pks: list[int]) -> None:
    backend_for(session.get_bind().dialect.name).delete(session, pks)
    _log_changes(session, pks)
    if pks:
        session.execute(
            text("DELETE FROM dataset_facet WHERE dataset_pk IN :pks").bindparams(
                bindparam("pks", expanding=True)
            ),
            {"pks": pks},
        )


def search(session: Session, query: SearchQuery, max_rows: int = 1000) -> SearchResult:
    """Run a search: hits in order, total count and facet counts.

    The session's search engine answers if one is configured, else the database does.
    """
    validate_query(query, max_rows)
    engine: SearchEngine | None = session.info.get(SEARCH_ENGINE_KEY)
    if engine is not None:
        return engine.search(session, query, max_rows)
    return search_database(session, query, max_rows)


def search_database(session: Session, query: SearchQuery, max_rows: int = 1000) -> SearchResult:
    """:func:`search` answered by the database's own index (exact; the source of truth)."""
    validate_query(query, max_rows)
    backend = backend_for(session.get_bind().dialect.name)
    tokens = query_tokens(query.q)
    params: dict[str, object] = {}

    if tokens:
        match_sql, match_params = backend.match(tokens)
        params.update(match_params)
        from_sql = f"({match_sql}) AS m JOIN dataset d ON d.pk = m.dataset_pk"
        score = "m.score"
    else:
        from_sql = "dataset d"
        score = "0"

    where = ["d.state = 'active'"]
    if query.private_org_ids:
        where.append("(d.private = :false OR d.organization_id IN :private_orgs)")
        params["private_orgs"] = list(query.private_org_ids)
    else:
        where.append("d.private = :false")
    params["false"] = False
    for i, (name, value) in enumerate(query.filters):
        where.append(
            f"EXISTS (SELECT 1 FROM dataset_facet f{i} WHERE f{i}.dataset_pk = d.pk "  # noqa: S608
            f"AND f{i}.field = :ff{i} AND f{i}.value = :fv{i})"
        )
        params[f"ff{i}"] = name
        params[f"fv{i}"] = value
    where_sql = " AND ".join(where)

    sort = SORTS[query.sort]
    order = {
        "relevance": f"{score} DESC, d.metadata_modified DESC, d.pk DESC",
        "modified": "d.metadata_modified DESC, d.pk DESC",
        "title": backend.title_order() + ", d.pk ASC",
        "name": backend.binary("d.name") + " ASC",  # byte order, as tantivy and SQLite
    }[sort]
    if sort == "relevance" and not tokens:
        order = "d.metadata_modified DESC, d.pk DESC"

    # The SQL below is assembled only from fixed fragments of this module; every value a caller
    # supplies travels as a bound parameter (S608 is a false positive here).
    def _expand(sql: str) -> TextClause:
        stmt = text(sql)
        if "private_orgs" in params:
            stmt = stmt.bindparams(bindparam("private_orgs", expanding=True))
        return stmt

    hits_sql = (
        f"SELECT d.pk FROM {from_sql} WHERE {where_sql} "  # noqa: S608
        f"ORDER BY {order} LIMIT :rows OFFSET :start"
    )
    count_sql = f"SELECT count(*) FROM {from_sql} WHERE {where_sql}"  # noqa: S608
    page = (
        session.execute(_expand(hits_sql), {**params, "rows": query.rows, "start": query.start})
        .scalars()
        .all()
    )
    count = int(session.execute(_expand(count_sql), params).scalar_one())

    facets: dict[str, list[tuple[str, int]]] = {}
    if query.facet_fields and count:
        facet_value = backend.binary("fc.value")
        facet_sql = (
            "SELECT field, value, n FROM ("  # noqa: S608
            " SELECT fc.field, fc.value, count(*) AS n,"
            " row_number() OVER (PARTITION BY fc.field"
            f" ORDER BY count(*) DESC, {facet_value} ASC) AS r"
            f" FROM {from_sql} JOIN dataset_facet fc ON fc.dataset_pk = d.pk"
            f" WHERE {where_sql} AND fc.field IN :facet_fields"
            " GROUP BY fc.field, fc.value) AS ranked"
            " WHERE r <= :facet_limit"
        )
        stmt = text(facet_sql).bindparams(bindparam("facet_fields", expanding=True))
        if "private_orgs" in params:
            stmt = stmt.bindparams(bindparam("private_orgs", expanding=True))
        for name in query.facet_fields:
            facets[name] = []
        for name, value, n in session.execute(
            stmt,
            {**params, "facet_fields": list(query.facet_fields), "facet_limit": query.facet_limit},
        ):
            facets[name].append((value, int(n)))
        for values in facets.values():
            values.sort(key=lambda vn: (-vn[1], vn[0]))
    else:
        facets = {name: [] for name in query.facet_fields}
    return SearchResult(count=count, dataset_pks=list(page), facets=facets)
