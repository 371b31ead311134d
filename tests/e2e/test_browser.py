"""The catalog site in a real headless Chromium (Playwright), against a live uvicorn server.

Playwright's sync API runs its own event loop in this (the test) thread; nothing else here runs
a loop, so it needs no special handling. The system Chromium is used: a browser is never
downloaded.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from tests.conftest import LiveServer
from tsunagu.accounts import Caller, create_organization, create_token
from tsunagu.catalog import Group, Source, create_dataset, get_dataset, parse_dataset

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/tsunagu-search.png")  # noqa: S108 - a fixed path the reviewer opens


@pytest.fixture(scope="module")
def site(live_server: LiveServer) -> LiveServer:
    """The live server with an organization and a handful of real-looking datasets."""
    with Session(live_server.engine) as session:
        org = create_organization(
            session, "tokyo", "東京都", title_en="Tokyo Metropolitan Government", lg_code="130001"
        )
        other = create_organization(session, "chiyoda", "千代田区", title_en="Chiyoda City")
        create_token(session, org.name, "e2e")
        session.add(Group(name="population", title="人口・世帯", title_en="Population"))
        session.add(
            Source(
                id="tokyo-catalog",
                title="東京都オープンデータカタログサイト",
                url="https://catalog.data.metro.tokyo.lg.jp/",
                attribution="出典：東京都オープンデータカタログサイト",
                license="CC BY 4.0",
            )
        )
        session.flush()
        tokyo = Caller(org.id, org.name, 0)
        chiyoda = Caller(other.id, other.name, 0)

        def add(caller: Caller, **fields: Any) -> None:
            create_dataset(
                session, caller, parse_dataset({"owner_org": caller.organization_name, **fields})
            )

        add(
            tokyo,
            name="population-statistics",
            title="人口統計",
            title_en="Population statistics",
            notes="東京都の区市町村別人口と世帯数（毎月1日現在）。",
            notes_en="Population and households of Tokyo by municipality, monthly.",
            license_id="cc-by-4.0",
            groups=[{"name": "population"}],
            tags=[{"name": "人口"}, {"name": "世帯"}],
            resources=[
                {
                    "name": "人口統計（令和6年）",
                    "format": "CSV",
                    "url": "https://example.jp/jinko.csv",
                    "download_url": "https://example.jp/jinko.csv",
                    "size": 48213,
                    "data_dictionary": [
                        {"name": "lg_code", "label_ja": "全国地方公共団体コード", "required": True},
                        {
                            "name": "population",
                            "label_ja": "人口",
                            "data_type": "integer",
                            "unit": "人",
                        },
                    ],
                },
                {
                    "name": "人口統計（Excel）",
                    "format": "XLSX",
                    "url": "https://example.jp/jinko.xlsx",
                },
            ],
        )
        add(
            tokyo,
            name="toei-bus-stops",
            title="都営バス停留所",
            title_en="Toei bus stops",
            license_id="cc-by-4.0",
            tags=[{"name": "交通"}],
            resources=[
                {"name": "停留所一覧", "format": "CSV", "url": "https://example.jp/bus.csv"}
            ],
        )
        add(
            tokyo,
            name="consumption-tax",
            title="消費税",
            notes="地方消費税の収入額。",
            license_id="cc-by-4.0",
            resources=[{"name": "消費税", "format": "PDF", "url": "https://example.jp/tax.pdf"}],
        )
        add(
            chiyoda,
            name="chiyoda-population",
            title="千代田区の人口",
            license_id="cc-by-4.0",
            tags=[{"name": "人口"}],
            resources=[
                {"name": "人口", "format": "XLSX", "url": "https://example.jp/chiyoda.xlsx"}
            ],
        )
        add(
            chiyoda,
            name="chiyoda-parks",
            title="公園一覧",
            license_id="cc-by-4.0",
            resources=[{"name": "公園", "format": "CSV", "url": "https://example.jp/parks.csv"}],
        )
        get_dataset(session, "population-statistics").source_id = "tokyo-catalog"
        session.commit()
    return live_server


def test_search_a_two_character_term(site: LiveServer, page: Page) -> None:
    page.goto(site.url + "/")
    page.get_by_label("データセットを検索").fill("人口")
    page.get_by_role("button", name="検索").click()
    page.wait_for_url("**/dataset?q=*")
    expect(page.locator("h1")).to_have_text("データセットを探す")
    results = page.locator(".result__title")
    expect(results.filter(has_text="人口統計")).to_have_count(1)
    expect(results.filter(has_text="千代田区の人口")).to_have_count(1)
    expect(results.filter(has_text="消費税")).to_have_count(0)
    expect(page.locator(".results__count")).to_contain_text("2件のデータセット")


def test_facet_filters_results(site: LiveServer, page: Page) -> None:
    page.goto(site.url + "/dataset")
    expect(page.locator(".results__count")).to_contain_text("5件のデータセット")
    # Format is a collapsed <details>: open it, then pick CSV.
    page.locator(".facet summary", has_text="形式").click()
    page.locator(".facet__link", has_text="CSV").click()
    expect(page.locator(".results__count")).to_contain_text("3件のデータセット")
    expect(page.locator(".chip")).to_contain_text("CSV")
    # Organization facets show titles, not slugs.
    page.locator(".facet__link", has_text="千代田区").click()
    expect(page.locator(".results__count")).to_contain_text("1件のデータセット")
    expect(page.locator(".result__title")).to_have_text("公園一覧")
    # Removing a filter widens the results again.
    page.locator(".chip", has_text="CSV").click()
    expect(page.locator(".results__count")).to_contain_text("2件のデータセット")


def test_dataset_page_shows_distributions(site: LiveServer, page: Page) -> None:
    page.goto(site.url + "/dataset?q=人口統計")
    page.get_by_role("link", name="人口統計", exact=True).click()
    expect(page.locator("h1")).to_have_text("人口統計")
    distributions = page.locator(".distribution")
    expect(distributions).to_have_count(2)
    expect(distributions.first).to_contain_text("CSV")
    expect(distributions.first).to_contain_text("47.1 KB")
    expect(page.locator("table").first).to_contain_text("全国地方公共団体コード")
    expect(page.locator("#source").locator("..")).to_contain_text(
        "出典：東京都オープンデータカタログサイト"
    )
    expect(page.get_by_role("link", name="CKAN API（package_show）")).to_have_attribute(
        "href", "/api/3/action/package_show?id=population-statistics"
    )


def test_switch_to_english(site: LiveServer, page: Page) -> None:
    page.goto(site.url + "/dataset/population-statistics")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.get_by_role("button", name="Switch to English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Population statistics")
    expect(page.get_by_role("heading", name="Distributions")).to_be_visible()
    # The choice is remembered on the next page.
    page.get_by_role("link", name="Datasets", exact=True).first.click()
    expect(page.locator("h1")).to_have_text("Find datasets")
    page.get_by_role("button", name="日本語に切り替える").click()
    expect(page.locator("html")).to_have_attribute("lang", "ja")


def test_keyboard_reaches_skip_link_and_search_box(site: LiveServer, page: Page) -> None:
    page.goto(site.url + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "本文へ移動"  # the skip link comes first
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "search-q":
            break
    else:
        pytest.fail("Tab never reached the search box")
    page.keyboard.type("税")
    page.keyboard.press("Enter")
    expect(page.locator(".result__title")).to_have_text("消費税")
    # Facets are plain links and <details>: reachable and operable by keyboard.
    page.locator(".facet summary").first.focus()
    page.keyboard.press("Enter")


def test_unknown_dataset_shows_an_html_page(site: LiveServer, browser: Browser) -> None:
    # Its own tab: the 404 itself is logged as a console error, which `page` would refuse.
    context = browser.new_context(locale="ja-JP")
    try:
        tab = context.new_page()
        response = tab.goto(site.url + "/dataset/does-not-exist")
        assert response is not None and response.status == 404
        expect(tab.locator("h1")).to_have_text("ページが見つかりません")
        expect(tab.locator(".error-page__detail")).to_contain_text("does-not-exist")
    finally:
        context.close()


def test_search_page_on_a_phone(site: LiveServer, browser: Browser, tmp_path: Path) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        locale="ja-JP",
    )
    tab = context.new_page()
    try:
        tab.goto(site.url + "/dataset?q=人口")
        expect(tab.locator(".result__title").first).to_be_visible()
        # Nothing is wider than the screen (no sideways scrolling of the page).
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        shot = tmp_path / "search-phone.png"
        tab.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 1000
        shutil.copyfile(shot, SCREENSHOT)
    finally:
        context.close()
