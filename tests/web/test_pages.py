"""The catalog site, in process: every page, search, facets, languages, errors and security."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tsunagu.accounts import Caller, create_organization
from tsunagu.catalog import (
    CodeList,
    CodeListEntry,
    DataService,
    Group,
    Source,
    create_dataset,
    get_dataset,
    parse_dataset,
)
from tsunagu.web.i18n import MESSAGES

from .htmlcheck import Page, check_page

HTML = {"Accept": "text/html,application/xhtml+xml"}


def make(session: Session, caller: Caller, **fields: Any) -> None:
    data = {"owner_org": caller.organization_name, **fields}
    create_dataset(session, caller, parse_dataset(data))


@pytest.fixture
def catalog(session: Session, org_token: tuple[Caller, str]) -> Caller:
    """Four datasets of 'テスト市' and one of another organization, a group, a code list."""
    caller, _ = org_token
    session.add(Group(name="population", title="人口・世帯", title_en="Population"))
    session.add(
        Source(
            id="tokyo",
            title="東京都オープンデータカタログ",
            url="https://catalog.data.metro.tokyo.lg.jp/",
            attribution="出典：東京都オープンデータカタログサイト",
            license="CC BY 4.0",
        )
    )
    code_list = CodeList(
        name="lg-code",
        version="2024",
        title="全国地方公共団体コード",
        title_en="Local government codes",
        publisher="総務省",
    )
    code_list.entries = [
        CodeListEntry(
            position=i, code=f"13{i:03d}0", label=f"テスト区{i}", label_en=f"Test ward {i}"
        )
        for i in range(1, 251)
    ] + [CodeListEntry(position=999, code="131016", label="千代田区", label_en="Chiyoda")]
    session.add(code_list)
    session.flush()
    make(
        session,
        caller,
        name="population-stats",
        title="人口統計",
        title_en="Population statistics",
        notes="区市町村別の人口と世帯数。",
        notes_en="Population and households by municipality.",
        license_id="cc-by-4.0",
        groups=[{"name": "population"}],
        tags=[{"name": "人口"}],
        municipalities=["131016"],
        maintainer="統計課",
        maintainer_email="toukei@example.jp",
        temporal_start="2020-01-01",
        temporal_end="2024-12-31",
        frequency="annual",
        resources=[
            {
                "name": "人口統計 CSV",
                "format": "CSV",
                "url": "https://example.jp/pop.csv",
                "download_url": "https://example.jp/pop.csv",
                "size": 123456,
                "data_dictionary": [
                    {
                        "name": "lg_code",
                        "label_ja": "全国地方公共団体コード",
                        "data_type": "string",
                        "required": True,
                        "code_list": "lg-code",
                        "pattern": "^[0-9]{6}$",
                    },
                    {
                        "name": "population",
                        "label_ja": "人口",
                        "data_type": "integer",
                        "unit": "人",
                    },
                ],
            },
            {"name": "人口統計 Excel", "format": "XLSX", "url": "https://example.jp/pop.xlsx"},
        ],
    )
    make(
        session,
        caller,
        name="bus-stops",
        title="都営バス停留所",
        license_id="cc-by-4.0",
        tags=[{"name": "交通"}],
        resources=[{"name": "停留所", "format": "CSV", "url": "https://example.jp/bus.csv"}],
    )
    make(
        session,
        caller,
        name="consumption-tax",
        title="消費税",
        notes="税の統計",
        license_id="gov-std-2.0",
        resources=[{"name": "税", "format": "PDF", "url": "https://example.jp/tax.pdf"}],
    )
    make(
        session,
        caller,
        name="script-test",
        title="<script>alert(1)</script>危険なタイトル",
        notes='"><img src=x onerror=alert(1)>',
    )
    other = create_organization(session, "other-ward", "別区役所", title_en="Other Ward")
    session.flush()
    other_caller = Caller(other.id, other.name, 0)
    make(
        session,
        other_caller,
        name="other-population",
        title="別区の人口",
        tags=[{"name": "人口"}],
        resources=[{"name": "json", "format": "JSON", "url": "https://example.jp/x.json"}],
    )
    ds = get_dataset(session, "population-stats")
    ds.source_id = "tokyo"
    session.add(
        DataService(
            id="svc-1",
            organization_id=caller.organization_id,
            dataset_pk=ds.pk,
            title="人口API",
            endpoint_url="https://api.example.jp/population",
            endpoint_description="https://api.example.jp/openapi.json",
            openapi={
                "openapi": "3.1.0",
                "info": {"title": "Population API", "version": "1.2"},
                "paths": {"/population": {}, "/households": {}},
            },
        )
    )
    session.commit()
    return caller


def titles(response: Any) -> list[str]:
    """Result titles (the links to datasets) in a search page."""
    page = Page(response.text)
    return [href for href in page.links if href.startswith("/dataset/")]


PAGES = [
    "/",
    "/dataset",
    "/dataset/population-stats",
    "/organization",
    "/organization/test-org",
    "/code-lists",
    "/code-lists/lg-code",
    "/about",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_in_both_languages(
    client: TestClient, catalog: Caller, path: str
) -> None:
    ja = client.get(path, headers=HTML)
    assert ja.status_code == 200, ja.text
    check_page(ja, "ja")
    en = client.get(path, params={"lang": "en"}, headers=HTML)
    assert en.status_code == 200
    check_page(en, "en")


def test_pages_render_on_an_empty_catalog(client: TestClient) -> None:
    for path in ["/", "/dataset", "/organization", "/code-lists", "/about"]:
        response = client.get(path, headers=HTML)
        assert response.status_code == 200, path
        check_page(response)


def test_security_headers_and_csp(client: TestClient) -> None:
    response = client.get("/dataset", headers=HTML)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "referrer-policy" in response.headers


def test_static_assets_are_served(client: TestClient) -> None:
    css = client.get("/static/site.css")
    assert css.status_code == 200 and "var(--color-primitive-blue-900)" in css.text
    tokens = client.get("/static/vendor/digital-agency/tokens.css")
    assert tokens.status_code == 200 and "--color-primitive-blue-900" in tokens.text
    assert "MIT" in client.get("/static/vendor/digital-agency/LICENSE").text


@pytest.mark.parametrize(
    ("q", "expected", "absent"),
    [
        ("人口", {"population-stats", "other-population"}, {"bus-stops", "consumption-tax"}),
        ("税", {"consumption-tax"}, {"population-stats", "bus-stops"}),
        ("バス", {"bus-stops"}, {"population-stats"}),
        ("都営", {"bus-stops"}, {"consumption-tax"}),
    ],
)
def test_search_finds_one_and_two_character_terms(
    client: TestClient, catalog: Caller, q: str, expected: set[str], absent: set[str]
) -> None:
    response = client.get("/dataset", params={"q": q}, headers=HTML)
    assert response.status_code == 200
    found = {link.removeprefix("/dataset/") for link in titles(response)}
    assert expected <= found
    assert not absent & found
    check_page(response)


def test_facets_filter_and_show_titles(client: TestClient, catalog: Caller) -> None:
    everything = client.get("/dataset", headers=HTML)
    assert "5件のデータセット" in Page(everything.text).text
    assert "テスト市" in everything.text  # organization title, not only its name
    assert "千代田区" in everything.text  # municipality name from the code list
    assert "人口・世帯" in everything.text  # group title
    csv = client.get("/dataset", params={"res_format": "CSV"}, headers=HTML)
    text = Page(csv.text).text
    assert "2件のデータセット" in text
    assert set(titles(csv)) >= {"/dataset/population-stats", "/dataset/bus-stops"}
    assert "/dataset/consumption-tax" not in titles(csv)
    # The active filter is listed with a link that removes it.
    assert 'href="/dataset"' in csv.text
    both = client.get("/dataset", params=[("res_format", "CSV"), ("tags", "交通")], headers=HTML)
    assert "1件のデータセット" in Page(both.text).text
    org = client.get("/dataset", params={"organization": "other-ward"}, headers=HTML)
    assert {t for t in titles(org) if t.count("/") == 2} == {"/dataset/other-population"}
    muni = client.get("/dataset", params={"municipality": "131016"}, headers=HTML)
    assert "1件のデータセット" in Page(muni.text).text


def test_sort_and_pagination(client: TestClient, catalog: Caller) -> None:
    by_title = client.get("/dataset", params={"sort": "title"}, headers=HTML)
    assert by_title.status_code == 200
    assert 'value="title" selected' in by_title.text
    second = client.get("/dataset", params={"page": "2"}, headers=HTML)
    assert second.status_code == 200
    assert "0件" not in Page(second.text).text  # total count stays the total
    assert "5件のデータセット" in Page(second.text).text


def test_search_pagination_links(
    client: TestClient, session: Session, org_token: tuple[Caller, str]
) -> None:
    caller, _ = org_token
    for i in range(25):
        make(session, caller, name=f"stat-{i:02d}", title=f"統計データ{i}")
    session.commit()
    first = client.get("/dataset", params={"q": "統計"}, headers=HTML)
    text = Page(first.text).text
    assert "25件のデータセット" in text and "1 / 2 ページ" in text
    assert "page=2" in first.text
    second = client.get("/dataset", params={"q": "統計", "page": "2"}, headers=HTML)
    assert len({t for t in titles(second) if t.startswith("/dataset/stat-")}) == 5


def test_dataset_page_shows_everything(client: TestClient, catalog: Caller) -> None:
    response = client.get("/dataset/population-stats", headers=HTML)
    page = check_page(response)
    text = page.text
    assert page.h1 == ["人口統計"]
    for expected in [
        "人口統計 CSV",
        "CSV",
        "120.6 KB",
        "XLSX",
        "lg_code",
        "全国地方公共団体コード",
        "人口API",
        "https://api.example.jp/population",
        "Population API",
        "クリエイティブ・コモンズ 表示 4.0 国際",
        "テスト市",
        "統計課",
        "千代田区",
        "2020-01-01",
        "2024-12-31",
        "annual",
        "人口・世帯",
        "出典：東京都オープンデータカタログサイト",
        "CC BY 4.0",
    ]:
        assert expected in text, expected
    assert "/api/3/action/package_show?id=population-stats" in page.links
    assert "/api/v1/datasets/population-stats" in page.links
    assert "https://api.example.jp/openapi.json" in page.links
    assert "https://example.jp/pop.csv" in page.links
    assert "mailto:toukei@example.jp" in page.links
    assert "/code-lists/lg-code" in page.links


def test_dataset_page_in_english(client: TestClient, catalog: Caller) -> None:
    response = client.get("/dataset/population-stats", params={"lang": "en"}, headers=HTML)
    page = check_page(response, "en")
    assert page.h1 == ["Population statistics"]
    assert "Population and households by municipality." in page.text
    assert "Distributions" in page.text and "Chiyoda" in page.text
    # No English title: the Japanese one is shown.
    bus = check_page(client.get("/dataset/bus-stops", params={"lang": "en"}, headers=HTML), "en")
    assert bus.h1 == ["都営バス停留所"]


def test_everything_is_escaped(client: TestClient, catalog: Caller) -> None:
    for path in ["/dataset", "/dataset/script-test", "/dataset?q=<script>"]:
        response = client.get(path, headers=HTML)
        assert response.status_code == 200
        assert "<script>alert(1)" not in response.text
        assert "<img src=x" not in response.text
        check_page(response)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/dataset/script-test").text


def test_unknown_dataset_is_a_friendly_404_page(client: TestClient) -> None:
    response = client.get("/dataset/no-such-dataset", headers=HTML)
    assert response.status_code == 404
    page = check_page(response)
    assert page.h1 == ["ページが見つかりません"]
    assert "no-such-dataset" in page.text
    en = client.get("/dataset/no-such-dataset?lang=en", headers=HTML)
    assert check_page(en, "en").h1 == ["Page not found"]
    # An API client (no text/html in Accept) still gets problem+json.
    api = client.get("/dataset/no-such-dataset", headers={"Accept": "application/json"})
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    assert client.get("/no/such/page", headers=HTML).headers["content-type"].startswith("text/html")
    assert client.get("/organization/nobody", headers=HTML).status_code == 404
    assert client.get("/code-lists/nothing", headers=HTML).status_code == 404


def test_api_paths_keep_json_errors_for_browsers(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing", headers=HTML)
    assert response.status_code == 404
    assert "json" in response.headers["content-type"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "人" * 201},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "0"},
        {"page": "99999999999999999999"},
        {"page": "１"},
        {"nonsense": "x"},
        {"sort": "price"},
        {"organization": "x" * 500},
        {"q": " ".join(f"w{i}" for i in range(60))},
    ],
)
def test_bad_input_is_a_clear_400_page(
    client: TestClient, catalog: Caller, params: dict[str, str]
) -> None:
    response = client.get("/dataset", params=params, headers=HTML)
    assert response.status_code == 400, response.text[:300]
    page = check_page(response)
    assert page.h1 == ["リクエストが正しくありません"]


def test_bad_input_on_other_pages(client: TestClient, catalog: Caller) -> None:
    for path in [
        "/organization/test-org?page=abc",
        "/organization/test-org?organization=x",
        "/code-lists/lg-code?page=-1",
        "/code-lists/lg-code?version=1999",
        "/?x=1",
        "/dataset/population-stats?page=2",
    ]:
        response = client.get(path, headers=HTML)
        assert response.status_code == 400, path
        check_page(response)


def test_english_switch_by_query_and_cookie(client: TestClient, catalog: Caller) -> None:
    assert check_page(client.get("/", headers=HTML)).h1 == ["つなぐ データカタログ"]
    en = client.get("/?lang=en", headers=HTML)
    assert check_page(en, "en").h1 == ["tsunagu Data Catalog"]
    assert en.cookies.get("lang") == "en"
    # The cookie keeps the choice on the next page.
    assert check_page(client.get("/about", headers=HTML), "en").h1 == ["About this site"]
    client.cookies.clear()
    client.cookies.set("lang", "ja")
    assert check_page(client.get("/about", headers=HTML), "ja").h1 == ["このサイトについて"]
    client.cookies.clear()
    client.cookies.set("lang", "xx")  # unknown values are ignored
    assert check_page(client.get("/about", headers=HTML), "ja").h1 == ["このサイトについて"]


def _csrf_field(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_language_switch_form_needs_csrf_token(client: TestClient) -> None:
    home = client.get("/dataset?q=人口", headers=HTML)
    token = _csrf_field(home.text)
    assert "csrf" in home.cookies
    # Without a token: 403 problem+json.
    refused = client.post("/lang", data={"lang": "en", "next": "/"}, follow_redirects=False)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    # A wrong token: 403 too.
    wrong = client.post(
        "/lang", data={"lang": "en", "next": "/", "csrf_token": token + "x"}, follow_redirects=False
    )
    assert wrong.status_code == 403
    # With the token: redirected back to the page, now in English.
    ok = client.post(
        "/lang",
        data={"lang": "en", "next": "/dataset?q=人口", "csrf_token": token},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert unquote(ok.headers["location"]) == "/dataset?q=人口"
    after = client.get(ok.headers["location"], headers=HTML)
    assert check_page(after, "en").h1 == ["Find datasets"]
    # The form's "next" never leaves the site.
    away = client.post(
        "/lang",
        data={"lang": "ja", "next": "//evil.example/", "csrf_token": token},
        follow_redirects=False,
    )
    assert away.headers["location"] == "/"


def test_csrf_token_from_another_secret_is_refused(client: TestClient) -> None:
    client.get("/", headers=HTML)
    client.cookies.clear()
    client.cookies.set("csrf", "forged.signature")
    response = client.post("/lang", data={"lang": "en", "csrf_token": "forged"})
    assert response.status_code == 403


def test_csrf_header_is_accepted(client: TestClient) -> None:
    token = _csrf_field(client.get("/", headers=HTML).text)
    response = client.post(
        "/lang", data={"lang": "en"}, headers={"X-CSRF-Token": token}, follow_redirects=False
    )
    assert response.status_code == 303


def test_code_list_paginates(client: TestClient, catalog: Caller) -> None:
    first = client.get("/code-lists/lg-code", headers=HTML)
    page = check_page(first)
    assert "251件" in page.text and "1 / 3 ページ" in page.text
    assert "総務省" in page.text and "2024" in page.text
    third = check_page(client.get("/code-lists/lg-code?page=3", headers=HTML))
    assert "千代田区" in third.text
    filtered = check_page(client.get("/code-lists/lg-code", params={"q": "千代田"}, headers=HTML))
    assert "1件" in filtered.text and "131016" in filtered.text
    listing = check_page(client.get("/code-lists", headers=HTML))
    assert "全国地方公共団体コード" in listing.text and "251" in listing.text


def test_organization_pages(client: TestClient, catalog: Caller) -> None:
    listing = check_page(client.get("/organization", headers=HTML))
    assert "テスト市" in listing.text and "別区役所" in listing.text
    org = client.get("/organization/test-org", headers=HTML)
    page = check_page(org)
    assert page.h1 == ["テスト市"]
    assert "4件のデータセット" in page.text
    assert "/dataset/other-population" not in page.links
    csv = check_page(client.get("/organization/test-org?res_format=CSV", headers=HTML))
    assert "2件のデータセット" in csv.text


def test_about_lists_every_source_and_the_design_tokens(
    client: TestClient, catalog: Caller
) -> None:
    page = check_page(client.get("/about", headers=HTML))
    assert "東京都オープンデータカタログ" in page.text
    assert "出典：東京都オープンデータカタログサイト" in page.text
    assert "デジタル庁" in page.text
    assert "/static/vendor/digital-agency/LICENSE" in page.links


def test_home_shows_counts_groups_organizations_and_sources(
    client: TestClient, catalog: Caller
) -> None:
    page = check_page(client.get("/", headers=HTML))
    assert "人口・世帯" in page.text and "テスト市" in page.text
    assert "東京都オープンデータカタログ" in page.text
    assert "/dataset?groups=population" in page.links


def test_private_datasets_stay_hidden(
    client: TestClient, session: Session, org_token: tuple[Caller, str]
) -> None:
    caller, _ = org_token
    make(session, caller, name="secret-data", title="非公開の人口", private=True)
    session.commit()
    assert client.get("/dataset/secret-data", headers=HTML).status_code == 404
    assert "/dataset/secret-data" not in titles(client.get("/dataset?q=人口", headers=HTML))


def test_search_is_rate_limited(client: TestClient) -> None:
    client.app.state.rate_limits.rules["search"] = __import__("limits").parse("2/minute")  # type: ignore[attr-defined]
    for _ in range(2):
        assert client.get("/dataset", headers=HTML).status_code == 200
    limited = client.get("/dataset", headers=HTML)
    assert limited.status_code == 429
    assert "retry-after" in limited.headers
    check_page(limited)


def test_both_languages_have_the_same_messages() -> None:
    assert set(MESSAGES["ja"]) == set(MESSAGES["en"])


def test_dataset_without_description_says_so(
    client: TestClient, session: Session, org_token: tuple[Caller, str]
) -> None:
    make(session, org_token[0], name="bare", title="説明のないデータ")
    session.commit()
    page = client.get("/dataset/bare", headers=HTML).text
    assert MESSAGES["ja"]["dataset.no_description"] in page
    english = client.get("/dataset/bare?lang=en", headers=HTML).text
    assert MESSAGES["en"]["dataset.no_description"] in english
