"""The whole shipped ABR seed (with the 2022 national town master) loaded once into its own DB."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.conftest import migrated_engine
from tsunagu.db import events_for
from tsunagu.registries.address import (
    iter_blocks,
    iter_municipalities,
    iter_parcels,
    iter_residences,
    iter_towns,
)
from tsunagu.registries.address.models import import_source, town
from tsunagu.seed.address import address_files, load_address


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, int]]]:
    with migrated_engine(tmp_path_factory.mktemp("abr"), "abr") as engine:
        started = time.monotonic()
        counts = load_address(engine)
        counts["seconds"] = round(time.monotonic() - started)
        yield engine, counts


def test_loads_every_shipped_file_without_broken_rows(
    national: tuple[Engine, dict[str, int]],
) -> None:
    engine, counts = national
    assert all(Path(p).exists() for p in address_files())
    # 63 ABR CSVs and 4 blockList.json files (街区 rows and positions each)
    assert len(address_files()) == 67 and counts["files"] == 71
    assert counts["broken"] == 0
    # First loads emit no events; only the second 千代田区 街区 slice adds 6 街区 to a
    # municipality that already had some (from the first slice).
    assert counts["events"] == 6
    assert counts["seconds"] < 240
    with Session(engine) as session:
        towns = session.scalar(select(func.count()).select_from(town))
        # 2022's 739,161 rows, minus 13/30/45 (newer files) plus those files' rows
        assert towns is not None and 700_000 < towns < 760_000


def test_newest_file_wins_for_tokyo_wakayama_miyazaki(
    national: tuple[Engine, dict[str, int]],
) -> None:
    engine, counts = national
    assert counts["superseded"] > 10_000  # the 2022 rows of 東京都, 和歌山県 and 宮崎県
    with Session(engine) as session:
        dates = dict(
            session.execute(
                select(import_source.c.lg_code, import_source.c.file_date).where(
                    import_source.c.kind == "mt_town"
                )
            ).all()
        )
        assert dates["131016"] == date(2026, 3, 10)
        assert dates["452017"] == date(2025, 5, 28)
        assert dates["011011"] == date(2022, 4, 26)  # 札幌市中央区: only the 2022 file
        assert len(dates) > 1800


def test_read_interface_streams_every_kind_with_positions(
    national: tuple[Engine, dict[str, int]],
) -> None:
    engine, _ = national
    with Session(engine) as session:
        sapporo = list(iter_towns(session, ["011011"]))
        assert sapporo and all(t["city"] == "札幌市" and t["ward"] == "中央区" for t in sapporo)
        bunkyo = list(iter_residences(session, ["131059"]))
        assert len(bunkyo) > 29_000
        assert sum(r["rep_lat"] is not None for r in bunkyo) > 29_000
        yakushima = list(iter_parcels(session, ["465054"]))
        assert len(yakushima) > 80_000 and yakushima[0]["prc_num1"]
        assert sum(p["rep_lon"] is not None for p in yakushima) > 80_000
        cities = list(iter_municipalities(session))
        assert len(cities) > 1_800
        blocks = list(iter_blocks(session, ["130001"]))
        assert len(blocks) == 64 and all(b["rep_lat"] for b in blocks)


def test_reloading_the_seed_skips_every_file(national: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = national
    again = load_address(engine)
    assert again["skipped_files"] == again["files"] == 71 and again["rows"] == 0
    with Session(engine) as session:
        assert len(events_for(session, "address.")) == 6  # from the first load, none added
