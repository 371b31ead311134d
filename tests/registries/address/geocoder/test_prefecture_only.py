"""A prefecture written alone (東京都, 北海道) geocodes to the prefecture, as 千葉県 always did."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.registries.address.geocoder.conftest import ABR_DATA
from tsunagu.registries.address import import_files
from tsunagu.registries.address.geocoder import Geocoder


@pytest.mark.parametrize(
    ("written", "pref"),
    [
        ("東京都", "東京都"),
        ("北海道", "北海道"),
        ("京都府", "京都府"),
        ("大阪府", "大阪府"),
        ("和歌山県", "和歌山県"),
        ("神奈川県", "神奈川県"),
        ("鹿児島県", "鹿児島県"),
        ("千葉県", "千葉県"),  # folds to 1000葉県, the longest key
        ("東京都　", "東京都"),  # a full-width space after it
        ("東 京 都", "東京都"),
        ("　和歌山県 ", "和歌山県"),
    ],
)
def test_a_bare_prefecture_matches_the_prefecture(
    geocoder: Geocoder, written: str, pref: str
) -> None:
    result = geocoder.geocode(written)
    assert (result.match_level, result.pref, result.lg_code) == ("prefecture", pref, None)
    assert result.output == pref and result.others == []
    assert result.lat is not None and result.score == 1.0


def test_a_prefecture_short_name_alone_stays_unknown(geocoder: Geocoder) -> None:
    # 東京 without 都 is only read as the prefecture when a municipality follows.
    assert geocoder.geocode("東京").match_level == "unknown"


@pytest.fixture
def prefectures(connection: Connection) -> Connection:
    import_files(connection, [ABR_DATA / "mt_pref_all.csv.zip", ABR_DATA / "mt_city_all.csv.zip"])
    return connection


def test_api_answers_a_bare_prefecture_in_full(prefectures: Connection, client: TestClient) -> None:
    response = client.get("/api/v1/address/geocode", params={"address": "東京都"})
    assert response.status_code == 200
    [element] = response.json()
    assert element["result"]["match_level"] == "prefecture"


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "geojson"])
def test_a_batch_with_a_bare_prefecture_is_not_cut_short(
    prefectures: Connection, client: TestClient, fmt: str
) -> None:
    addresses = ["和歌山県", "東京都　", "北海道", "文京区"]
    response = client.post("/api/v1/address/geocode", json={"addresses": addresses, "format": fmt})
    assert response.status_code == 200
    body = response.text
    if fmt == "json":
        assert [e["result"]["pref"] for e in json.loads(body)] == [
            "和歌山県", "東京都", "北海道", "東京都"
        ]  # fmt: skip
    elif fmt == "geojson":
        assert len(json.loads(body)["features"]) == 4
    elif fmt == "ndjson":
        lines = body.splitlines()
        assert len(lines) == 4 and json.loads(lines[-1])["query"]["input"] == "文京区"
    else:
        rows = list(csv.reader(io.StringIO(body)))
        assert len(rows) == 1 + 4 and rows[-1][0] == "文京区"
