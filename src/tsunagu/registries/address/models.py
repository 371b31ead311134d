"""Tables of the address base registry (アドレス・ベース・レジストリ), with ABR's own field names.

One table per ABR master file kind, and one ``*_pos`` table per positions file kind: positions
are published (and dated) separately from the masters, so keeping them apart lets either be
re-imported without touching the other; the read functions join them (LEFT JOIN on the key).

Key columns never hold NULL: an empty ABR key part (``rsdt2_id`` of most residences) is stored
as ``""``. Every row records its provenance: the file it came from (``source_file``) and that
file's date (``source_date``). ``withdrawn_date`` is set when a newer file for the same
municipality no longer lists the row — it is not an ABR field, and the row stays as history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Date, DateTime, Float, Index, Integer, String, Table

from tsunagu.db import Base
from tsunagu.kernel import naive_utcnow

metadata = Base.metadata

PROVENANCE = ("source_file", "source_date", "withdrawn_date")
POSITION = ("rep_lat", "rep_lon", "rep_srid", "rep_scale", "rep_src_code")

PREF_NAMES = ("pref", "pref_kana", "pref_roma")
CITY_NAMES = (
    *PREF_NAMES,
    "county", "county_kana", "county_roma",
    "city", "city_kana", "city_roma",
    "ward", "ward_kana", "ward_roma",
)  # fmt: skip
TOWN_FIELDS = (
    "machiaza_type", *CITY_NAMES,
    "oaza_cho", "oaza_cho_kana", "oaza_cho_roma",
    "chome", "chome_kana", "chome_number",
    "koaza", "koaza_kana", "koaza_roma",
    "machiaza_dist", "rsdt_addr_flg", "rsdt_addr_mtd_code",
    "oaza_cho_aka_flg", "koaza_aka_code", "oaza_cho_gsi_uncmn", "koaza_gsi_uncmn",
    "status_flg", "wake_num_flg", "efct_date", "ablt_date", "src_code", "post_code", "remarks",
)  # fmt: skip
# Town name parts repeated in the block, residence and parcel files.
PLACE = ("city", "ward", "oaza_cho", "chome", "koaza", "machiaza_dist")
BLK_FIELDS = (
    *PLACE, "blk_num", "rsdt_addr_flg", "rsdt_addr_mtd_code", "status_flg",
    "efct_date", "ablt_date", "src_code", "remarks",
)  # fmt: skip
RSDT_FIELDS = (
    *PLACE, "blk_num", "rsdt_num", "rsdt_num2", "basic_rsdt_div", "rsdt_addr_flg",
    "rsdt_addr_mtd_code", "status_flg", "efct_date", "ablt_date", "src_code", "remarks",
)  # fmt: skip
PARCEL_FIELDS = (
    *PLACE, "prc_num1", "prc_num2", "prc_num3", "rsdt_addr_flg", "prc_rec_flg",
    "prc_area_code", "efct_date", "ablt_date", "src_code", "remarks", "real_prop_num",
)  # fmt: skip
PREF_FIELDS = (*PREF_NAMES, "efct_date", "ablt_date", "remarks")
CITY_FIELDS = (*CITY_NAMES, "efct_date", "ablt_date", "remarks")
DATES = {"efct_date", "ablt_date"}


def _column(name: str, key: bool = False) -> Column[object]:
    if key:
        return Column(name, String, primary_key=True)
    if name in DATES:
        return Column(name, Date)
    if name in ("rep_lat", "rep_lon"):
        return Column(name, Float)
    if name == "rep_scale":
        return Column(name, Integer)
    return Column(name, String)


def _table(name: str, keys: tuple[str, ...], fields: tuple[str, ...]) -> Table:
    return Table(
        name,
        metadata,
        *(_column(k, key=True) for k in keys),
        *(_column(f) for f in fields),
        Column("source_file", String, nullable=False),
        Column("source_date", Date, nullable=False),
        Column("withdrawn_date", Date),
    )


@dataclass(frozen=True)
class Kind:
    """One kind of ABR file: its table, key columns and the entity name used in event topics."""

    name: str  # file name stem before the area suffix, e.g. "mt_town" or "mt_town_pos"
    table: Table
    keys: tuple[str, ...]
    fields: tuple[str, ...]
    entity: str  # event topic part, e.g. "machiaza"
    is_position: bool = False


PREF_KEYS = ("lg_code",)
TOWN_KEYS = ("lg_code", "machiaza_id")
BLK_KEYS = (*TOWN_KEYS, "blk_id")
RSDT_KEYS = (*BLK_KEYS, "rsdt_id", "rsdt2_id")
PARCEL_KEYS = (*TOWN_KEYS, "prc_id")

prefecture = _table("address_prefecture", PREF_KEYS, PREF_FIELDS)
municipality = _table("address_municipality", PREF_KEYS, CITY_FIELDS)
town = _table("address_town", TOWN_KEYS, TOWN_FIELDS)
block = _table("address_rsdtdsp_blk", BLK_KEYS, BLK_FIELDS)
residence = _table("address_rsdtdsp_rsdt", RSDT_KEYS, RSDT_FIELDS)
parcel = _table("address_parcel", PARCEL_KEYS, PARCEL_FIELDS)

prefecture_pos = _table("address_prefecture_pos", PREF_KEYS, POSITION)
municipality_pos = _table("address_municipality_pos", PREF_KEYS, POSITION)
town_pos = _table("address_town_pos", TOWN_KEYS, POSITION)
block_pos = _table("address_rsdtdsp_blk_pos", BLK_KEYS, POSITION)
residence_pos = _table("address_rsdtdsp_rsdt_pos", RSDT_KEYS, POSITION)
parcel_pos = _table("address_parcel_pos", PARCEL_KEYS, POSITION)

# Name search and the children of a municipality.
Index("ix_address_town_oaza_cho", town.c.oaza_cho)
Index("ix_address_town_oaza_cho_kana", town.c.oaza_cho_kana)
Index("ix_address_town_koaza", town.c.koaza)
Index("ix_address_municipality_city", municipality.c.city)

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("mt_pref", prefecture, PREF_KEYS, PREF_FIELDS, "prefecture"),
        Kind("mt_city", municipality, PREF_KEYS, CITY_FIELDS, "municipality"),
        Kind("mt_town", town, TOWN_KEYS, TOWN_FIELDS, "machiaza"),
        Kind("mt_rsdtdsp_blk", block, BLK_KEYS, BLK_FIELDS, "block"),
        Kind("mt_rsdtdsp_rsdt", residence, RSDT_KEYS, RSDT_FIELDS, "residence"),
        Kind("mt_parcel", parcel, PARCEL_KEYS, PARCEL_FIELDS, "parcel"),
        Kind("mt_pref_pos", prefecture_pos, PREF_KEYS, POSITION, "prefecture", True),
        Kind("mt_city_pos", municipality_pos, PREF_KEYS, POSITION, "municipality", True),
        Kind("mt_town_pos", town_pos, TOWN_KEYS, POSITION, "machiaza", True),
        Kind("mt_rsdtdsp_blk_pos", block_pos, BLK_KEYS, POSITION, "block", True),
        Kind("mt_rsdtdsp_rsdt_pos", residence_pos, RSDT_KEYS, POSITION, "residence", True),
        Kind("mt_parcel_pos", parcel_pos, PARCEL_KEYS, POSITION, "parcel", True),
    )
}
POSITIONS_OF = {
    prefecture.name: prefecture_pos,
    municipality.name: municipality_pos,
    town.name: town_pos,
    block.name: block_pos,
    residence.name: residence_pos,
    parcel.name: parcel_pos,
}

# Files fully imported (the checkpoint: a file whose content hash is here is skipped).
import_file = Table(
    "address_import_file",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("member", String, primary_key=True),  # the CSV inside the zip
    Column("file_name", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("file_date", Date, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("imported_at", DateTime, nullable=False, default=naive_utcnow),
)

# Which file each municipality's rows of a kind come from: the newest file date wins.
import_source = Table(
    "address_import_source",
    metadata,
    Column("kind", String, primary_key=True),
    Column("lg_code", String, primary_key=True),
    Column("file_name", String, nullable=False),
    Column("file_date", Date, nullable=False),
    Column("imported_at", DateTime, nullable=False, default=naive_utcnow),
)
