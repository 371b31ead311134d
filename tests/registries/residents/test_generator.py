"""The synthetic-resident generator: deterministic, valid, at real addresses, never half-done."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.registries.residents.conftest import WAKAYAMA
from tsunagu.db import events_for
from tsunagu.kernel import ValidationProblem, is_valid_individual_number, naive_utcnow
from tsunagu.registries.address import iter_residences, iter_towns
from tsunagu.registries.residents import generate
from tsunagu.registries.residents.models import (
    Resident,
    ResidentIndividualNumber,
    ResidentVersion,
)
from tsunagu.seed.residents import load_residents


def _snapshot(session: Session) -> list[tuple[object, ...]]:
    rows = session.execute(
        select(ResidentVersion.resident_id, ResidentVersion.version, ResidentVersion.family_name,
               ResidentVersion.given_name, ResidentVersion.birth_date, ResidentVersion.address_text,
               ResidentIndividualNumber.individual_number)
        .join(ResidentIndividualNumber,
              ResidentIndividualNumber.resident_id == ResidentVersion.resident_id)
        .order_by(ResidentVersion.resident_id, ResidentVersion.version)
    ).all()  # fmt: skip
    return [tuple(r) for r in rows]


def test_same_seed_same_people_other_seed_other_people(loaded: Session) -> None:
    runs = []
    for seed in (5, 5, 6):
        savepoint = loaded.begin_nested()
        generate(loaded, WAKAYAMA, 120, seed=seed)
        runs.append(_snapshot(loaded))
        savepoint.rollback()
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_generated_residents_are_valid_synthetic_and_at_real_residences(loaded: Session) -> None:
    report = generate(loaded, WAKAYAMA, 300, seed=1)
    assert report.residents == 300 and report.address_level == "residence"
    residents = loaded.scalars(select(Resident)).all()
    assert len(residents) == 300 and all(r.synthetic for r in residents)
    numbers = loaded.scalars(select(ResidentIndividualNumber.individual_number)).all()
    assert len(set(numbers)) == 300
    assert all(is_valid_individual_number(n) for n in numbers)
    real = {(r["machiaza_id"], r["blk_id"], r["rsdt_id"], r["rsdt2_id"])
            for r in iter_residences(loaded, [WAKAYAMA])}  # fmt: skip
    versions = loaded.scalars(select(ResidentVersion)).all()
    assert {(v.machiaza_id, v.blk_id, v.rsdt_id, v.rsdt2_id) for v in versions} <= real
    assert all(v.address_text.startswith("和歌山県和歌山市") for v in versions)
    # Plausible: households of several sizes, both sexes, children and elderly, some history.
    assert report.households < 300
    ages = [2025 - v.birth_date.year for v in versions if v.valid_to is None]
    assert min(ages) < 15 and max(ages) > 75
    assert set(Counter(v.sex for v in versions)) == {"1", "2"}
    assert {v.change for v in versions} >= {"moved_in", "born", "address_changed"}


def test_histories_are_consistent(loaded: Session) -> None:
    generate(loaded, WAKAYAMA, 400, seed=2)
    by_resident: dict[str, list[ResidentVersion]] = {}
    for v in loaded.scalars(select(ResidentVersion).order_by(ResidentVersion.version)):
        by_resident.setdefault(v.resident_id, []).append(v)
    for versions in by_resident.values():
        assert [v.version for v in versions] == list(range(1, len(versions) + 1))
        assert versions[0].valid_from >= versions[0].birth_date
        for older, newer in itertools.pairwise(versions):
            assert older.valid_to == newer.valid_from and older.status == "resident"
        assert versions[-1].valid_to is None
        assert versions[-1].valid_from <= naive_utcnow().date()
    heads = Counter(v.household_id for vs in by_resident.values() for v in vs[-1:]
                    if v.relationship == "head" and v.status == "resident")  # fmt: skip
    assert set(heads.values()) == {1}  # one head per household


def test_generation_records_no_events(loaded: Session) -> None:
    generate(loaded, WAKAYAMA, 50, seed=1)
    assert list(events_for(loaded, "resident.")) == []


def test_falls_back_to_town_addresses_without_residences(towns_only: Session) -> None:
    report = generate(towns_only, WAKAYAMA, 40, seed=1)
    assert report.address_level == "town"
    towns = {t["machiaza_id"] for t in iter_towns(towns_only, [WAKAYAMA])}
    versions = towns_only.scalars(select(ResidentVersion)).all()
    assert all(v.machiaza_id in towns and v.rsdt_id is None for v in versions)
    assert all(v.address_text.endswith("番地") for v in versions)


@pytest.mark.parametrize(
    ("lg_code", "count", "message"),
    [("302016", 10, "not a valid"), ("131059", 10, "no towns of 131059"),
     (WAKAYAMA, 0, "count must be"), (WAKAYAMA, -3, "count must be")],
)  # fmt: skip
def test_bad_requests_write_nothing(loaded: Session, lg_code: str, count: int,
                                    message: str) -> None:  # fmt: skip
    with pytest.raises(ValidationProblem, match=message):
        generate(loaded, lg_code, count)
    assert loaded.scalar(select(Resident.id).limit(1)) is None


def test_seed_source_creates_the_municipalities_and_is_idempotent(loaded: Session) -> None:
    first = load_residents(loaded)
    assert first["organizations_new"] == 2 and first["residents"] == 500
    assert first["skipped"] == 1  # 文京区 has no towns in this slice
    again = load_residents(loaded)
    assert again["residents"] == 0 and again["organizations_new"] == 0
