"""Seed data for a new installation: licences, code lists and real catalog records.

Sources (``tsunagu seed --only NAME``), loaded in this order:

``licenses``       the licences of :mod:`tsunagu.catalog.licenses`
``codelists``      ABR prefecture/municipality codes and the GIF core code lists
``tokyo``          東京都オープンデータカタログ, 2022 package_show dump (5,077 records)
``tokyo-2026``     two 2026-era records of the same portal
``data-go-jp``     a DATA GO JP record (消費者庁)
``data-gov-uk``    a data.gov.uk record (British Geological Survey)
``ckan-portals``   Japan's CKAN portals (xckan site list) with their Action API as data services
``standards``      推奨データセット / 自治体標準オープンデータセット schemas with data dictionaries
``imi``            共通語彙基盤 (IMI) コア語彙 2.4.1 as the code list ``imi-core``
``corporations``   法人番号: NTA sample files (CSV Shift_JIS/Unicode, XML) and gBizINFO answers
``laws``           法令: e-Gov 法令API v2 answers (個人情報の保護に関する法律 and its list)
``address``        アドレス・ベース・レジストリ: ABR files (towns, residences, parcels, positions)
``ledger``         transparency log: a few dozen synthetic access records (demo pseudonyms)
``residents``      住民基本台帳: 500 synthetic residents each in 和歌山市 and 文京区

Every step is idempotent (see :mod:`tsunagu.seed.writer`); each source commits on its own when
given an Engine, so an interrupted load keeps what finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from tsunagu.catalog import Dataset, Source, ensure_licenses
from tsunagu.registries.address import has_address_data

from . import registers, sources
from .address import load_address
from .ckan import package_to_record, unwrap
from .codelists import all_code_lists, write_code_list
from .imi import read_imi
from .ledger import load_ledger
from .portals import read_portals
from .records import BadRecord
from .residents import load_residents
from .standards import public_toilet_seishikiban, recommended_datasets
from .tokyo import ReadResult, read_dump, read_packages
from .writer import newest_per_name, upsert_source, write_datasets

__all__ = ["SEED_SOURCES", "load_seed", "load_tokyo", "seed_if_empty"]

Bind = Engine | Connection | Session
Counts = dict[str, int]
TOKYO_RECORDS = 5077  # lines in the shipped dump, for the progress bar


@contextmanager
def _session(bind: Bind) -> Iterator[Session]:
    """A session for one source: the caller's own Session (caller commits) or a new one."""
    if isinstance(bind, Session):
        yield bind
        bind.flush()
        return
    with Session(bind=bind, expire_on_commit=False) as session:
        yield session
        session.commit()


def _store(
    session: Session, source: Source, read: ReadResult, *, progress: bool, dedupe: bool = True
) -> Counts:
    upsert_source(session, source)
    records, duplicates = newest_per_name(read.records) if dedupe else (read.records, 0)
    stats = write_datasets(session, source.id, records, progress=progress, label=source.id)
    counts = {
        "read": len(read.records) + read.bad,
        "bad": read.bad,
        "superseded": duplicates + stats.superseded,
        "inserted": stats.inserted,
        "updated": stats.updated,
        "unchanged": stats.unchanged,
        "distributions_written": stats.distributions,
        "organizations_new": stats.organizations,
        "license_fallback": sum(1 for r in records if r.license_fallback),
    }
    return counts | _totals(session, source.id)


def _totals(session: Session, source_id: str) -> Counts:
    from tsunagu.catalog import Distribution

    datasets = session.scalar(
        select(func.count()).select_from(Dataset).where(Dataset.source_id == source_id)
    )
    distributions = session.scalar(
        select(func.count())
        .select_from(Distribution)
        .join(Dataset, Dataset.pk == Distribution.dataset_pk)
        .where(Dataset.source_id == source_id)
    )
    organizations = session.scalar(
        select(func.count(func.distinct(Dataset.organization_id))).where(
            Dataset.source_id == source_id
        )
    )
    return {
        "datasets": int(datasets or 0),
        "distributions": int(distributions or 0),
        "organizations": int(organizations or 0),
    }


def load_tokyo(bind: Bind, path: Path | None = None, *, progress: bool = False) -> Counts:
    """Load the 東京都 package_show dump (JSON lines, optionally gzipped)."""
    read = read_dump(path or sources.TOKYO_DUMP, progress=progress, total=TOKYO_RECORDS)
    with _session(bind) as session:
        return _store(session, sources.tokyo_2022(), read, progress=progress)


def _load_tokyo_2026(bind: Bind, progress: bool) -> Counts:
    read = read_packages(sorted(sources.TOKYO_2026.glob("*.json")))
    with _session(bind) as session:
        return _store(session, sources.tokyo_2026(), read, progress=progress)


