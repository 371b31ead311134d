"""Version pages: the history, one version, as of a date, a diff; bad input as HTML errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.accounts import Caller
from tsunagu.catalog import create_dataset, get_dataset, parse_dataset, update_dataset
from tsunagu.catalog.versions.models import DatasetVersion

from .htmlcheck import check_page

HTML = {"Accept": "text/html,application/xhtml+xml"}
BASE = "/dataset/parks/versions"


def naive(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """A stored timestamp: naive UTC."""
    return datetime(year, month, day, hour, tzinfo=UTC).replace(tzinfo=None)


def _data(caller: Caller, **fields: Any) -> Any:
    return parse_dataset({"owner_org": caller.organization_name, "name": "parks", **fields})


@pytest.fixture
def history(session: Session, org_token: tuple[Caller, str]) -> list[DatasetVersion]:
    """parks: version 1 with one CSV; version 2 retitled, CSV moved, a PDF added."""
    caller = org_token[0]
    ds = create_dataset(
        session, caller,
        _data(caller, title="公園一覧", resources=[{"name": "公園", "format": "CSV",
                                                  "url": "https://example.jp/parks.csv"}]),
    )  # fmt: skip
    csv_id = ds.distributions[0].id
    update_dataset(
        session, caller, "parks",
        _data(caller, title="都市公園一覧", resources=[
            {"id": csv_id, "name": "公園", "format": "CSV", "url": "https://example.jp/v2.csv"},
            {"name": "地図", "format": "PDF", "url": "https://example.jp/map.pdf"},
        ]),
    )  # fmt: skip
    rows = list(
        session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_pk == get_dataset(session, "parks").pk)
            .order_by(DatasetVersion.number)
        )
    )
    rows[0].created, rows[1].created = naive(2024, 4, 1, 1), naive(2024, 5, 1, 1)
    session.commit()
    return rows


@pytest.mark.usefixtures("history")
class TestPages:
    def test_history_lists_versions_newest_first(self, client: TestClient) -> None:
        response = client.get(BASE, headers=HTML)
        assert response.status_code == 200
        page = check_page(response)
        table = page.text[page.text.index("変更内容") :]  # after the compare form's options
        assert table.index("第2版") < table.index("第1版")
        text = page.text
        assert "変更された項目: title" in text and "配布ファイル追加 1件" in text
        assert "test-org" in text
        assert f"{BASE}/diff?from=1&to=2" in page.links

    def test_dataset_page_links_to_its_history(self, client: TestClient) -> None:
        page = check_page(client.get("/dataset/parks", headers=HTML))
        assert BASE in page.links

    def test_one_version_shows_the_dataset_as_it_was(self, client: TestClient) -> None:
        page = check_page(client.get(f"{BASE}/1", headers=HTML))
        assert page.h1 == ["公園一覧"]
        assert "parks.csv" in page.text and "map.pdf" not in page.text

    def test_as_of_a_date(self, client: TestClient) -> None:
        page = check_page(client.get(f"{BASE}/as-of?date=2024-04-15", headers=HTML))
        assert page.h1 == ["公園一覧"] and "2024-04-15" in page.text
        later = check_page(client.get(f"{BASE}/as-of?date=2024-06-01", headers=HTML))
        assert later.h1 == ["都市公園一覧"]

    def test_diff_marks_what_changed(self, client: TestClient) -> None:
        response = client.get(f"{BASE}/diff?from=1&to=2", headers=HTML)
        page = check_page(response)
        assert page.h1 == ["第1版と第2版の差分"]
        assert "<del>公園一覧</del>" in response.text and "<ins>都市公園一覧</ins>" in response.text
        assert "<ins>https://example.jp/v2.csv</ins>" in response.text
        assert "<ins>地図</ins>" in response.text

    def test_english(self, client: TestClient) -> None:
        page = check_page(client.get(f"{BASE}?lang=en", headers=HTML), lang="en")
        assert "Version 2" in page.text and "1 distribution added" in page.text
        diff = check_page(client.get(f"{BASE}/diff?lang=en", headers=HTML), lang="en")
        assert diff.h1 == ["Changes from version 1 to version 2"]

    @pytest.mark.parametrize(
        ("path", "status"),
        [
            (f"{BASE}/9", 404),
            (f"{BASE}/x", 400),
            (f"{BASE}/as-of?date=someday", 400),
            (f"{BASE}/as-of?date=2020-01-01", 404),
            (f"{BASE}/diff?from=2&to=1", 422),
            (f"{BASE}/diff?from=a", 400),
            (f"{BASE}?page=0", 400),
            (f"{BASE}?sort=x", 400),
            ("/dataset/nothing/versions", 404),
        ],
    )
    def test_bad_input_is_an_html_error_page(
        self, client: TestClient, path: str, status: int
    ) -> None:
        response = client.get(path, headers=HTML)
        assert response.status_code == status
        check_page(response)
