"""Response models of the address API: ABR's field names beside the GIF core data model's.

The ``gif`` object carries the address parts of the 政府相互運用性フレームワーク (GIF) コアデータ
モデル「住所」 under their element names in GIF_Core_DataModel.xsd: localGovernmentCode
(全国地方公共団体コード), streetAddressId (町字ID), prefecture (都道府県), cityAndCounty (市区町村,
郡・政令市区を含む), county (郡), city (市区町村名), ward (政令市区), streetAddress (町字),
largerSectionTown (大字・町), chome (丁目), smallAdministrativeUnit (小字),
displayedAddressFlag (住居表示フラグ), postalCode (郵便番号), with the Kana/En variants.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .postal import PostalRecord


def _gif(name: str, ja: str) -> Any:
    return Field(default=None, alias=name, description=f"{ja} (GIF {name})")


class GifAddress(BaseModel):
    """GIF コアデータモデル「住所」の部品 (element names of GIF_Core_DataModel.xsd)."""

    model_config = ConfigDict(populate_by_name=True)

    local_government_code: str | None = _gif("localGovernmentCode", "全国地方公共団体コード")
    street_address_id: str | None = _gif("streetAddressId", "町字ID")
    prefecture: str | None = _gif("prefecture", "都道府県")
    prefecture_kana: str | None = _gif("prefectureKana", "都道府県（カナ）")
    prefecture_en: str | None = _gif("prefectureEn", "都道府県（英字）")
    city_and_county: str | None = _gif("cityAndCounty", "市区町村（郡・政令市区を含む）")
    city_and_county_kana: str | None = _gif("cityAndCountyKana", "市区町村（カナ）")
    county: str | None = _gif("county", "郡")
    city: str | None = _gif("city", "市区町村名")
    ward: str | None = _gif("ward", "政令市区")
    street_address: str | None = _gif("streetAddress", "町字")
    street_address_kana: str | None = _gif("streetAddressKana", "町字（カナ）")
    larger_section_town: str | None = _gif("largerSectionTown", "大字・町")
    chome: str | None = _gif("chome", "丁目")
    small_administrative_unit: str | None = _gif("smallAdministrativeUnit", "小字")
    displayed_address_flag: str | None = _gif("displayedAddressFlag", "住居表示フラグ")
    postal_code: str | None = _gif("postalCode", "郵便番号")


def _concat(*parts: str | None) -> str | None:
    joined = "".join(p for p in parts if p)
    return joined or None


def gif_parts(row: dict[str, Any]) -> GifAddress:
    """The GIF parts of an ABR row (prefecture, municipality or 町字)."""
    get = row.get
    return GifAddress(
        local_government_code=get("lg_code"),
        street_address_id=get("machiaza_id"),
        prefecture=get("pref"),
        prefecture_kana=get("pref_kana"),
        prefecture_en=get("pref_roma"),
        city_and_county=_concat(get("county"), get("city"), get("ward")),
        city_and_county_kana=_concat(get("county_kana"), get("city_kana"), get("ward_kana")),
        county=get("county"),
        city=get("city"),
        ward=get("ward"),
        street_address=_concat(get("oaza_cho"), get("chome"), get("koaza")),
        street_address_kana=_concat(get("oaza_cho_kana"), get("chome_kana"), get("koaza_kana")),
        larger_section_town=get("oaza_cho"),
        chome=get("chome"),
        small_administrative_unit=get("koaza"),
        displayed_address_flag=get("rsdt_addr_flg"),
        postal_code=(get("postal_codes") or [get("post_code")])[0],
    )


class Provenance(BaseModel):
    """Where a row came from, and ABR's validity dates."""

    efct_date: date | None = Field(None, description="効力発生日")
    ablt_date: date | None = Field(None, description="廃止日 (the row stays as history)")
    source_file: str = Field(description="The ABR file this row was imported from")
    source_date: date = Field(description="That file's date (the newest file wins)")
    withdrawn_date: date | None = Field(
        None, description="Set when a newer file no longer lists the row (not an ABR field)"
    )
    rep_lat: float | None = Field(None, description="代表点の緯度")
    rep_lon: float | None = Field(None, description="代表点の経度")
    rep_srid: str | None = Field(None, description="代表点の座標参照系 (EPSG:6668 …)")
    rep_scale: int | None = Field(None, description="代表点の地図情報レベル")
    rep_src_code: str | None = Field(None, description="代表点の原典資料コード")


