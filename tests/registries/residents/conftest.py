"""Fixtures of the resident registry tests: a small real ABR slice of 和歌山市, loaded per test."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.conftest import SHARED
from tsunagu.accounts import Caller, create_organization, create_token
from tsunagu.registries.address import import_files, iter_residences

ABR = SHARED / "abr-data"
WAKAYAMA = "302015"
TOWNS = 25  # the first towns of 和歌山市 (by machiaza_id), and their residences


def _slice(source: str, target: Path, keep: int) -> Path:
    """A copy of an ABR zip with the rows of 和歌山市's first ``keep`` towns only."""
    with zipfile.ZipFile(ABR / source) as archive:
        info = archive.infolist()[0]
        header, *rows = archive.read(info).decode("utf-8-sig").splitlines()
    towns = sorted({r.split(",")[1] for r in rows if r.startswith(WAKAYAMA + ",")})[:keep]
    kept = [r for r in rows if r.startswith(WAKAYAMA + ",") and r.split(",")[1] in towns]
    member = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    with zipfile.ZipFile(target / source, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(member, "\r\n".join([header, *kept]) + "\r\n")
    return target / source


@pytest.fixture(scope="session")
def abr_slice(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Zips: 和歌山市's first towns (mt_town) and their 住居表示 residences (mt_rsdtdsp_rsdt)."""
    target = tmp_path_factory.mktemp("abr")
    return {
        "town": _slice("mt_town_pref30.csv.zip", target, TOWNS),
        "rsdt": _slice("mt_rsdtdsp_rsdt_pref30.csv.zip", target, TOWNS),
    }


@pytest.fixture
def towns_only(session: Session, abr_slice: dict[str, Path]) -> Session:
    """The session with 和歌山市's towns loaded, but none of its residences."""
    import_files(session, [abr_slice["town"]])
    return session


@pytest.fixture
def loaded(towns_only: Session, abr_slice: dict[str, Path]) -> Session:
    """The session with 和歌山市's towns and residences loaded."""
    import_files(towns_only, [abr_slice["rsdt"]])
    return towns_only


@pytest.fixture
def residence(loaded: Session) -> dict[str, str]:
    """The keys of one real residence of 和歌山市."""
    row = next(iter_residences(loaded, [WAKAYAMA]))
    return {k: row[k] for k in ("lg_code", "machiaza_id", "blk_id", "rsdt_id")}


def staff_token(session: Session, name: str, title: str, lg_code: str | None) -> tuple[Caller, str]:
    org = create_organization(session, name, title, lg_code=lg_code)
    row, token = create_token(session, org.name, "tests")
    session.commit()
    return Caller(org.id, org.name, row.id), token


BIRTH = date(1980, 5, 1)
