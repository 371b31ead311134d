"""Where each seed source comes from and how the site must attribute it (see data/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

from tsunagu.catalog import Source

DATA = Path(__file__).parent / "data"

TOKYO_DUMP = DATA / "tokyo-metro-ckan-package_show" / "tokyo_package_show.jsonl.gz"
TOKYO_2026 = DATA / "tokyo-ckan-stac-fixtures"
DATA_GO_JP = DATA / "xckan" / "catalog.json"
XCKAN_SITES = DATA / "xckan" / "xckan_sitelist.json"
DATA_GOV_UK = DATA / "data-gov-uk" / "package_show.json"
ABR_PREF = DATA / "abr-data" / "mt_pref_all.csv.zip"
ABR_CITY = DATA / "abr-data" / "mt_city_all.csv.zip"
GIF_CODES = DATA / "gif" / "438-1_コアデータモデル_コード一覧.xlsx"
SUISHO_TEMPLATES = DATA / "suisho-dataset-csv-templates"
CIO_MODELS = DATA / "nec-fiware-cio-recommended-datasets" / "cio"
TOILET_SCHEMA = DATA / "digital-agency-seishikiban-2026-public-toilet" / "schema.csv"
IMI_CORE = DATA / "imi-core-vocabulary" / "imicore241.imiv.txt"


def _source(id: str, title: str, url: str, attribution: str, license: str) -> Source:
    return Source(id=id, title=title, url=url, attribution=attribution, license=license)


def tokyo_2022() -> Source:
    return _source(
        "tokyo-opendata",
        "東京都オープンデータカタログ",
        "https://catalog.data.metro.tokyo.lg.jp/",
        "出典：東京都オープンデータカタログサイト（東京都・都内区市町村）のメタデータ。"
        "2019年11月〜2022年9月の package_show 応答を yuiseki/tokyo-opendata-crawler が収集したもの"
        "（クローラーは WTFPL）。重複する同名データセットは更新日時の新しいものを掲載。",
        "CC BY 4.0（メタデータ。個別データセットのライセンスは各データセットに表示）",
    )


def tokyo_2026() -> Source:
    return _source(
        "tokyo-opendata-2026",
        "東京都オープンデータカタログ（2026年の移行後レコード）",
        "https://catalog.data.metro.tokyo.lg.jp/",
        "出典：東京都オープンデータカタログサイト（東京都総務局・港区）。"
        "yuiseki/tokyo-ckan-stac のテストフィクスチャ（MIT）に含まれる package_show 応答。"
        "リソース一覧はフィクスチャ作成者が一部に絞っています。",
        "CC BY 4.0",
    )


def data_go_jp() -> Source:
    return _source(
        "data-go-jp",
        "DATA GO JP（データカタログサイト）",
        "https://www.data.go.jp/",
        "出典：DATA GO JP（www.data.go.jp）のメタデータ（消費者庁）。NII-CPS-Center/xckan に"
        "保存された package_show 応答。",
        "政府標準利用規約（第2.0版）（CC BY 4.0 互換）",
    )


def data_gov_uk() -> Source:
    return _source(
        "data-gov-uk",
        "data.gov.uk",
        "https://www.data.gov.uk/",
        "Contains public sector information licensed under the Open Government Licence v3.0 "
        "(metadata from data.gov.uk, British Geological Survey; response captured by "
        "alphagov/ckan-functional-tests, MIT).",
        "Open Government Licence v3.0",
    )


def abr() -> Source:
    return _source(
        "abr",
        "アドレス・ベース・レジストリ（デジタル庁）",
        "https://www.digital.go.jp/policies/base_registry_address",
        "「アドレス・ベース・レジストリ」（デジタル庁）の都道府県マスター・市区町村マスターを加工して作成"
        "（政令市の区は市名と区名を連結、都道府県コードを親コードとして付与）。",
        "公共データ利用規約（第1.0版）（CC BY 4.0 互換）",
    )


def gif() -> Source:
    return _source(
        "gif",
        "政府相互運用性フレームワーク（GIF）コアデータモデル コード一覧",
        "https://github.com/JDA-DM/GIF",
        "出典：デジタル庁「政府相互運用性フレームワーク（GIF）」438-1 コアデータモデル コード一覧"
        "（JDA-DM/GIF v2.2 リポジトリ）。",
        "CC0 1.0（リポジトリの license ファイル）",
    )


def recommended_datasets() -> Source:
    return _source(
        "suisho-datasets",
        "推奨データセット（基本編）CSVテンプレートと項目定義",
        "https://www.digital.go.jp/resources/data_dataset",
        "出典：政府CIOポータル／デジタル庁「推奨データセット」。"
        "CSVテンプレートは InfoProto/tablelinker-lib（MIT）、"
        "項目定義は NEC-FIWARE/smart-data-models の cio/ モデル"
        "（MIT, (c) 2021 NEC Corporation）から転記したもの。",
        "政府標準利用規約（第2.0版）（CC BY 4.0 互換）; 転記元リポジトリ MIT",
    )


def standard_datasets() -> Source:
    return _source(
        "jichitai-standard-datasets",
        "自治体標準オープンデータセット（正式版）データ項目定義書",
        "https://www.digital.go.jp/resources/data_dataset",
        "出典：デジタル庁「自治体標準オープンデータセット データ項目定義書A」"
        "（2026年8月1日版）13.公衆トイレ一覧。機械可読化は tsunagu-bosai/open-infra-japan（MIT）。",
        "公共データ利用規約（第1.0版）（PDL1.0）",
    )


def imi() -> Source:
    return _source(
        "imi",
        "共通語彙基盤 コア語彙 2.4.1（IMI）",
        "https://imi.go.jp/",
        "出典：独立行政法人情報処理推進機構（IPA）・経済産業省「共通語彙基盤 コア語彙 2.4.1」"
        "（2017年11月10日）。IMIV 形式のファイルは "
        "IMI-Tool-Project/imi-data-validator（MIT）から。",
        "CC0 1.0（語彙ファイルの表示）",
    )


def ckan_portals() -> Source:
    return _source(
        "ckan-portals",
        "国内の CKAN オープンデータカタログ一覧（xckan）",
        "https://search.ckan.jp/",
        "出典：NII-CPS-Center/xckan のサイト一覧（xckan_sitelist.json、2022年2月時点）。"
        "各カタログサイトの名称・運営団体・CKAN API の URL。",
        "各サイトの利用規約に従う（一覧はメタデータ）",
    )
