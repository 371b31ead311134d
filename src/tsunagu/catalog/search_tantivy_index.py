"""Layout of the tantivy search index: its schema and a dataset's document.

The documents carry the same token strings as the database's full-text index (whitespace-
joined; split on whitespace only) and the same facet rows as ``dataset_facet``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

import tantivy
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from .models import Dataset
from .search import FACET_FIELDS
from .text import index_tokens

TOKENIZER = "tsunagu_ws"
TEXT_BOOSTS = (("title", 10.0), ("keywords", 4.0), ("body", 1.0))  # FTS5 bm25 weights
FACET_PREFIX = "f_"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def schema() -> tantivy.Schema:
    """Fields of a dataset document, and of the one ``meta`` document holding the position."""
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("pk", indexed=True, fast=True)
    for name, _ in TEXT_BOOSTS:
        # Frequencies for BM25; positions are not needed (no phrase queries).
        sb.add_text_field(name, tokenizer_name=TOKENIZER, index_option="freq")
    # Every token of the three, documents only: facet counting needs the set of hits, not
    # scores, and one posting list per token is cheaper to walk than the union of three.
    sb.add_text_field("all", tokenizer_name=TOKENIZER, index_option="basic")
    for name in FACET_FIELDS:
        sb.add_text_field(
            FACET_PREFIX + name, fast=True, tokenizer_name="raw", index_option="basic"
        )
    # 1 for private datasets (and the meta document): few, so excluding them is a cheap MustNot,
    # where requiring "public" intersected every hit with a posting list of the whole catalog.
    sb.add_unsigned_field("private", indexed=True)
    sb.add_unsigned_field("org", indexed=True)
    sb.add_integer_field("modified", fast=True)  # microseconds since 1970 (naive UTC)
    sb.add_text_field("title_sort", fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("name", fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_unsigned_field("meta", indexed=True)
    sb.add_text_field("state", stored=True, tokenizer_name="raw", index_option="basic")
    return sb.build()


def documents(conn: Connection, pks: list[int]) -> list[tantivy.Document]:
    """tantivy documents of the active datasets among ``pks``, built like the database's."""
    from .services import get_datasets, index_document

    with Session(bind=conn) as session:
        out = []
        for ds in get_datasets(session, pks):
            if ds.state != "active":
                continue
            doc = index_document(ds)
            out.append(
                document(
                    Fields(ds.pk, ds.private, ds.organization_id, ds.metadata_modified,
                            ds.title_sort, ds.name),
                    [" ".join(index_tokens(v)) for v in (doc.title, doc.keywords, doc.body)],
                    {(f, v[:200]) for f, v in doc.facets if v},
                )
            )  # fmt: skip
        return out


def documents_sqlite(conn: Connection, pks: list[int]) -> list[tantivy.Document]:
    """Like :func:`documents` for a range of active pks, from the rows the SQLite index holds.

    Why: a rebuild at a million datasets spends most of its time loading ORM objects and
    tokenizing again; ``dataset_fts`` already stores the very token strings and
    ``dataset_facet`` the facet rows (``index_documents`` wrote both), read here in pk ranges.
    """
    lo, hi = pks[0], pks[-1]
    d = Dataset
    rows = conn.execute(
        select(d.pk, d.private, d.organization_id, d.metadata_modified, d.title_sort, d.name)
        .where(d.pk.between(lo, hi), d.state == "active")
        .order_by(d.pk)
    ).all()
    between = {"lo": lo, "hi": hi}
    texts = {
        int(pk): [t or "", k or "", b or ""]
        for pk, t, k, b in conn.execute(
            text(
                "SELECT rowid, title, keywords, body FROM dataset_fts "
                "WHERE rowid BETWEEN :lo AND :hi"
            ),
            between,
        )
    }
    facets: dict[int, set[tuple[str, str]]] = {}
    for pk, field, value in conn.execute(
        text(
            "SELECT dataset_pk, field, value FROM dataset_facet "
            "WHERE dataset_pk BETWEEN :lo AND :hi"
        ),
        between,
    ):
        facets.setdefault(int(pk), set()).add((str(field), str(value)))
    return [
        document(Fields(*row), texts.get(row.pk, ["", "", ""]), facets.get(row.pk, set()))
        for row in rows
    ]


class Fields(NamedTuple):
    pk: int
    private: bool
    org_id: int
    modified: datetime
    title_sort: str
    name: str


def document(
    fields: Fields, token_texts: list[str], facets: set[tuple[str, str]]
) -> tantivy.Document:
    """A dataset's document: whitespace-joined tokens of title, keywords and body, and the
    dataset_facet rows (distinct, values cut to 200 characters, empty ones skipped)."""
    out = tantivy.Document()
    out.add_unsigned("pk", fields.pk)
    for (name, _), value in zip(TEXT_BOOSTS, token_texts, strict=True):
        out.add_text(name, value)
    out.add_text("all", " ".join(token_texts))
    for field, value in sorted(facets):
        out.add_text(FACET_PREFIX + field, value)
    out.add_unsigned("private", 1 if fields.private else 0)
    out.add_unsigned("org", fields.org_id)
    out.add_integer("modified", _micros(fields.modified))
    out.add_text("title_sort", fields.title_sort)
    out.add_text("name", fields.name)
    return out


def _micros(value: datetime) -> int:
    # Stored datetimes are naive UTC.
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    delta = aware - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
