"""The geocode API and CLI over the registry database (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.registries.address.geocoder.conftest import ABR_DATA
from tsunagu.registries.address import import_files


def _slice(source: Path, target: Path, keep: str) -> Path:
    """A smaller copy of an ABR zip (same file name, so the importer knows its kind)."""
    with zipfile.ZipFile(source) as archive:
        name = archive.namelist()[0]
        lines = archive.read(name).decode("utf-8-sig").splitlines(keepends=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as out:
        out.writestr(name, "".join([lines[0], *(ln for ln in lines[1:] if keep in ln)]))
    return target


@pytest.fixture
def registry(connection: Connection, tmp_path: Path) -> Connection:
    rsdt = "mt_rsdtdsp_rsdt_pref30.csv.zip"
    rsdt_pos = "mt_rsdtdsp_rsdt_pos_pref30.csv.zip"
    import_files(
        connection,
        [
            ABR_DATA / "mt_pref_all.csv.zip",
            ABR_DATA / "mt_city_all.csv.zip",
            _slice(
                ABR_DATA / "mt_town_pref30.csv.zip",
                tmp_path / "t" / "mt_town_pref30.csv.zip",
                "302015,",
            ),
            _slice(ABR_DATA / rsdt, tmp_path / "r" / rsdt, "302015,0001000,001,"),
            _slice(ABR_DATA / rsdt_pos, tmp_path / "p" / rsdt_pos, "302015,0001000,001,"),
        ],
    )
    return connection


def test_geocode_json_has_abr_geocoder_fields(registry: Connection, client: TestClient) -> None:
    response = client.get("/api/v1/address/geocode", params={"address": "和歌山市葵町1-2 3F"})
    assert response.status_code == 200
    [element] = response.json()
    assert element["query"] == {"input": "和歌山市葵町1-2 3F"}
    result = element["result"]
    assert result["match_level"] == "residential_detail"
    assert (
        result["lg_code"] == "302015" and result["blk_id"] == "001" and result["rsdt_id"] == "002"
    )
    assert result["output"] == "和歌山県和歌山市葵町1-2 3F" and result["others"] == ["3F"]
    assert result["lat"] is not None


@pytest.mark.parametrize(
    ("fmt", "media"),
    [("ndjson", "application/x-ndjson"), ("csv", "text/csv"), ("geojson", "application/geo+json")],
)
def test_geocode_formats(registry: Connection, client: TestClient, fmt: str, media: str) -> None:
    response = client.get(
        "/api/v1/address/geocode", params={"address": "和歌山県和歌山市葵町1-2", "format": fmt}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    if fmt == "ndjson":
        assert json.loads(response.text.splitlines()[0])["result"]["rsdt_num"] == "2"
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert rows[0]["match_level"] == "residential_detail" and rows[0]["rsdt2_id"] == ""
    else:
        feature = response.json()["features"][0]
        assert feature["geometry"]["type"] == "Point"
        assert feature["properties"]["result"]["lg_code"] == "302015"


def test_batch_post_answers_in_order(registry: Connection, client: TestClient) -> None:
    response = client.post(
        "/api/v1/address/geocode",
        json={"addresses": ["和歌山市葵町1-2", "", "😀", "和歌山市"], "format": "ndjson"},
    )
    assert response.status_code == 200
    levels = [json.loads(line)["result"]["match_level"] for line in response.text.splitlines()]
    assert levels == ["residential_detail", "unknown", "unknown", "city"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"address": "x", "target": "nope"},
        {"address": "x", "format": "xml"},
        {"address": "x" * 10_001},
        {"address": "a\x00b"},
    ],
)
def test_bad_requests_are_problems(
    registry: Connection, client: TestClient, params: dict[str, str]
) -> None:
    response = client.get("/api/v1/address/geocode", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_bad_input_is_level_zero_over_http(registry: Connection, client: TestClient) -> None:
    for bad in ["hello", "🏠🏠", "\x01\x02", "東" * 5000]:
        response = client.get("/api/v1/address/geocode", params={"address": bad})
        assert response.status_code == 200
        assert response.json()[0]["result"]["match_level"] in ("unknown", "prefecture")


def test_empty_registry_answers_unknown(client: TestClient) -> None:
    response = client.get("/api/v1/address/geocode", params={"address": "和歌山市葵町1-2"})
    assert response.status_code == 200
    assert response.json()[0]["result"]["match_level"] == "unknown"


def test_cli_geocodes_arguments_and_stdin(
    registry: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the CLI opens its own engine from settings; point it at the test transaction instead
    from sqlalchemy.orm import sessionmaker

    from tsunagu.cli import main
    from tsunagu.registries.address.geocoder import build_index, dbsource
    from tsunagu.registries.address.geocoder.matcher import Geocoder

    sessions = sessionmaker(bind=registry, join_transaction_mode="create_savepoint")
    geocoder = Geocoder(build_index(dbsource.DbAddressSource(sessions)))
    monkeypatch.setattr(
        "tsunagu.registries.address.geocoder.build_index", lambda source: geocoder.index
    )
    runner = CliRunner()
    result = runner.invoke(main, ["address", "geocode", "--format", "ndjson", "和歌山市葵町1-2"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["result"]["rsdt_id"] == "002"
    result = runner.invoke(
        main, ["address", "geocode", "--format", "csv"], input="和歌山市葵町1-1\n\n# note\n😀\n"
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["match_level"] for r in rows] == ["residential_detail", "unknown"]
