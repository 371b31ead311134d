"""The in-memory address index: ABR names as folded keys, built once from an AddressSource."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tsunagu.registries.address.geocoder.normalize import clean, fold
from tsunagu.registries.address.geocoder.source import AddressSource, Row

# Prefixes people omit or add (大字 関ケ原, 字 日出): both spellings are registered as keys.
_OPTIONAL_PREFIXES = ("大字", "字")
_PREF_SUFFIXES = ("都", "府", "県")


@dataclass(slots=True)
class City:
    """A municipality (市区町村, or a 政令市's 区) with its names as ABR writes them."""

    lg_code: str
    pref: str
    county: str | None
    city: str
    ward: str | None
    lat: float | None = None
    lon: float | None = None


@dataclass(slots=True)
class Town:
    """One 町字 row: 大字・町 + 丁目 + 小字, with its representative point."""

    lg_code: str
    machiaza_id: str
    oaza_cho: str | None
    chome: str | None
    koaza: str | None
    rsdt_addr_flg: int
    lat: float | None = None
    lon: float | None = None


@dataclass(slots=True)
class Node:
    """A matchable 町字 name: the row itself (if ABR has one), its 丁目 and its 小字."""

    base: Town | None = None
    chomes: dict[str, Node] = field(default_factory=dict)
    koaza: dict[str, Town] = field(default_factory=dict)
    koaza_max: int = 0
    parent: Node | None = None


@dataclass(slots=True)
class TownTable:
    """Every 町字 key of one municipality, for longest-prefix lookups."""

    keys: dict[str, Node] = field(default_factory=dict)
    max_len: int = 0


@dataclass(slots=True)
class Residence:
    rsdt_id: str
    rsdt2_id: str | None
    rsdt_num: str
    rsdt_num2: str | None
    lat: float | None
    lon: float | None


@dataclass(slots=True)
class Block:
    """A 住居表示 街区 and its 住居 keyed by (住居番号, 住居番号2)."""

    blk_id: str
    blk_num: str
    lat: float | None = None
    lon: float | None = None
    residences: dict[tuple[str, str], Residence] = field(default_factory=dict)


@dataclass(slots=True)
class Parcel:
    prc_id: str
    nums: tuple[str, str, str]
    lat: float | None
    lon: float | None


@dataclass
class AddressIndex:
    """Everything the matcher needs, keyed by folded names and ABR ids."""

    version: str = ""
    prefs: dict[str, str] = field(default_factory=dict)  # folded name → ABR name
    short_prefs: dict[str, str] = field(default_factory=dict)  # 東京 → 東京都
    pref_key_max: int = 0
    pref_pos: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    cities: dict[str, City] = field(default_factory=dict)
    city_keys: dict[str, list[str]] = field(default_factory=dict)  # folded name → lg_codes
    city_key_max: int = 0
    wards_of: dict[str, list[str]] = field(default_factory=dict)  # 政令市 lg_code → 区 lg_codes
    towns: dict[str, TownTable] = field(default_factory=dict)
    # 大字・町 key → municipalities that have it, for input that names no municipality
    town_lg_codes: dict[str, list[str]] = field(default_factory=dict)
    town_key_max: int = 0
    blocks: dict[tuple[str, str], dict[str, Block]] = field(default_factory=dict)
    parcels: dict[tuple[str, str], dict[tuple[str, str, str], Parcel]] = field(default_factory=dict)
    rsdt_lg_codes: set[str] = field(default_factory=set)
    parcel_lg_codes: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    build_seconds: float = 0.0

    def city_names(self, lg_code: str) -> City | None:
        return self.cities.get(lg_code)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _name(value: Any) -> str | None:
    """A name exactly as ABR writes it (compatibility ideographs included): it is printed."""
    return str(value).strip() or None if value else None


# Full-width digits and Latin letters in 町字 names (４地割, 第３５地割, 唯野１字, １丁目) print as
# ASCII: abr-geocoder converts 大字・町, 丁目 and 小字 so (toHankakuAlphaNum) when it builds its
# 町字 trie and prints the converted names, and every number in ``output``/``others`` is ASCII.
_HALFWIDTH = str.maketrans(
    {chr(code): chr(code - 0xFEE0) for code in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B))}
    | {chr(code): chr(code - 0xFEE0) for code in range(0xFF41, 0xFF5B)}
)


def _town_name(value: Any) -> str | None:
    name = _name(value)
    return name.translate(_HALFWIDTH) if name else None


