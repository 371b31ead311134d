"""bench/abrg.py's re-cut of our ABR zips for abr-geocoder (no Node.js needed): every row lands in
a file of its own municipality (or prefecture, for 市区町村), nothing is lost or added, and tsunagu
reads the cut files into the same index as the originals."""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import pytest
from bench.abrg import kyoto_positions, split_for_abrg

from tests.conftest import SHARED
from tsunagu.registries.address.geocoder import FileAddressSource, build_index, read_abr_csv

ABR = SHARED / "abr-data"
CURRENT = [
    ABR / "mt_pref_all.csv.zip",
    ABR / "mt_city_all.csv.zip",
    ABR / "mt_town_pref30.csv.zip",
    ABR / "mt_town_pos_pref30.csv.zip",
    ABR / "mt_rsdtdsp_rsdt_pref30.csv.zip",
]
OLD_30 = ABR / "abr-2022-04" / "mt_town_pref30.csv.zip"  # 和歌山県 again, 2022: must give way
OLD_26 = ABR / "abr-2022-04" / "mt_town_pref26.csv.zip"  # 京都府, 2022: only 京都市 kept


def _dataset(path: Path) -> str:
    """town for mt_town_pref30.csv.zip, rsdtdsp_rsdt for mt_rsdtdsp_rsdt_city302015.csv.zip"""
    return path.name.removeprefix("mt_").rsplit("_", 1)[0]


def _keys(paths: list[Path], kind: str) -> Counter[tuple[str | None, ...]]:
    rows = (row for p in paths if _dataset(p) == kind for row in read_abr_csv(p))
    return Counter((r["lg_code"], r.get("machiaza_id"), r.get("rsdt_id")) for r in rows)


def test_rows_are_regrouped_per_municipality(tmp_path: Path) -> None:
    out = split_for_abrg([*CURRENT, OLD_30, OLD_26], tmp_path, old_towns="261")
    for path in out:
        scope = path.name.split("_")[-1].removesuffix(".csv.zip")
        codes = {row["lg_code"] for row in read_abr_csv(path)}
        if scope.startswith("city"):
            assert codes == {scope.removeprefix("city")}, path.name
        elif scope.startswith("pref"):
            assert {c[:2] for c in codes} == {scope.removeprefix("pref")}, path.name
        else:
            assert path.name.startswith("mt_pref"), path.name
    kyoto = Counter(k for k in _keys([OLD_26], "town") if str(k[0]).startswith("261"))
    assert kyoto
    assert _keys(out, "town") == _keys([ABR / "mt_town_pref30.csv.zip"], "town") + kyoto
    residences = [ABR / "mt_rsdtdsp_rsdt_pref30.csv.zip"]
    assert _keys(out, "rsdtdsp_rsdt") == _keys(residences, "rsdtdsp_rsdt")
    assert _keys(out, "city") == _keys([ABR / "mt_city_all.csv.zip"], "city")
    assert len([p for p in out if p.name.startswith("mt_city_pref")]) == 47


def test_2022_towns_get_todays_headers(tmp_path: Path) -> None:
    out = split_for_abrg([OLD_26], tmp_path, old_towns="261")
    with zipfile.ZipFile(out[0]) as archive:
        header = archive.read(archive.namelist()[0]).decode().splitlines()[0].split(",")
    assert header[:2] == ["lg_code", "machiaza_id"]
    assert header.index("machiaza_dist") == header.index("koaza_roma") + 1
    assert len(header) == 38


def test_tsunagu_reads_the_cut_files_into_the_same_index(tmp_path: Path) -> None:
    out = split_for_abrg(CURRENT, tmp_path)
    assert (
        build_index(FileAddressSource(out)).counts == build_index(FileAddressSource(CURRENT)).counts
    )


def test_the_same_file_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both give"):
        split_for_abrg([ABR / "mt_pref_all.csv.zip"] * 2, tmp_path)


def test_kyoto_positions_come_from_the_e2e_expectations(tmp_path: Path) -> None:
    out = kyoto_positions(SHARED / "abr-geocoder" / "e2e" / "test-data", tmp_path)
    rows = [row for path in out for row in read_abr_csv(path)]
    assert len(rows) > 100
    assert all(str(r["lg_code"]).startswith("261") for r in rows)
    assert all(34.8 < float(str(r["rep_lat"])) < 35.4 for r in rows)
    assert {path.name for path in out} == {f"mt_town_pos_city{r['lg_code']}.csv.zip" for r in rows}


def test_kyoto_positions_without_expectations_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no 京都市 positions"):
        kyoto_positions(tmp_path, tmp_path)
