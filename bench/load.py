"""Bulk-load the synthetic catalog into our schema (SQLite, PostgreSQL) and a Datasette table."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from tsunagu.accounts.models import Organization
from tsunagu.catalog import ensure_licenses
from tsunagu.catalog.models import Dataset, DatasetMunicipality, DatasetTag, Distribution
from tsunagu.catalog.search import IndexDocument, index_documents
from tsunagu.db import make_engine, migrate

from .data import EPOCH, GENERATOR_VERSION, SyntheticDataset, Vocabulary, generate

BATCH = 10_000
T = TypeVar("T")
Log = Callable[[str], None]


def batched(items: Iterable[T], n: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk


def org_name(lg_code: str) -> str:
    return f"lg-{lg_code}"


def read_meta(engine: Engine) -> dict[str, str]:
    try:
        with engine.connect() as conn:
            return {
                str(k): str(v) for k, v in conn.execute(text("SELECT key, value FROM bench_meta"))
            }
    except Exception:  # table missing: not a finished bench database
        return {}


def _drop_load_indexes(conn: Any, dialect: str) -> None:
    conn.execute(text("DROP INDEX IF EXISTS ix_dataset_facet_field_value"))
    if dialect == "postgresql":
        conn.execute(text("DROP INDEX IF EXISTS ix_dataset_search_document"))


def _create_load_indexes(conn: Any, dialect: str) -> None:
    # The same definitions as migration 0001 (dropped during the bulk load, rebuilt once after).
    conn.execute(
        text(
            "CREATE INDEX ix_dataset_facet_field_value ON dataset_facet (field, value, dataset_pk)"
        )
    )
    if dialect == "postgresql":
        conn.execute(
            text("CREATE INDEX ix_dataset_search_document ON dataset_search USING gin (document)")
        )


def load_tsunagu(url: str, vocab: Vocabulary, size: int, log: Log) -> dict[str, float]:
    """Migrate an empty database and load ``size`` datasets; returns phase timings (seconds)."""
    engine = make_engine(url)
    dialect = engine.dialect.name
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    migrate(engine)
    timings["migrate"] = time.perf_counter() - t0
    orgs = vocab.municipalities
    with engine.begin() as conn:
        ensure_licenses(Session(bind=conn))
        conn.execute(
            Organization.__table__.insert(),
            [
                {
                    "id": i + 1,
                    "name": org_name(m.lg_code),
                    "title": m.full,
                    "title_en": "",
                    "lg_code": m.lg_code,
                    "description": "",
                    "url": "",
                    "image_url": "",
                    "created": EPOCH_ORG,
                }
                for i, m in enumerate(orgs)
            ],
        )
        _drop_load_indexes(conn, dialect)
    rows_t = index_t = 0.0
    done = 0
    t_all = time.perf_counter()
    for chunk in batched(generate(vocab, size), BATCH):
        t1 = time.perf_counter()
        with engine.begin() as conn:
            _insert_rows(conn, vocab, chunk)
            t2 = time.perf_counter()
            index_documents(Session(bind=conn), [_document(vocab, d) for d in chunk])
        t3 = time.perf_counter()
        rows_t += t2 - t1
        index_t += t3 - t2
        done += len(chunk)
        if done % (BATCH * 10) == 0 or done == size:
            log(f"  {dialect}: {done:,}/{size:,} loaded ({time.perf_counter() - t_all:.0f} s)")
    timings["insert_rows"] = rows_t
    timings["index_documents"] = index_t
    t4 = time.perf_counter()
    with engine.begin() as conn:
        _create_load_indexes(conn, dialect)
    timings["build_indexes"] = time.perf_counter() - t4
    t5 = time.perf_counter()
    if dialect == "sqlite":
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO dataset_fts(dataset_fts) VALUES ('optimize')"))
            conn.execute(text("ANALYZE"))
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    timings["optimize_analyze"] = time.perf_counter() - t5
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_meta (key varchar(50) PRIMARY KEY, value text)"))
        meta = {
            "generator": str(GENERATOR_VERSION),
            "size": str(size),
            **{f"t_{k}": f"{v:.3f}" for k, v in timings.items()},
        }
        conn.execute(
            text("INSERT INTO bench_meta (key, value) VALUES (:k, :v)"),
            [{"k": k, "v": v} for k, v in meta.items()],
        )
    engine.dispose()
    return timings


EPOCH_ORG = EPOCH


def _insert_rows(conn: Any, vocab: Vocabulary, chunk: list[SyntheticDataset]) -> None:
    datasets = []
    tags = []
    munis = []
    dists = []
    for d in chunk:
        m = vocab.municipalities[d.muni]
        datasets.append(
            {
                "pk": d.pk,
                "id": str(uuid.UUID(int=d.pk)),
                "name": f"ds-{d.pk:07d}",
                "title": d.title,
                "title_en": "",
                "notes": d.notes,
                "notes_en": "",
                "organization_id": d.muni + 1,
                "license_id": d.licence,
                "source_id": None,
                "url": "",
                "version": "",
                "author": "",
                "author_email": "",
                "maintainer": "",
                "maintainer_email": "",
                "frequency": "",
                "temporal_start": None,
                "temporal_end": None,
                "issued": d.modified,
                "modified": d.modified,
                "metadata_created": d.modified,
                "metadata_modified": d.modified,
                "private": False,
                "state": "active",
                "extras": {},
                "title_sort": d.title.casefold(),
            }
        )
        tags += [{"dataset_pk": d.pk, "name": t} for t in d.tags]
        munis.append({"dataset_pk": d.pk, "lg_code": m.lg_code})
        for pos, fmt in enumerate(d.formats):
            dists.append(
                {
                    "pk": d.pk * 4 + pos,
                    "id": str(uuid.UUID(int=(1 << 64) + d.pk * 4 + pos)),
                    "dataset_pk": d.pk,
                    "position": pos,
                    "name": f"{d.title}（{fmt}）",
                    "description": "",
                    "url": f"https://example.jp/{d.pk}/{pos}.{fmt.lower()}",
                    "download_url": "",
                    "format": fmt,
                    "media_type": "",
                    "byte_size": None,
                    "checksum": "",
                    "checksum_algorithm": "",
                    "language": "ja",
                    "created": None,
                    "modified": None,
                    "extras": {},
                }
            )
    conn.execute(Dataset.__table__.insert(), datasets)
    conn.execute(DatasetTag.__table__.insert(), tags)
    conn.execute(DatasetMunicipality.__table__.insert(), munis)
    conn.execute(Distribution.__table__.insert(), dists)


def _document(vocab: Vocabulary, d: SyntheticDataset) -> IndexDocument:
    """What ``tsunagu.catalog.services.index_document`` builds for such a dataset."""
    m = vocab.municipalities[d.muni]
    facets = [("organization", org_name(m.lg_code)), ("license_id", d.licence)]
    facets += [("tags", t) for t in d.tags]
    facets += [("municipality", m.lg_code)]
    facets += [("res_format", f) for f in d.formats]
    keywords = " ".join([*d.tags, m.full, ""])
    body = " ".join([d.notes, "", ""] + [f"{d.title}（{f}） " for f in d.formats])
    return IndexDocument(pk=d.pk, title=d.title, keywords=keywords, body=body, facets=tuple(facets))


def load_datasette(path: Path, vocab: Vocabulary, size: int, log: Log) -> dict[str, float]:
    """The same datasets as one plain table with FTS5 as sqlite-utils ``enable_fts`` makes it."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    db.execute(
        "CREATE TABLE datasets (id INTEGER PRIMARY KEY, title TEXT, notes TEXT, organization TEXT,"
        " tags TEXT, format TEXT, license TEXT, municipality TEXT)"
    )
    t0 = time.perf_counter()
    for chunk in batched(generate(vocab, size), BATCH * 5):
        db.executemany(
            "INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    d.pk,
                    d.title,
                    d.notes,
                    vocab.municipalities[d.muni].full,
                    json.dumps(list(d.tags), ensure_ascii=False),
                    ",".join(d.formats),
                    d.licence,
                    vocab.municipalities[d.muni].lg_code,
                )
                for d in chunk
            ],
        )
    db.commit()
    t1 = time.perf_counter()
    # sqlite-utils Table.enable_fts(["title", "notes", "organization", "tags"]) with its defaults
    # (FTS5, default unicode61 tokenizer, external content table), then populate_fts.
    db.execute(
        "CREATE VIRTUAL TABLE [datasets_fts] USING FTS5 ([title], [notes], [organization], [tags],"
        " content=[datasets])"
    )
    db.execute(
        "INSERT INTO [datasets_fts] (rowid, [title], [notes], [organization], [tags])"
        " SELECT rowid, [title], [notes], [organization], [tags] FROM [datasets]"
    )
    db.commit()
    t2 = time.perf_counter()
    db.execute("ANALYZE")
    db.commit()
    db.close()
    tmp.rename(path)
    log(f"  datasette table: {size:,} rows in {t1 - t0:.0f} s, FTS in {t2 - t1:.0f} s")
    return {"insert_rows": t1 - t0, "fts": t2 - t1}