def _key(name: str) -> str:
    return fold(clean(name))


def _key_variants(name: str) -> list[str]:
    key = _key(name)
    variants = [key]
    for prefix in _OPTIONAL_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            variants.append(key[len(prefix) :])
            break
    return variants


def _current(row: Row) -> bool:
    """Abolished rows stay in the registry as history but are not geocoding targets."""
    return not row.get("ablt_date")


def build_index(source: AddressSource) -> AddressIndex:
    """Read every row of ``source`` once and build the index."""
    started = time.perf_counter()
    index = AddressIndex(version=source.version())
    _add_prefectures(index, source.iter_prefectures())
    _add_cities(index, source.iter_municipalities())
    _add_towns(index, source.iter_towns())
    _fill_missing_bases(index)
    _add_blocks(index, source.iter_blocks())
    _add_residences(index, source.iter_residences())
    _add_parcels(index, source.iter_parcels())
    index.build_seconds = time.perf_counter() - started
    return index


def _add_prefectures(index: AddressIndex, rows: Iterable[Row]) -> None:
    for row in rows:
        pref = _name(row.get("pref"))
        if not pref or not _current(row):
            continue
        _register_pref(index, pref)
        index.pref_pos[pref] = (_float(row.get("rep_lat")), _float(row.get("rep_lon")))


def _register_pref(index: AddressIndex, pref: str) -> None:
    key = _key(pref)
    index.prefs[key] = pref
    index.pref_key_max = max(index.pref_key_max, len(key))
    if key.endswith(_PREF_SUFFIXES) and len(key) > 2:
        index.short_prefs[key[:-1]] = pref


def _add_cities(index: AddressIndex, rows: Iterable[Row]) -> None:
    count = 0
    for row in rows:
        if not _current(row) or not row.get("lg_code") or not row.get("city"):
            continue
        pref = _name(row.get("pref")) or ""
        city = City(
            lg_code=row["lg_code"],
            pref=pref,
            county=_name(row.get("county")),
            city=_name(row["city"]) or "",
            ward=_name(row.get("ward")),
            lat=_float(row.get("rep_lat")),
            lon=_float(row.get("rep_lon")),
        )
        index.cities[city.lg_code] = city
        if _key(pref) not in index.prefs:
            _register_pref(index, pref)
        count += 1
    parents = {(c.pref, c.county, c.city): c.lg_code for c in index.cities.values() if not c.ward}
    for city in index.cities.values():
        names = [city.city + (city.ward or "")]
        if city.county:
            names.append(city.county + city.city + (city.ward or ""))
        if city.ward:
            names.append(city.ward)  # 京都市の区 written alone (伏見区淀美豆町)
            parent = parents.get((city.pref, city.county, city.city))
            if parent:
                index.wards_of.setdefault(parent, []).append(city.lg_code)
        for name in names:
            key = _key(name)
            codes = index.city_keys.setdefault(key, [])
            if city.lg_code not in codes:
                codes.append(city.lg_code)
            index.city_key_max = max(index.city_key_max, len(key))
    index.counts["municipalities"] = count


def _add_towns(index: AddressIndex, rows: Iterable[Row]) -> None:
    count = 0
    for row in rows:
        if not _current(row) or not row.get("lg_code") or not row.get("machiaza_id"):
            continue
        town = Town(
            lg_code=row["lg_code"],
            machiaza_id=row["machiaza_id"],
            oaza_cho=_town_name(row.get("oaza_cho")),
            chome=_town_name(row.get("chome")),
            koaza=_town_name(row.get("koaza")),
            rsdt_addr_flg=_int(row.get("rsdt_addr_flg")),
            lat=_float(row.get("rep_lat")),
            lon=_float(row.get("rep_lon")),
        )
        if town.lg_code not in index.cities:
            continue
        _register_town(index.towns.setdefault(town.lg_code, TownTable()), town)
        if town.oaza_cho:
            for key in _key_variants(town.oaza_cho):
                codes = index.town_lg_codes.setdefault(key, [])
                if not codes or codes[-1] != town.lg_code:
                    codes.append(town.lg_code)
                index.town_key_max = max(index.town_key_max, len(key))
        count += 1
    index.counts["towns"] = count


def _node(table: TownTable, keys: list[str], parent: Node | None = None) -> Node:
    node = None
    for key in keys:
        node = node or table.keys.get(key)
    node = node or Node(parent=parent)
    for key in keys:
        table.keys.setdefault(key, node)
        table.max_len = max(table.max_len, len(key))
    return node


