"""The resident API: staff of the municipality only, access events, problem+json, no number out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.registries.residents.conftest import WAKAYAMA, staff_token
from tsunagu.db import OutboxEvent, events_for
from tsunagu.registries.residents import generate
from tsunagu.registries.residents.models import Resident, ResidentIndividualNumber

NUMBER = "621498320257"
BASE = f"/api/v1/residents/{WAKAYAMA}"


@pytest.fixture
def staff(loaded: Session) -> dict[str, str]:
    _, token = staff_token(loaded, "wakayama-city", "和歌山市", WAKAYAMA)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def other(loaded: Session) -> dict[str, str]:
    _, token = staff_token(loaded, "bunkyo", "文京区", "131059")
    return {"Authorization": token}


NAME = {"family_name": "山田", "given_name": "花子", "family_name_kana": "ヤマダ",
        "given_name_kana": "ハナコ"}  # fmt: skip


def _body(residence: dict[str, str], **changes: Any) -> dict[str, Any]:
    body = {"name": dict(NAME),
            "birth_date": "1980-05-01", "sex": "2", "individual_number": NUMBER,
            "address": dict(residence), "moved_in_on": "2010-04-01",
            "moved_from": "大阪府"}  # fmt: skip
    return body | changes


def test_staff_register_read_search_and_change(
    client: TestClient, loaded: Session, staff: dict[str, str], residence: dict[str, str]
) -> None:
    created = client.post(f"{BASE}/persons", json=_body(residence), headers=staff)
    assert created.status_code == 201, created.text
    rid, household = created.json()["resident_id"], created.json()["household_id"]
    assert NUMBER not in created.text and "individual_number" not in created.json()
    moved = client.post(f"{BASE}/persons/{rid}/address", headers=staff, json={
        "changed_on": "2015-06-01", "address": residence | {"rsdt_id": "002"}})  # fmt: skip
    assert moved.status_code == 200 and moved.json()["version"] == 2
    assert client.get(f"{BASE}/persons/{rid}", headers=staff).json()["rsdt_id"] == "002"
    old = client.get(f"{BASE}/persons/{rid}?as_of=2012-01-01", headers=staff).json()
    assert old["rsdt_id"] == residence["rsdt_id"] and old["relationship_label"] == "世帯主"
    history = client.get(f"{BASE}/persons/{rid}/history", headers=staff).json()["history"]
    assert [h["change"] for h in history] == ["moved_in", "address_changed"]
    found = client.get(f"{BASE}/persons", params={"kana": "やまだ"}, headers=staff).json()
    assert found["total"] == 1 and found["items"][0]["resident_id"] == rid
    members = client.get(f"{BASE}/households/{household}", headers=staff).json()["members"]
    assert [m["resident_id"] for m in members] == [rid]
    looked = client.post(f"{BASE}/lookup", json={"individual_number": NUMBER}, headers=staff)
    assert looked.json()["resident_id"] == rid and NUMBER not in looked.text
    for path, body in (("name", {"changed_on": "2016-01-01", "name": {
            "family_name": "佐藤", "given_name": "花子", "family_name_kana": "サトウ",
            "given_name_kana": "ハナコ"}}), ("move-out", {"moved_out_on": "2017-01-01",
            "moved_to": "東京都文京区"})):  # fmt: skip
        assert client.post(f"{BASE}/persons/{rid}/{path}", json=body, headers=staff).is_success
    second = client.post(f"{BASE}/persons", headers=staff, json=_body(
        residence, individual_number="123456789018", moved_in_on="2018-01-01"))  # fmt: skip
    death = client.post(f"{BASE}/persons/{second.json()['resident_id']}/death",
                        json={"died_on": "2019-01-01"}, headers=staff)  # fmt: skip
    assert death.json()["status"] == "deceased"
    reads = [e.data for e in events_for(loaded, "resident.access.read")]
    assert [r["action"] for r in reads] == ["read", "read", "history", "search", "household",
                                            "lookup_by_individual_number"]  # fmt: skip
    assert all(r["organization"] == "wakayama-city" and r["resident_ids"] == [rid] for r in reads)
    every = [json.dumps(e.data, ensure_ascii=False) for e in loaded.scalars(select(OutboxEvent))]
    assert not any(NUMBER in p or "123456789018" in p for p in every)


def test_only_the_municipalitys_staff_get_in(
    client: TestClient, loaded: Session, staff: dict[str, str], other: dict[str, str]
) -> None:
    generate(loaded, WAKAYAMA, 5, seed=1)
    loaded.commit()
    rid = loaded.scalar(select(Resident.id))
    for path in (f"{BASE}/persons", f"{BASE}/persons/{rid}", f"{BASE}/persons/{rid}/history"):
        anonymous = client.get(path)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert client.get(path, headers=other).status_code == 403
        assert client.get(path, headers={"Authorization": "tsu_forged"}).status_code == 401
    assert client.post(f"{BASE}/lookup", json={"individual_number": NUMBER}).status_code == 401
    # 文京区's staff asking their own municipality for a 和歌山市 resident: not found.
    assert client.get(f"/api/v1/residents/131059/persons/{rid}", headers=other).status_code == 404
    assert client.get(f"{BASE}/persons/{rid}", headers=staff).status_code == 200
    _, token = staff_token(loaded, "no-municipality", "省庁", None)
    assert client.get(f"{BASE}/persons", headers={"Authorization": token}).status_code == 403


@pytest.mark.parametrize(
    ("changes", "status", "slug"),
    [
        ({"individual_number": "621498320258"}, 422, "validation-error"),
        ({"birth_date": "0000-00-00"}, 422, "validation-error"),
        ({"moved_in_on": "2999-01-01"}, 422, "validation-error"),
        ({"address": {"lg_code": WAKAYAMA, "machiaza_id": "9999999"}}, 422, "unknown-address"),
        ({"sex": "x"}, 422, "validation-error"),
        ({"extra": 1}, 422, "validation-error"),
        # Invisible or reordering characters in a name: zero-width space, right-to-left
        # override, private use, a line separator, a control character.
        *(({"name": NAME | {"given_name": f"花{c}子"}}, 422, "validation-error")
          for c in ("\u200b", "\u202e", "\ue000", "\u2028", "\x07")),
    ],
)  # fmt: skip
def test_bad_input_is_problem_json_and_writes_nothing(
    client: TestClient, loaded: Session, staff: dict[str, str], residence: dict[str, str],
    changes: dict[str, Any], status: int, slug: str,
) -> None:  # fmt: skip
    response = client.post(f"{BASE}/persons", json=_body(residence, **changes), headers=staff)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("#" + slug)
    assert "621498320258" not in response.text
    assert loaded.scalar(select(func.count()).select_from(ResidentIndividualNumber)) == 0


def test_a_name_with_a_variation_selector_is_kept_as_written(
    client: TestClient, loaded: Session, staff: dict[str, str], residence: dict[str, str]
) -> None:
    """異体字 written with an ideographic variation selector (邊 + U+E0104) is a name, not noise."""
    name = NAME | {"family_name": "渡\U000e0104邊\U000e0104"}
    created = client.post(f"{BASE}/persons", json=_body(residence, name=name), headers=staff)
    assert created.status_code == 201, created.text
    read = client.get(f"{BASE}/persons/{created.json()['resident_id']}", headers=staff)
    assert read.json()["family_name"] == "渡\U000e0104邊\U000e0104"


def test_conflicts_and_unknown_ids(
    client: TestClient, loaded: Session, staff: dict[str, str], residence: dict[str, str]
) -> None:
    rid = client.post(f"{BASE}/persons", json=_body(residence), headers=staff).json()["resident_id"]
    early = client.post(f"{BASE}/persons/{rid}/death", json={"died_on": "2005-01-01"},
                        headers=staff)  # fmt: skip
    assert early.status_code == 409 and early.json()["type"].endswith("#history-conflict")
    assert client.post(f"{BASE}/persons", json=_body(residence), headers=staff).status_code == 409
    assert client.get(f"{BASE}/persons/nosuch", headers=staff).status_code == 404
    assert client.get(f"{BASE}/households/nosuch", headers=staff).status_code == 404
    unknown = client.post(f"{BASE}/lookup", json={"individual_number": "123456789018"},
                          headers=staff)  # fmt: skip
    assert unknown.status_code == 404 and "123456789018" not in unknown.text
    bad_date = client.get(f"{BASE}/persons/{rid}?as_of=2020-13-01", headers=staff)
    assert bad_date.status_code == 422


@pytest.mark.parametrize(
    "changes",
    [
        {"moved_from": "大阪府\x00"},
        {"relationship": "head\x00"},
        {"household_id": "\x00"},
        {"address": {"text": "和歌山市\x00"}},
        {"address": {"detail": "1\x00"}},
    ],
)
def test_a_nul_character_in_a_body_is_a_422_and_writes_nothing(
    client: TestClient, loaded: Session, staff: dict[str, str], residence: dict[str, str],
    changes: dict[str, Any],
) -> None:  # fmt: skip
    """PostgreSQL text cannot hold NUL: the body is refused, not a database error (500)."""
    if "address" in changes:
        changes = {"address": residence | changes["address"]}
    response = client.post(f"{BASE}/persons", json=_body(residence, **changes), headers=staff)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "NUL" in response.json()["detail"]
    assert loaded.scalar(select(func.count()).select_from(Resident)) == 0


def test_a_nul_character_in_a_change_is_a_422_and_keeps_the_history(
    client: TestClient, loaded: Session, staff: dict[str, str], residence: dict[str, str]
) -> None:
    rid = client.post(f"{BASE}/persons", json=_body(residence), headers=staff).json()["resident_id"]
    name = {"family_name": "佐藤", "given_name": "花子", "family_name_kana": "サトウ",
            "given_name_kana": "ハナコ"}  # fmt: skip
    for path, body in (
        ("move-out", {"moved_out_on": "2017-01-01", "moved_to": "東京都\x00文京区"}),
        ("address", {"changed_on": "2015-06-01", "address": residence | {"detail": "\x00"}}),
        ("address", {"changed_on": "2015-06-01", "address": residence, "relationship": "\x00"}),
        ("name", {"changed_on": "2016-01-01", "name": name, "extra\x00": 1}),
        ("death", {"died_on": "2019-01-01\x00"}),
    ):
        response = client.post(f"{BASE}/persons/{rid}/{path}", json=body, headers=staff)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    history = client.get(f"{BASE}/persons/{rid}/history", headers=staff).json()["history"]
    assert [h["change"] for h in history] == ["moved_in"]


@pytest.mark.parametrize("value", ["19800501", "1980-W18-4", "1980-122", "1980-05-01T00:00"])
def test_dates_are_only_yyyy_mm_dd(
    client: TestClient, loaded: Session, staff: dict[str, str], residence: dict[str, str],
    value: str,
) -> None:  # fmt: skip
    """What the API documents and its errors say; not every form date.fromisoformat reads."""
    response = client.post(f"{BASE}/persons", json=_body(residence, birth_date=value),
                           headers=staff)  # fmt: skip
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "birth_date"
    assert loaded.scalar(select(func.count()).select_from(Resident)) == 0