def _read_single(path: Path) -> ReadResult:
    result = ReadResult()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        # xckan stores a list of package_show envelopes; data.gov.uk a single envelope.
        for item in document if isinstance(document, list) else [document]:
            try:
                result.records.append(package_to_record(unwrap(item)))
            except (BadRecord, ValueError, KeyError, TypeError, AttributeError) as exc:
                result.reject(path.name, exc)
    except (OSError, ValueError) as exc:
        result.reject(path.name, exc)
    return result


def _load_data_go_jp(bind: Bind, progress: bool) -> Counts:
    with _session(bind) as session:
        return _store(
            session, sources.data_go_jp(), _read_single(sources.DATA_GO_JP), progress=progress
        )


def _load_data_gov_uk(bind: Bind, progress: bool) -> Counts:
    with _session(bind) as session:
        return _store(
            session, sources.data_gov_uk(), _read_single(sources.DATA_GOV_UK), progress=progress
        )


def _load_ckan_portals(bind: Bind, progress: bool) -> Counts:
    records, bad = read_portals(sources.XCKAN_SITES)
    with _session(bind) as session:
        return _store(
            session, sources.ckan_portals(), ReadResult(records=records, bad=bad),
            progress=progress,
        )  # fmt: skip


def _load_standards(bind: Bind, progress: bool) -> Counts:
    with _session(bind) as session:
        suisho = _store(
            session, sources.recommended_datasets(),
            ReadResult(records=recommended_datasets()), progress=progress,
        )  # fmt: skip
        formal = _store(
            session, sources.standard_datasets(),
            ReadResult(records=[public_toilet_seishikiban()]), progress=progress,
        )  # fmt: skip
    return {f"suisho.{k}": v for k, v in suisho.items()} | {
        f"seishikiban.{k}": v for k, v in formal.items()
    }


def _load_licenses(bind: Bind, progress: bool) -> Counts:
    with _session(bind) as session:
        return {"count": ensure_licenses(session)}


def _load_codelists(bind: Bind, progress: bool) -> Counts:
    counts = {"lists": 0, "new_lists": 0, "new_entries": 0}
    with _session(bind) as session:
        abr, gif = sources.abr(), sources.gif()
        upsert_source(session, abr)
        upsert_source(session, gif)
        for data in tqdm(list(all_code_lists()), desc="codelists", disable=not progress,
                         leave=False):  # fmt: skip
            new, entries = write_code_list(
                session, data, abr.id if data.name.startswith("jp-") else gif.id
            )
            counts["lists"] += 1
            counts["new_lists"] += int(new)
            counts["new_entries"] += entries
    return counts


def _load_imi(bind: Bind, progress: bool) -> Counts:
    with _session(bind) as session:
        source = sources.imi()
        upsert_source(session, source)
        new, entries = write_code_list(session, read_imi(), source.id)
    return {"new_lists": int(new), "new_entries": entries}


SEED_SOURCES: dict[str, Callable[[Bind, bool], Counts]] = {
    "licenses": _load_licenses,
    "codelists": _load_codelists,
    "tokyo": lambda bind, progress: load_tokyo(bind, progress=progress),
    "tokyo-2026": _load_tokyo_2026,
    "data-go-jp": _load_data_go_jp,
    "data-gov-uk": _load_data_gov_uk,
    "ckan-portals": _load_ckan_portals,
    "standards": _load_standards,
    "imi": _load_imi,
    # address before corporations: the corporate step links seats to the 町字 it loaded
    "address": load_address,
    "corporations": registers.load_corporations,
    "laws": registers.load_laws,
    "ledger": load_ledger,
    "residents": load_residents,
}


def load_seed(
    engine: Bind, only: tuple[str, ...] | None = None, progress: bool = False
) -> dict[str, int]:
    """Load every seed source (idempotent); returns counts as ``"source.count": n``.

    ``engine`` may also be a Connection or a Session (tests); with a Session nothing is
    committed. Unknown names in ``only`` raise ValueError before anything is written.
    """
    names = list(only) if only else list(SEED_SOURCES)
    unknown = [n for n in names if n not in SEED_SOURCES]
    if unknown:
        raise ValueError(
            f"unknown seed source(s): {', '.join(unknown)}; known: {', '.join(SEED_SOURCES)}"
        )
    if "licenses" not in names:  # every dataset row refers to a licence
        names.insert(0, "licenses")
    counts: dict[str, int] = {}
    started = time.monotonic()
    for name in [n for n in SEED_SOURCES if n in names]:
        for key, value in SEED_SOURCES[name](engine, progress).items():
            counts[f"{name}.{key}"] = value
    counts["seconds"] = round(time.monotonic() - started)
    return counts


def seed_if_empty(engine: Bind, progress: bool = False) -> dict[str, int]:
    """Load the seed on first start; an installation that has any dataset is left as it is.

    The one exception: an installation seeded before the address registry existed gets the
    ABR files on its next start (the import is checkpointed, so this happens once).
    """
    with _session(engine) as session:
        if session.scalar(select(Dataset.pk).limit(1)) is not None:
            if has_address_data(session):
                return {}
            return load_seed(engine, only=("address",), progress=progress)
    return load_seed(engine, progress=progress)