def _register_town(table: TownTable, town: Town) -> None:
    if town.oaza_cho:
        oaza_keys = _key_variants(town.oaza_cho)
        node = _node(table, oaza_keys)
        if town.chome:
            chome_key = _key(town.chome)
            child = _node(table, [k + chome_key for k in oaza_keys], parent=node)
            node.chomes.setdefault(chome_key.removesuffix("丁目"), child)
            node = child
    elif town.koaza:  # 小字 with no 大字 (夕張市 一部): the 小字 is the name
        node = _node(table, _key_variants(town.koaza))
        if node.base is None:
            node.base = town
        return
    else:
        return
    if town.koaza:
        for key in _key_variants(town.koaza):
            node.koaza.setdefault(key, town)
            node.koaza_max = max(node.koaza_max, len(key))
    elif node.base is None:
        node.base = town


def _add_blocks(index: AddressIndex, rows: Iterable[Row]) -> None:
    for row in rows:
        if not _current(row) or not row.get("blk_num"):
            continue
        blocks = index.blocks.setdefault((row["lg_code"], row["machiaza_id"]), {})
        blocks[row["blk_num"]] = Block(
            row["blk_id"], row["blk_num"], _float(row.get("rep_lat")), _float(row.get("rep_lon"))
        )
        index.rsdt_lg_codes.add(row["lg_code"])


def _add_residences(index: AddressIndex, rows: Iterable[Row]) -> None:
    count = 0
    sums: dict[int, list[float]] = {}
    for row in rows:
        if not _current(row) or not row.get("blk_num") or not row.get("rsdt_num"):
            continue
        blocks = index.blocks.setdefault((row["lg_code"], row["machiaza_id"]), {})
        block = blocks.get(row["blk_num"])
        if block is None:  # no 街区 file loaded: the 街区 comes from its 住居
            block = blocks[row["blk_num"]] = Block(row["blk_id"], row["blk_num"])
            sums[id(block)] = [0.0, 0.0, 0.0]
        lat, lon = _float(row.get("rep_lat")), _float(row.get("rep_lon"))
        residence = Residence(
            row["rsdt_id"], row.get("rsdt2_id"), row["rsdt_num"], row.get("rsdt_num2"), lat, lon
        )
        block.residences[(row["rsdt_num"], row.get("rsdt_num2") or "")] = residence
        acc = sums.get(id(block))
        if acc is not None and lat is not None and lon is not None:
            acc[0] += lat
            acc[1] += lon
            acc[2] += 1
            block.lat, block.lon = acc[0] / acc[2], acc[1] / acc[2]  # centroid of its 住居
        index.rsdt_lg_codes.add(row["lg_code"])
        count += 1
    index.counts["residences"] = count


def _add_parcels(index: AddressIndex, rows: Iterable[Row]) -> None:
    count = 0
    for row in rows:
        if not _current(row) or not row.get("prc_num1"):
            continue
        nums = (row["prc_num1"], row.get("prc_num2") or "", row.get("prc_num3") or "")
        parcels = index.parcels.setdefault((row["lg_code"], row["machiaza_id"]), {})
        parcels[nums] = Parcel(
            row["prc_id"], nums, _float(row.get("rep_lat")), _float(row.get("rep_lon"))
        )
        index.parcel_lg_codes.add(row["lg_code"])
        count += 1
    index.counts["parcels"] = count


def _fill_missing_bases(index: AddressIndex) -> None:
    """A 大字 that ABR lists only through its 丁目/小字 still needs a row to answer with.

    ABR's 町字id is 4 digits of 大字・町 and 3 of 丁目 ("0004003" = 銀座三丁目), so the 大字
    itself is "0004000"; position and flags come from no row, so none are invented.
    """
    for table in index.towns.values():
        for node in table.keys.values():
            if node.base is not None or node.parent is not None:
                continue  # a 丁目 without its own row has no id to answer with
            sample = next(iter(node.koaza.values()), None)
            if sample is None:
                child = next((c for c in node.chomes.values() if c.base), None)
                sample = child.base if child else None
            if sample is None:
                continue
            node.base = Town(
                lg_code=sample.lg_code,
                machiaza_id=sample.machiaza_id[:4] + "000",
                oaza_cho=sample.oaza_cho,
                chome=None,
                koaza=None,
                rsdt_addr_flg=0,
            )
