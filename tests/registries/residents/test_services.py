"""Services of the resident registry: history, as-of, events, and every kind of bad input."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.registries.residents.conftest import BIRTH, WAKAYAMA
from tsunagu.db import OutboxEvent, events_for
from tsunagu.kernel import NotFound, Problem, ValidationProblem, naive_utcnow
from tsunagu.registries.residents import (
    AddressInput,
    HistoryConflict,
    NewResident,
    PersonName,
    UnknownAddress,
    as_of,
    change_address,
    change_name,
    find_by_individual_number,
    generate,
    history,
    household_members,
    move_in,
    move_out,
    record_death,
    search,
)
from tsunagu.registries.residents.models import Resident, ResidentIndividualNumber

NUMBER = "621498320257"  # the synthetic worked example of shared/standards/identifiers
OTHER_NUMBER = "123456789018"
NAME = PersonName("山田", "花子", "ヤマダ", "はなこ")
SATO = PersonName("佐藤", "花子", "サトウ", "ハナコ")


def _person(residence: dict[str, str], **changes: object) -> NewResident:
    person = NewResident(name=NAME, birth_date=BIRTH, sex="2", individual_number=NUMBER,
                         address=AddressInput(**residence), moved_in_on=date(2010, 4, 1),
                         moved_from="大阪府大阪市北区")  # fmt: skip
    return replace(person, **changes)  # type: ignore[arg-type]


def test_a_life_in_versions_with_as_of_answers(loaded: Session, residence: dict[str, str]) -> None:
    first = move_in(loaded, WAKAYAMA, _person(residence))
    rid = first.resident_id
    assert first.address_level == "residence" and first.given_name_kana == "ハナコ"
    other = AddressInput(WAKAYAMA, residence["machiaza_id"], residence["blk_id"], "002")
    change_address(loaded, WAKAYAMA, rid, date(2015, 6, 1), other)
    change_name(loaded, WAKAYAMA, rid, date(2018, 3, 3), SATO)
    move_out(loaded, WAKAYAMA, rid, date(2020, 1, 10), "東京都文京区")
    versions = history(loaded, WAKAYAMA, rid)
    assert [v.change for v in versions] == ["moved_in", "address_changed", "name_changed",
                                            "moved_out"]  # fmt: skip
    assert as_of(loaded, WAKAYAMA, rid, date(2014, 1, 1)).rsdt_id == residence["rsdt_id"]
    assert as_of(loaded, WAKAYAMA, rid, date(2016, 1, 1)).rsdt_id == "002"
    assert as_of(loaded, WAKAYAMA, rid, date(2019, 1, 1)).family_name == "佐藤"
    assert as_of(loaded, WAKAYAMA, rid).status == "moved_out"
    with pytest.raises(NotFound, match="was not registered"):
        as_of(loaded, WAKAYAMA, rid, date(2009, 1, 1))
    topics = [e.topic for e in events_for(loaded, "resident.person.", rid)]
    assert topics == ["resident.person.moved_in", "resident.person.address_changed",
                      "resident.person.name_changed", "resident.person.moved_out"]  # fmt: skip
    renamed = events_for(loaded, "resident.person.name_changed", rid)[0].data
    assert renamed["before"]["family_name"] == "山田" and renamed["after"]["family_name"] == "佐藤"
    # After moving out the number is free: the person may move in again (a new record).
    again = move_in(loaded, WAKAYAMA, _person(residence, moved_in_on=date(2021, 1, 1)))
    assert find_by_individual_number(loaded, WAKAYAMA, NUMBER).resident_id == again.resident_id


def test_households_search_and_death(loaded: Session, residence: dict[str, str]) -> None:
    head = move_in(loaded, WAKAYAMA, _person(residence))
    child = move_in(loaded, WAKAYAMA, _person(
        residence, name=PersonName("山田", "太郎", "ヤマダ", "タロウ"), birth_date=date(2012, 2, 2),
        sex="1", individual_number=OTHER_NUMBER, moved_in_on=date(2012, 2, 2), moved_from="",
        household_id=head.household_id, relationship="child"))  # fmt: skip
    assert child.change == "born"
    members = household_members(loaded, WAKAYAMA, head.household_id)
    assert [m.resident_id for m in members] == [head.resident_id, child.resident_id]
    assert len(household_members(loaded, WAKAYAMA, head.household_id, date(2011, 1, 1))) == 1
    assert search(loaded, WAKAYAMA, kana="やまだ")[0] == 2
    assert search(loaded, WAKAYAMA, name="太郎")[1][0].resident_id == child.resident_id
    record_death(loaded, WAKAYAMA, head.resident_id, date(2022, 8, 1))
    assert search(loaded, WAKAYAMA, kana="ヤマダ")[0] == 1
    assert search(loaded, WAKAYAMA, kana="ヤマダ", include_former=True)[0] == 2
    assert search(loaded, WAKAYAMA, kana="ヤマダ", when=date(2020, 1, 1))[0] == 2


FUTURE = naive_utcnow().date() + timedelta(days=1)  # the services' clock


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"individual_number": "621498320258"}, ValidationProblem, "wrong check digit"),
        ({"individual_number": "62149832025"}, ValidationProblem, "12 ASCII digits"),
        ({"individual_number": "６２１４９８３２０２５７"}, ValidationProblem, "12 ASCII digits"),
        ({"birth_date": FUTURE}, ValidationProblem, "in the future"),
        ({"moved_in_on": FUTURE}, ValidationProblem, "in the future"),
        ({"moved_in_on": date(1979, 1, 1)}, ValidationProblem, "before the birth date"),
        ({"birth_date": date(1, 1, 1)}, ValidationProblem, "before 1900"),
        ({"sex": "3"}, ValidationProblem, "ISO 5218"),
        ({"name": PersonName("山田", "", "ヤマダ", "ハナコ")}, ValidationProblem, "given_name"),
        ({"name": PersonName("山田", "花子", "ヤマダ", "Hanako")}, ValidationProblem, "kana"),
        ({"relationship": "child"}, ValidationProblem, "first member is its head"),
        ({"household_id": "nosuchhousehold", "relationship": "child"}, NotFound, "household"),
        ({"address": AddressInput(WAKAYAMA, "9999999")}, UnknownAddress, "town 9999999"),
        ({"address": AddressInput("131059", "0001001")}, ValidationProblem, "lives in 302015"),
    ],
)  # fmt: skip
def test_bad_move_in_writes_nothing(loaded: Session, residence: dict[str, str],
                                    changes: dict[str, object], error: type[Problem],
                                    message: str) -> None:  # fmt: skip
    with pytest.raises(error, match=message) as caught:
        move_in(loaded, WAKAYAMA, _person(residence, **changes))
    assert NUMBER not in str(caught.value) and "621498320258" not in str(caught.value)
    assert loaded.scalar(select(func.count()).select_from(Resident)) == 0
    assert loaded.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_unknown_residence_and_number_in_use(loaded: Session, residence: dict[str, str]) -> None:
    with pytest.raises(UnknownAddress, match="residence"):
        move_in(loaded, WAKAYAMA, _person(residence, address=AddressInput(
            WAKAYAMA, residence["machiaza_id"], residence["blk_id"], "999")))  # fmt: skip
    move_in(loaded, WAKAYAMA, _person(residence))
    with pytest.raises(HistoryConflict, match="current resident"):
        move_in(loaded, WAKAYAMA, _person(residence))
    assert loaded.scalar(select(func.count()).select_from(Resident)) == 1


def test_conflicting_histories_are_rejected(loaded: Session, residence: dict[str, str]) -> None:
    rid = move_in(loaded, WAKAYAMA, _person(residence)).resident_id
    other = AddressInput(WAKAYAMA, residence["machiaza_id"], residence["blk_id"], "002")
    change_address(loaded, WAKAYAMA, rid, date(2015, 6, 1), other)
    with pytest.raises(HistoryConflict, match="before the resident's latest recorded change"):
        change_name(loaded, WAKAYAMA, rid, date(2014, 1, 1), NAME)
    with pytest.raises(ValidationProblem, match="current address"):
        change_address(loaded, WAKAYAMA, rid, date(2016, 1, 1), other)
    with pytest.raises(ValidationProblem, match="current name"):
        change_name(loaded, WAKAYAMA, rid, date(2016, 1, 1), NAME)
    with pytest.raises(ValidationProblem, match="in the future"):
        record_death(loaded, WAKAYAMA, rid, FUTURE)
    with pytest.raises(ValidationProblem, match="moved_to"):
        move_out(loaded, WAKAYAMA, rid, date(2016, 1, 1), " ")
    with pytest.raises(ValidationProblem, match="move out"):
        change_address(loaded, WAKAYAMA, rid, date(2016, 1, 1), AddressInput("131059", "0001001"))
    record_death(loaded, WAKAYAMA, rid, date(2020, 1, 1))
    with pytest.raises(HistoryConflict, match="no longer a resident"):
        move_out(loaded, WAKAYAMA, rid, date(2021, 1, 1), "東京都")
    with pytest.raises(NotFound):
        change_name(loaded, "131059", rid, date(2021, 1, 1), NAME)  # another municipality's id
    assert len(history(loaded, WAKAYAMA, rid)) == 3


def test_unverified_address_where_nothing_is_loaded(session: Session) -> None:
    person = NewResident(name=NAME, birth_date=BIRTH, sex="2", individual_number=NUMBER,
                         address=AddressInput("131059", text="東京都文京区白山一丁目1番1号"),
                         moved_in_on=date(2010, 4, 1), moved_from="大阪府")  # fmt: skip
    assert move_in(session, "131059", person).address_level == "unverified"
    with pytest.raises(ValidationProblem, match="give the address text"):
        move_in(session, "131059", replace(person, individual_number=OTHER_NUMBER,
                                           address=AddressInput("131059")))  # fmt: skip


def test_individual_numbers_never_reach_events_or_logs(
    loaded: Session, residence: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    generate(loaded, WAKAYAMA, 60, seed=4)
    rid = move_in(loaded, WAKAYAMA, _person(residence)).resident_id
    change_name(loaded, WAKAYAMA, rid, date(2012, 1, 1), SATO)
    change_address(
        loaded,
        WAKAYAMA,
        rid,
        date(2013, 1, 1),
        AddressInput(WAKAYAMA, residence["machiaza_id"], residence["blk_id"], "002"),
    )
    record_death(loaded, WAKAYAMA, rid, date(2014, 1, 1))
    with pytest.raises(ValidationProblem):
        move_in(loaded, WAKAYAMA, _person(residence, individual_number="621498320258"))
    numbers = loaded.scalars(select(ResidentIndividualNumber.individual_number)).all()
    assert len(numbers) == 61
    payloads = [json.dumps(e.data, ensure_ascii=False) + e.key
                for e in loaded.scalars(select(OutboxEvent))]  # fmt: skip
    assert len(payloads) == 4
    logs = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for number in [*numbers, "621498320258"]:
        assert not any(number in p for p in payloads)
        assert number not in logs
