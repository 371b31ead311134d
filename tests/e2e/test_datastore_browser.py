"""A resource's datastore page in a real headless Chromium: from the dataset to its checks."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from tests.catalog.datastore_helpers import AED_HEADER, AED_ROWS, make_resource, write_csv
from tests.conftest import LiveServer
from tsunagu.accounts import Caller, create_organization
from tsunagu.catalog.datastore import load_file

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    """An AED list loaded with 150 good rows and one whose 設置台数 is 二台."""
    rows = [*AED_ROWS, "4,病院,34.2,135.1,二台,2020-01-01"]
    rows += [f"{n},施設{n},34.2,135.1,1,2021-01-01" for n in range(5, 152)]
    path = write_csv(tmp_path_factory.mktemp("e2e") / "aed.csv", [AED_HEADER, *rows])
    with Session(live_server.engine) as session:
        org = create_organization(session, "wakayama", "和歌山市", title_en="Wakayama City")
        session.flush()
        resource = make_resource(session, Caller(org.id, org.name, 0), name="aed-wakayama")
        load_file(session, resource, path)
        session.commit()
    return live_server


def test_from_the_dataset_to_the_rows_and_the_errors(site: LiveServer, page: Page) -> None:
    page.goto(f"{site.url}/dataset/aed-wakayama")
    page.get_by_role("link", name="データを見る・検査結果").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("AED一覧")
    validation = page.locator("#validation-errors tbody tr")
    expect(validation).to_have_count(1)
    expect(validation.first).to_contain_text("type-error")
    expect(validation.first).to_contain_text("設置台数")
    expect(page.locator("#load-errors tbody tr").first).to_contain_text("二台")
    rows = page.locator("#datastore-rows tbody tr")
    expect(rows).to_have_count(100)
    expect(rows.first).to_contain_text("市役所本庁舎")
    page.get_by_role("link", name="次へ").click()
    expect(rows).to_have_count(50)  # 150 stored rows, the second page
    expect(rows.last).to_contain_text("施設151")
