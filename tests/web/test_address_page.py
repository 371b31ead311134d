"""The address search page on the catalog site, over a real ABR slice in the database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.conftest import SHARED
from tsunagu.registries.address import import_files
from tsunagu.web.i18n import MESSAGES

from .htmlcheck import check_page

ABR = SHARED / "abr-data"
HTML = {"Accept": "text/html"}


@pytest.fixture
def loaded(connection: Connection) -> None:
    import_files(connection, [ABR / "mt_pref_all.csv.zip", ABR / "mt_city_all.csv.zip",
                              ABR / "mt_town_pref30.csv.zip"])  # fmt: skip


def test_empty_form_renders(client: TestClient) -> None:
    page = client.get("/address", headers=HTML)
    assert page.status_code == 200
    check_page(page)
    assert MESSAGES["ja"]["address.title"] in page.text


@pytest.mark.usefixtures("loaded")
def test_a_written_address_is_matched_to_its_town(client: TestClient) -> None:
    page = client.get("/address", params={"q": "和歌山市　一番丁１ー１ 県庁ビル"}, headers=HTML)
    assert page.status_code == 200, page.text
    check_page(page)
    assert "302015" in page.text  # 和歌山市
    assert "0019000" in page.text  # 一番丁 (machiaza_id)
    assert "machiaza" in page.text
    assert MESSAGES["ja"]["address.others"] in page.text


@pytest.mark.parametrize(
    ("params", "status"),
    [({"q": "あ" * 201}, 400), ({"q": "x", "target": "everything"}, 400), ({"sql": "1"}, 400)],
)
def test_bad_input_is_a_clear_page_not_a_crash(
    client: TestClient, params: dict[str, str], status: int
) -> None:
    page = client.get("/address", params=params, headers=HTML)
    assert page.status_code == status
    assert "<html" in page.text
