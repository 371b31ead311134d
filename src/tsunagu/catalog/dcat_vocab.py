"""Controlled vocabularies of DCAT-AP 3 exports: EU file types, IANA media types, EU data themes,
EU frequencies and languages, and the municipality URIs of spatial coverage.

Spatial coverage (dct:spatial) is a 全国地方公共団体コード (6 digits: the 5-digit 標準地域コード
plus a check digit). Its URI is the e-Stat statistical LOD resource of the 標準地域コード,
``http://data.e-stat.go.jp/lod/sac/C{first five digits}`` — published by 総務省統計局, stable
across deployments, and the same for a prefecture (``130001`` → ``C13000``) and a municipality
(``131016`` → ``C13101``). The 6-digit code itself travels as the Location's skos:notation.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources

EU = "http://publications.europa.eu/resource/authority/"
FILE_TYPE = EU + "file-type/"
DATA_THEME = EU + "data-theme"
FREQUENCY = EU + "frequency/"
LANGUAGE = EU + "language/"
COUNTRY = EU + "country/"
IANA = "https://www.iana.org/assignments/media-types/"
ESTAT_SAC = "http://data.e-stat.go.jp/lod/sac/C"
ADMS_PUBLISHER_TYPE = "http://purl.org/adms/publishertype/"

_FORMAT_ALIASES = {
    "EXCEL": "XLSX", "XLSX/XLS": "XLSX", "TEXT": "TXT", "JSONLD": "JSON_LD", "JSON-LD": "JSON_LD",
    "TTL": "RDF_TURTLE", "TURTLE": "RDF_TURTLE", "RDF/XML": "RDF_XML", "NT": "RDF_N_TRIPLES",
    "SHAPE": "SHP", "SHAPEFILE": "SHP", "ESRI SHAPEFILE": "SHP", "JPG": "JPEG", "TIF": "TIFF",
    "WMS": "WMS_SRVC", "WFS": "WFS_SRVC", "WMTS": "WMTS_SRVC", "GZ": "GZIP", "API": "REST",
    "HTM": "HTML", "MS WORD": "DOC", "WORD": "DOCX", "POWERPOINT": "PPTX", "GEO JSON": "GEOJSON",
}  # fmt: skip
_MEDIA_TYPES = {
    "CSV": "text/csv", "TSV": "text/tab-separated-values", "JSON": "application/json",
    "GEOJSON": "application/geo+json", "XML": "application/xml", "PDF": "application/pdf",
    "ZIP": "application/zip", "HTML": "text/html", "TXT": "text/plain",
    "XLS": "application/vnd.ms-excel",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "DOCX": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "ODS": "application/vnd.oasis.opendocument.spreadsheet", "JSON_LD": "application/ld+json",
    "RDF_TURTLE": "text/turtle", "RDF_XML": "application/rdf+xml",
    "KML": "application/vnd.google-earth.kml+xml", "PNG": "image/png", "JPEG": "image/jpeg",
}  # fmt: skip
_MEDIA_TYPE_RE = re.compile(r"^[a-z]+/[a-z0-9][a-z0-9.+_-]*\Z")

# EU data themes (http://publications.europa.eu/resource/authority/data-theme) by words in a
# group's Japanese or English title: the portals' own categories are too many to list by name.
_THEMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HEAL", ("医療", "福祉", "健康", "health")),
    ("ENVI", ("環境", "environment")),
    ("JUST", ("防災", "災害", "治安", "安全", "司法", "justice", "safety")),
    ("REGI", ("まちづくり", "都市", "地域", "region", "cities")),
    ("TRAN", ("交通", "transport")),
    ("ECON", ("税", "産業", "雇用", "観光", "経済", "財政", "economy", "finance", "business")),
    ("EDUC", ("教育", "文化", "芸術", "スポーツ", "オリンピック", "education", "culture")),
    ("SOCI", ("生活", "人口", "子育て", "少子", "高齢", "population", "society")),
    ("GOVE", ("行政", "行財政", "government", "政府")),
    ("AGRI", ("農", "林", "水産", "agricultur", "fisher", "food")),
    ("ENER", ("エネルギー", "energy")),
    ("TECH", ("科学", "技術", "science", "technology")),
    ("INTR", ("国際", "international")),
)
THEME_LABELS = {
    "AGRI": "Agriculture, fisheries, forestry and food", "ECON": "Economy and finance",
    "EDUC": "Education, culture and sport", "ENER": "Energy", "ENVI": "Environment",
    "GOVE": "Government and public sector", "HEAL": "Health", "INTR": "International issues",
    "JUST": "Justice, legal system and public safety", "REGI": "Regions and cities",
    "SOCI": "Population and society", "TECH": "Science and technology", "TRAN": "Transport",
}  # fmt: skip

# 更新頻度 as written on Japanese portals (NFKC, no spaces) and CKAN/ISO words → EU frequency.
_FREQUENCIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("NEVER", ("更新無", "更新なし", "公開時のみ", "never")),
    ("IRREG", ("随時", "不定期", "変更の都度", "irregular", "asneeded", "as_needed")),
    ("CONT", ("リアルタイム", "continuous", "realtime")),
    ("DAILY", ("毎日", "1日ごと", "日次", "daily")),
    ("WEEKLY", ("毎週", "1週間ごと", "週次", "weekly")),
    ("MONTHLY", ("毎月", "1か月ごと", "1ヶ月ごと", "1月ごと", "月1回", "月次", "monthly")),
    ("QUARTERLY", ("3か月ごと", "3ヶ月ごと", "四半期", "quarterly")),
    ("ANNUAL_2", ("半年ごと", "6か月ごと", "年2回", "biannual", "semiannual")),
    ("ANNUAL", ("1年ごと", "年1回", "1回/年", "毎年", "1年", "年次", "annual", "annually")),
    ("BIENNIAL", ("2年ごと", "biennial")),
    ("QUINQUENNIAL", ("5年ごと", "quinquennial")),
)
_LANGUAGES = {"ja": "JPN", "jpn": "JPN", "en": "ENG", "eng": "ENG"}


@cache
def eu_file_types() -> frozenset[str]:
    """Codes of the EU file-type vocabulary (shipped in ``catalog/data/eu-file-types.txt``)."""
    text = resources.files("tsunagu.catalog").joinpath("data/eu-file-types.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def file_type_uri(fmt: str) -> str | None:
    """The EU file-type URI of a format label (``csv``, ``Excel``, ``GeoJSON`` …), if any."""
    code = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", fmt)).strip().upper().lstrip(".")
    code = _FORMAT_ALIASES.get(code, code)
    return FILE_TYPE + code if code in eu_file_types() else None


def media_type_uri(media_type: str, fmt: str = "") -> str | None:
    """The IANA media-type URI of a distribution: its own media type, else its format's."""
    value = media_type.split(";")[0].strip().lower()
    if not _MEDIA_TYPE_RE.match(value):
        uri = file_type_uri(fmt) if fmt else None
        value = _MEDIA_TYPES.get(uri.rsplit("/", 1)[1], "") if uri else ""
    return IANA + value if value else None


def theme_codes(title: str) -> list[str]:
    """EU data-theme codes a group's title speaks of (none for 'その他')."""
    text = unicodedata.normalize("NFKC", title).lower()
    return [code for code, words in _THEMES if any(w in text for w in words)]


def frequency_uri(value: str) -> str | None:
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", value)).lower()
    if not text:
        return None
    for code, words in _FREQUENCIES:
        if text in words:
            return FREQUENCY + code
    return None


def language_uri(value: str) -> str | None:
    code = _LANGUAGES.get(value.strip().lower())
    return LANGUAGE + code if code else None


def municipality_uri(lg_code: str) -> str | None:
    """The e-Stat 標準地域コード URI of a 全国地方公共団体コード (see the module docstring)."""
    return ESTAT_SAC + lg_code[:5] if re.fullmatch(r"\d{6}", lg_code) else None
