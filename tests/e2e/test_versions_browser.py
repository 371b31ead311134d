"""Dataset versions in a real headless Chromium: history, one version, as of a date, a diff."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import LiveServer
from tsunagu.accounts import Caller, create_organization, create_token
from tsunagu.catalog import create_dataset, get_dataset, parse_dataset, update_dataset
from tsunagu.catalog.versions.models import DatasetVersion

pytestmark = pytest.mark.browser

BASE = "/dataset/aed-locations"


def _naive(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 3, tzinfo=UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def site(live_server: LiveServer) -> LiveServer:
    """One dataset with three versions: created, retitled with a file moved and one added."""
    with Session(live_server.engine) as session:
        org = create_organization(session, "kanazawa", "金沢市", title_en="Kanazawa City")
        create_token(session, org.name, "e2e")
        caller = Caller(org.id, org.name, 0)

        def data(**fields: object) -> object:
            return parse_dataset({"owner_org": "kanazawa", "name": "aed-locations", **fields})

        ds = create_dataset(
            session, caller,
            data(title="AED設置箇所一覧", license_id="cc-by-4.0", resources=[
                {"name": "AED一覧", "format": "CSV", "url": "https://example.jp/aed.csv"}]),
        )  # fmt: skip
        csv = ds.distributions[0].id
        update_dataset(
            session, caller, "aed-locations",
            data(title="AED設置箇所一覧（令和6年度）", license_id="cc-by-4.0", resources=[
                {"id": csv, "name": "AED一覧", "format": "CSV",
                 "url": "https://example.jp/aed-2024.csv"},
                {"name": "地図", "format": "PDF", "url": "https://example.jp/aed-map.pdf"}]),
        )  # fmt: skip
        update_dataset(
            session, caller, "aed-locations",
            data(title="AED設置箇所一覧（令和6年度）", license_id="cc-by-4.0",
                 notes="市内の公共施設に設置したAED。",
                 resources=[{"id": csv, "name": "AED一覧", "format": "CSV",
                             "url": "https://example.jp/aed-2024.csv"}]),
        )  # fmt: skip
        pk = get_dataset(session, "aed-locations").pk
        versions = session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_pk == pk)
            .order_by(DatasetVersion.number)
        ).all()
        for version, day in zip(versions, (1, 10, 20), strict=True):
            version.created = _naive(2024, 4, day)
        session.commit()
    return live_server


def test_history_is_reached_from_the_dataset_page(site: LiveServer, page: Page) -> None:
    page.goto(site.url + BASE)
    page.get_by_role("link", name="すべての版と変更点を見る").click()
    expect(page.locator("h1")).to_have_text("版の履歴: AED設置箇所一覧（令和6年度）")
    rows = page.locator(".version-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("第3版")
    expect(rows.first).to_contain_text("配布ファイル削除 1件")
    expect(rows.nth(1)).to_contain_text("変更された項目: title")
    expect(rows.last).to_contain_text("作成")
    expect(rows.last).to_contain_text("kanazawa (APIトークン #0)")


def test_diff_with_the_previous_version(site: LiveServer, page: Page) -> None:
    page.goto(site.url + BASE + "/versions")
    page.locator(".version-row").nth(1).get_by_role("link", name="前の版との差分").click()
    expect(page.locator("h1")).to_have_text("第1版と第2版の差分")
    fields = page.locator(".diff-row")
    expect(fields.first.locator("del")).to_have_text("AED設置箇所一覧")
    expect(fields.first.locator("ins")).to_have_text("AED設置箇所一覧（令和6年度）")
    expect(page.locator("table.diff ins", has_text="aed-2024.csv")).to_have_count(1)
    expect(page.locator(".diff-added")).to_contain_text("地図")


def test_compare_form_picks_any_two_versions(site: LiveServer, page: Page) -> None:
    page.goto(site.url + BASE + "/versions")
    page.get_by_label("比較元").select_option("1")
    page.get_by_label("比較先").select_option("3")
    page.get_by_role("button", name="比較").click()
    page.wait_for_url("**/versions/diff?from=1&to=3")
    expect(page.locator("h1")).to_have_text("第1版と第3版の差分")
    expect(page.locator(".diff-added")).to_have_count(0)
    expect(page.locator(".diff-row", has_text="notes")).to_contain_text("市内の公共施設")


def test_dataset_as_of_a_date(site: LiveServer, page: Page) -> None:
    page.goto(site.url + BASE + "/versions")
    page.get_by_label("日付を指定して、その時点の内容を表示").fill("2024-04-15")
    page.get_by_role("button", name="表示", exact=True).click()
    expect(page.locator("h1")).to_have_text("AED設置箇所一覧（令和6年度）")
    expect(page.locator(".version-banner")).to_contain_text("第2版")
    expect(page.locator(".version-banner")).to_contain_text("2024-04-15")
    expect(page.locator(".distribution")).to_have_count(2)


def test_version_page_in_english(site: LiveServer, page: Page) -> None:
    page.goto(site.url + BASE + "/versions/1?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".version-banner")).to_contain_text("Version 1")
    expect(page.locator(".version-banner")).to_contain_text("recorded 2024-04-01 03:00:00 UTC")
    page.get_by_role("link", name="See the latest version").click()
    expect(page.locator("h1")).to_have_text("AED設置箇所一覧（令和6年度）")


def test_unknown_version_is_an_html_404(site: LiveServer, browser: Browser) -> None:
    context = browser.new_context(locale="ja-JP")
    try:
        tab = context.new_page()
        response = tab.goto(site.url + BASE + "/versions/99")
        assert response is not None and response.status == 404
        expect(tab.locator("h1")).to_have_text("ページが見つかりません")
    finally:
        context.close()