class AreaNames(Provenance):
    """The prefecture/county/city/ward names every ABR row carries (with kana and romaji)."""

    pref: str | None = None
    pref_kana: str | None = None
    pref_roma: str | None = None
    county: str | None = None
    county_kana: str | None = None
    county_roma: str | None = None
    city: str | None = None
    city_kana: str | None = None
    city_roma: str | None = None
    ward: str | None = None
    ward_kana: str | None = None
    ward_roma: str | None = None


class AreaOut(AreaNames):
    """都道府県 (mt_pref) or 市区町村 (mt_city), ABR fields."""

    level: str = Field(description="prefecture or municipality")
    lg_code: str
    remarks: str | None = None
    gif: GifAddress


class TownOut(AreaNames):
    """町字 (mt_town), ABR fields."""

    lg_code: str
    machiaza_id: str
    machiaza_type: str | None = Field(None, description="町字区分コード")
    oaza_cho: str | None = None
    oaza_cho_kana: str | None = None
    oaza_cho_roma: str | None = None
    chome: str | None = None
    chome_kana: str | None = None
    chome_number: str | None = None
    koaza: str | None = None
    koaza_kana: str | None = None
    koaza_roma: str | None = None
    machiaza_dist: str | None = None
    rsdt_addr_flg: str | None = Field(None, description="住居表示フラグ")
    rsdt_addr_mtd_code: str | None = None
    oaza_cho_aka_flg: str | None = None
    koaza_aka_code: str | None = None
    oaza_cho_gsi_uncmn: str | None = None
    koaza_gsi_uncmn: str | None = None
    status_flg: str | None = None
    wake_num_flg: str | None = None
    src_code: str | None = None
    post_code: str | None = Field(None, description="ABR's 郵便番号 (often empty)")
    remarks: str | None = None
    postal_codes: list[str] | None = Field(
        None, description="Postal codes: ABR's post_code, then Japan Post's for the town name"
    )
    gif: GifAddress


class AreaList(BaseModel):
    items: list[AreaOut]
    as_of: date


class ChildPage(BaseModel):
    """Children of an area: a prefecture's municipalities or a municipality's 町字."""

    level: str = Field(description="municipality or machiaza")
    items: list[AreaOut | TownOut]
    total: int
    limit: int
    offset: int
    as_of: date


class TownPage(BaseModel):
    items: list[TownOut]
    total: int
    limit: int
    offset: int
    as_of: date


class PostalCandidate(BaseModel):
    """One Japan Post record of a postal code and the ABR municipality and 町字 it matches."""

    postal_code: str
    jis_code: str = Field(description="JIS X 0402 5-digit code (lg_code without check digit)")
    prefecture: str
    city: str
    neighborhood: str = Field(description="町域 ('' = the rest of the municipality)")
    prefecture_kana: str
    city_kana: str
    neighborhood_kana: str
    note: str | None = None
    office: str | None = Field(None, description="大口事業所 name, for a business code")
    lg_code: str | None = Field(None, description="The matched ABR municipality")
    municipality: AreaOut | None = None
    towns: list[TownOut]


class PostalOut(BaseModel):
    postal_code: str
    candidates: list[PostalCandidate]
    as_of: date


def area_out(row: dict[str, Any]) -> AreaOut:
    return AreaOut.model_validate(row | {"gif": gif_parts(row)})


def town_out(row: dict[str, Any]) -> TownOut:
    return TownOut.model_validate(row | {"gif": gif_parts(row)})


def postal_candidate(candidate: dict[str, Any]) -> PostalCandidate:
    record: PostalRecord = candidate["record"]
    return PostalCandidate(
        postal_code=record.postal_code,
        jis_code=record.jis_code,
        prefecture=record.prefecture,
        city=record.city,
        neighborhood=record.neighborhood,
        prefecture_kana=record.prefecture_kana,
        city_kana=record.city_kana,
        neighborhood_kana=record.neighborhood_kana,
        note=record.note,
        office=record.office,
        lg_code=candidate["lg_code"],
        municipality=area_out(candidate["municipality"]) if candidate["municipality"] else None,
        towns=[town_out(t) for t in candidate["towns"]],
    )
