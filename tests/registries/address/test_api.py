"""The address API: lookups, children, search, postal codes, as-of, bad input as problem+json."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tsunagu.registries.address import import_files

from .conftest import ABR

FILES = [
    ABR / "mt_pref_all.csv.zip",
    ABR / "mt_pref_pos_all.csv.zip",
    ABR / "mt_city_all.csv.zip",
    ABR / "mt_city_pos_all.csv.zip",
    ABR / "mt_town_pref30.csv.zip",
    ABR / "mt_town_pos_pref30.csv.zip",
    ABR / "mt_town_pref13.csv.zip",
]
API = "/api/v1/address"


@pytest.fixture
def loaded(connection: Connection) -> None:
    import_files(connection, FILES)


def _problem(client: TestClient, url: str, status: int) -> dict[str, object]:
    response = client.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["type"].startswith("https://")
    return dict(body)


def test_prefecture_and_municipality_by_lg_code(client: TestClient, loaded: None) -> None:
    pref = client.get(f"{API}/lg/300004").json()
    assert (pref["level"], pref["pref"], pref["pref_roma"]) == (
        "prefecture",
        "和歌山県",
        "Wakayama",
    )
    assert (
        pref["gif"]["prefecture"] == "和歌山県" and pref["gif"]["localGovernmentCode"] == "300004"
    )
    assert pref["rep_lat"] is not None and pref["source_file"] == "mt_pref_all.csv.zip"
    ward = client.get(f"{API}/lg/011011").json()
    assert (ward["city"], ward["ward"]) == ("札幌市", "中央区")
    assert ward["gif"]["cityAndCounty"] == "札幌市中央区" and ward["gif"]["ward"] == "中央区"
    prefs = client.get(f"{API}/prefectures").json()["items"]
    assert len(prefs) == 47 and prefs[12]["pref"] == "東京都"


def test_town_by_lg_code_and_machiaza_id_with_gif_parts(client: TestClient, loaded: None) -> None:
    town = client.get(f"{API}/lg/131016/towns/0001001").json()
    assert (town["oaza_cho"], town["chome"], town["chome_number"]) == ("内幸町", "一丁目", "1")
    gif = town["gif"]
    assert gif["streetAddressId"] == "0001001" and gif["streetAddress"] == "内幸町一丁目"
    assert gif["largerSectionTown"] == "内幸町" and gif["chome"] == "一丁目"
    assert gif["cityAndCounty"] == "千代田区" and gif["displayedAddressFlag"] == "1"
    assert "1000011" in town["postal_codes"] and gif["postalCode"] == "1000011"
    aoi = client.get(f"{API}/lg/302015/towns/0001000").json()
    assert aoi["postal_codes"][0] == "6408273"  # ABR's own post_code comes first
    assert aoi["rep_srid"] == "EPSG:4612" and aoi["source_date"] == "2026-03-10"


def test_children_are_paged(client: TestClient, loaded: None) -> None:
    first = client.get(f"{API}/lg/302015/children?limit=5").json()
    assert first["level"] == "machiaza" and len(first["items"]) == 5 and first["total"] > 700
    second = client.get(f"{API}/lg/302015/children?limit=5&offset=5").json()
    ids = [t["machiaza_id"] for t in first["items"] + second["items"]]
    assert ids == sorted(ids) and len(set(ids)) == 10
    cities = client.get(f"{API}/lg/300004/children?limit=100").json()
    assert cities["level"] == "municipality" and cities["total"] == 30
    assert all(c["lg_code"].startswith("30") for c in cities["items"])


def test_search_by_name_and_kana(client: TestClient, loaded: None) -> None:
    by_name = client.get(f"{API}/search", params={"q": "内幸町"}).json()
    assert by_name["total"] == 2
    assert {t["chome"] for t in by_name["items"]} == {"一丁目", "二丁目"}
    by_kana = client.get(f"{API}/search", params={"q": "アオイチョウ", "lg_code": "302015"}).json()
    assert [t["oaza_cho"] for t in by_kana["items"]] == ["葵町"]
    in_pref = client.get(f"{API}/search", params={"q": "町", "lg_code": "300004", "limit": 3})
    assert in_pref.json()["total"] > 100 and len(in_pref.json()["items"]) == 3
    # LIKE wildcards are literal
    assert client.get(f"{API}/search", params={"q": "%"}).json()["total"] == 0


def test_as_of_history(client: TestClient, loaded: None) -> None:
    assert client.get(f"{API}/lg/131016/towns/0001001?as_of=2020-01-01").status_code == 200
    body = _problem(client, f"{API}/lg/131016/towns/0001001?as_of=1900-01-01", 404)
    assert "1900-01-01" in str(body["detail"])
    _problem(client, f"{API}/lg/302015/children?as_of=1900-01-01", 404)  # 和歌山市 from 1947
    listed = client.get(f"{API}/lg/302015/children?as_of=1950-01-01&limit=1").json()
    assert listed["total"] > 0 and listed["as_of"] == "1950-01-01"
    # a date, not a Unix time or another shape pydantic alone would take
    for bad in ("0", "86400", "-86400", "0.0", "2020-1-1", "２０２０-01-01"):
        body = _problem(client, f"{API}/prefectures?as_of={bad}", 422)
        assert "YYYY-MM-DD" in str(body), body


def test_postal_code_to_towns(client: TestClient, loaded: None) -> None:
    body = client.get(f"{API}/postal/100-0011").json()
    assert body["postal_code"] == "1000011"
    [candidate] = body["candidates"]
    assert candidate["neighborhood"] == "内幸町" and candidate["lg_code"] == "131016"
    assert {t["machiaza_id"] for t in candidate["towns"]} == {"0001001", "0001002"}
    catch_all = client.get(f"{API}/postal/〒1000000").json()["candidates"][0]
    assert catch_all["neighborhood"] == "" and catch_all["towns"] == []
    assert catch_all["municipality"]["city"] == "千代田区"


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (f"{API}/lg/123456", 422),  # bad check digit
        (f"{API}/lg/abc", 422),
        (f"{API}/lg/{'9' * 30}", 422),
        (f"{API}/lg/139998", 404),  # valid check digit, no such municipality
        (f"{API}/lg/131016/towns/12", 422),
        (f"{API}/lg/131016/towns/9999999", 404),
        (f"{API}/lg/131016?as_of=2022-13-01", 422),
        (f"{API}/lg/131016?as_of=yesterday", 422),
        (f"{API}/lg/131016/children?limit=0", 422),
        (f"{API}/lg/131016/children?limit=1001", 422),
        (f"{API}/lg/131016/children?offset=-1", 422),
        (f"{API}/lg/131016/children?offset=99999999999999999999", 422),
        (f"{API}/postal/12", 422),
        (f"{API}/postal/0000000", 404),
        (f"{API}/search", 422),
        (f"{API}/search?q=", 422),
        (f"{API}/search?q={'x' * 201}", 422),
        (f"{API}/search?q=%00", 422),
        (f"{API}/search?q=a&lg_code=12", 422),
    ],
)
def test_bad_input_is_problem_json_never_500(client: TestClient, url: str, status: int) -> None:
    _problem(client, url, status)


def test_unknown_but_valid_lg_code_is_404(client: TestClient, loaded: None) -> None:
    _problem(client, f"{API}/lg/990001", 404)  # valid check digit, no such municipality


def test_openapi_documents_the_address_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/lg/{lg_code}", "/lg/{lg_code}/children", "/lg/{lg_code}/towns/{machiaza_id}",
                 "/postal/{postal_code}", "/search", "/prefectures"):  # fmt: skip
        assert f"{API}{path}" in paths
    town = spec["components"]["schemas"]["TownOut"]["properties"]
    assert {"lg_code", "machiaza_id", "oaza_cho", "gif", "rep_lat"} <= set(town)
    gif = spec["components"]["schemas"]["GifAddress"]["properties"]
    assert {"localGovernmentCode", "streetAddressId", "prefecture", "streetAddress"} <= set(gif)
