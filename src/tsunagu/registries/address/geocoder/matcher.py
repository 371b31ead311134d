"""Address → ABR identifiers: prefecture, municipality, 町字, then 住居表示 or 地番 numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from enum import StrEnum
from typing import Any

from tsunagu.registries.address.geocoder.index import (
    AddressIndex,
    City,
    Node,
    Town,
    TownTable,
)
from tsunagu.registries.address.geocoder.normalize import (
    WILDCARD,
    clean,
    fold_with_map,
    kanji_to_int,
)

MAX_INPUT_CHARS = 10_000  # longer input is cut (never rejected): an address is far shorter
_PREF_SCAN = 12  # junk before the prefecture ("(後期)長野県…") is skipped up to this many chars

# Kyoto's street-style addresses put directions before the 町: 烏丸通上立売上る相国寺門前町.
_KYOTO_CITY = "京都市"
_STREET_MARKER = re.compile(r"(?:上る|下る|上ル|下ル|東入る|西入る|東入ル|西入ル|東入|西入|通)")
_NUMBER = re.compile(
    r"\s*(?:第)?([0-9]+|[〇一二三四五六七八九十百千壱弐参]+(?=[号番\-のノ之]|\s|$))"
)
_UNIT = re.compile(r"丁目|番地|番|号|地割")
_CONNECTOR = re.compile(r"[-のノ之]")
_IMPLIED_CHOME = re.compile(r"([0-9]+)(?=-|$)")
# Leftover text reads like abr-geocoder's (its normalizer and the restore step of its result):
# a 字 marker left before an unknown 小字 goes (字真砂482 → 真砂482); in the first word, 番地の/番/
# 号/の between numbers become "-" (482番地の2 → 482-2), a 番地/号 after the leading numbers goes
# (3928番地 → 3928, 1番1号ビル → 1-1ビル) unless a room, building or floor word follows (302号室,
# 2号棟), and so does a 番地/番/号 before a space or at the end (渡辺3号 → 渡辺3; 1番館 and
# 7番町 stay); a room after a house number is set apart by a space (52-302号室 → 52 302号室).
_REST_AZA = re.compile(r"(?:大字|小字|字)(?=[^\s0-9\-])")
_REST_ROOM = re.compile(r"(?<=[0-9])[\-号番通条]+(?=[0-9]+(?:号室|[A-Za-z]))")
_REST_JOIN = re.compile(r"(?<=[0-9])(?:番地の?|番の?|号|の|ノ|之)(?=[0-9])")
_REST_UNIT = re.compile(r"(?<=[0-9])(?:番地|番|号)(?=$|[\s\-(])")
_REST_LEAD_UNIT = re.compile(r"^([0-9][0-9\-]*)(?:番地|号)(?![室棟区館階])")
_REST_TAIL_UNIT = re.compile(r"(?<=[0-9])(?:番地|番|号)$")


class MatchLevel(StrEnum):
    """abr-geocoder's match levels, coarsest first."""

    UNKNOWN = "unknown"
    PREFECTURE = "prefecture"
    CITY = "city"
    MACHIAZA = "machiaza"
    MACHIAZA_DETAIL = "machiaza_detail"
    RESIDENTIAL_BLOCK = "residential_block"
    RESIDENTIAL_DETAIL = "residential_detail"
    PARCEL = "parcel"


TARGETS = ("all", "residential", "parcel")

RESULT_FIELDS = (
    "output", "others", "score", "match_level", "coordinate_level", "lat", "lon", "lg_code",
    "machiaza_id", "rsdt_addr_flg", "blk_id", "rsdt_id", "rsdt2_id", "prc_id", "pref", "county",
    "city", "ward", "oaza_cho", "chome", "koaza", "blk_num", "rsdt_num", "rsdt_num2", "prc_num1",
    "prc_num2", "prc_num3",
)  # fmt: skip


@dataclass(slots=True)
class GeocodeResult:
    """One geocoded address, field for field as abr-geocoder writes it."""

    input: str
    output: str = ""
    others: list[str] = field(default_factory=list)
    score: float = 0.0
    match_level: str = MatchLevel.UNKNOWN.value
    coordinate_level: str = MatchLevel.UNKNOWN.value
    lat: float | None = None
    lon: float | None = None
    lg_code: str | None = None
    machiaza_id: str | None = None
    rsdt_addr_flg: int | None = None
    blk_id: str | None = None
    rsdt_id: str | None = None
    rsdt2_id: str | None = None
    prc_id: str | None = None
    pref: str | None = None
    county: str | None = None
    city: str | None = None
    ward: str | None = None
    oaza_cho: str | None = None
    chome: str | None = None
    koaza: str | None = None
    blk_num: str | None = None
    rsdt_num: str | None = None
    rsdt_num2: str | None = None
    prc_num1: str | None = None
    prc_num2: str | None = None
    prc_num3: str | None = None

    def result(self) -> dict[str, Any]:
        """The ``result`` object of abr-geocoder's JSON output."""
        return {name: getattr(self, name) for name in RESULT_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        """``{"query": {"input": …}, "result": {…}}``, abr-geocoder's JSON element."""
        return {"query": {"input": self.input}, "result": self.result()}


@dataclass(slots=True)
class _TownMatch:
    lg_code: str
    town: Town
    node: Node
    end: int  # key position after the 町字
    city_end: int
    street: tuple[int, int] | None  # key span of a skipped Kyoto street name


class Geocoder:
    """Matches addresses against one :class:`AddressIndex` (safe to share between threads)."""

    def __init__(self, index: AddressIndex) -> None:
        self.index = index

    def geocode(self, address: str, target: str = "all") -> GeocodeResult:
        """Geocode one address; bad input gives an ``unknown`` result, never an exception."""
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}")
        text = clean(address[:MAX_INPUT_CHARS]) if isinstance(address, str) else ""
        result = GeocodeResult(input=address, output=text, others=[text] if text else [])
        if not text:
            return result
        key, offsets = fold_with_map(text)
        start, pref = self._match_pref(key)
        candidates = self._match_cities(key, start, pref) or self._match_town_only(key, start, pref)
        if not candidates:
            if pref is not None:
                self._fill_pref(result, pref, text[offsets[start] :], text)
            return result
        towns = [m for m in (self._match_town(key, lg, end) for lg, end in candidates) if m]
        if towns:
            best_end = max(m.end for m in towns)
            best = [m for m in towns if m.end == best_end]
            top_city_end = max(m.city_end for m in best)
            best = [m for m in best if m.city_end == top_city_end]
            if len({m.lg_code for m in best}) == 1:
                self._fill_town(result, best[0], text, offsets, target)
                return result
            self._fill_ambiguous(result, [m.lg_code for m in best], text[offsets[start] :], text)
            return result
        top = max(end for _, end in candidates)
        codes = sorted({lg for lg, end in candidates if end == top})
        self._fill_ambiguous(result, codes, text[offsets[top] :], text)
        return result

    # -- prefecture and municipality ------------------------------------------------------

    def _match_pref(self, key: str) -> tuple[int, str | None]:
        prefs = self.index.prefs
        for begin in range(min(_PREF_SCAN, len(key))):
            # Only lengths the rest of the key has: a shorter slice at its end ("東京都" alone)
            # would match and claim an end past the key.
            longest = min(self.index.pref_key_max, len(key) - begin)
            for length in range(longest, 1, -1):  # 千葉県 folds to 1000葉県
                pref = prefs.get(key[begin : begin + length])
                if pref:
                    return begin + length, pref
            if begin == 0:
                for length in range(longest - 1, 1, -1):  # 東京, 神奈川: only
                    # kept if a municipality follows (京都市 is not 京都府 + 市)
                    pref = self.index.short_prefs.get(key[:length])
                    if pref and self._match_cities(key, length, pref):
                        return length, pref
        return 0, None

    def _match_cities(self, key: str, start: int, pref: str | None) -> list[tuple[str, int]]:
        index = self.index
        found: list[tuple[str, int]] = []
        matches = [
            (length, index.city_keys.get(key[start : start + length]))
            for length in range(1, min(index.city_key_max, len(key) - start) + 1)
        ]
        if WILDCARD in key[start : start + index.city_key_max]:
            matches += [
                (len(k), v) for k, v in index.city_keys.items() if _wild_match(key, start, k)
            ]
        for length, codes in matches:
            if not codes:
                continue
            for lg in codes:
                if pref is not None and index.cities[lg].pref != pref:
                    continue
                found.append((lg, start + length))
                for ward in index.wards_of.get(lg, ()):  # 札幌市北3条… (区 omitted)
                    found.append((ward, start + length))
        return found

    def _match_town_only(self, key: str, start: int, pref: str | None) -> list[tuple[str, int]]:
        """No municipality written (紀尾井町1-3): the municipalities that have this 大字・町."""
        index = self.index
        for length in range(min(index.town_key_max, len(key) - start), 1, -1):
            codes = index.town_lg_codes.get(key[start : start + length])
            if codes:
                return [
                    (lg, start) for lg in codes if pref is None or index.cities[lg].pref == pref
                ]
        return []

    # -- 町字 -------------------------------------------------------------------------------

    def _match_town(self, key: str, lg_code: str, start: int) -> _TownMatch | None:
        table = self.index.towns.get(lg_code)
        if table is None:
            return None
        city = self.index.cities[lg_code]
        starts: list[tuple[int, tuple[int, int] | None]] = []
        if city.city == _KYOTO_CITY and _STREET_MARKER.search(key, start):
            ends = [m.end() for m in _STREET_MARKER.finditer(key, start)]
            starts.extend((e, (start, e)) for e in reversed(ends))
        starts.append((start, None))
        for prefix in ("大字", "字"):
            if key.startswith(prefix, start):
                starts.append((start + len(prefix), None))
                break
        for begin, street in starts:
            found = _longest(table, key, begin)
            if found is None:
                continue
            node, end = found
            node, end = _implied_chome(node, key, end)
            town, end = _koaza(node, key, end)
            if town is None:
                continue
            return _TownMatch(lg_code, town, node, end, start, street)
        return None

    # -- filling the result -----------------------------------------------------------------

    def _set_city(self, result: GeocodeResult, city: City) -> None:
        result.lg_code = city.lg_code
        result.pref, result.county, result.city, result.ward = (
            city.pref, city.county, city.city, city.ward
        )  # fmt: skip

    def _fill_pref(self, result: GeocodeResult, pref: str, rest: str, text: str) -> None:
        result.match_level = result.coordinate_level = MatchLevel.PREFECTURE.value
        result.pref = pref
        result.lat, result.lon = self.index.pref_pos.get(pref, (None, None))
        if result.lat is None:
            result.coordinate_level = MatchLevel.UNKNOWN.value
        result.others = [rest.strip()] if rest.strip() else []
        result.output = pref + rest
        result.score = _score(text[: len(text) - len(rest)], pref)

    def _fill_ambiguous(
        self, result: GeocodeResult, codes: list[str], rest: str, text: str
    ) -> None:
        """Several municipalities fit: answer only what they have in common."""
        cities = [self.index.cities[c] for c in codes]
        parents = {(c.pref, c.county, c.city) for c in cities}
        if len(codes) == 1 or len(parents) == 1:
            city = cities[0] if len(codes) == 1 else self._parent(cities[0])
            if city is not None:
                self._set_city(result, city)
                canonical = city.pref + (city.county or "") + city.city + (city.ward or "")
                result.match_level = MatchLevel.CITY.value
                result.lat, result.lon = city.lat, city.lon
                result.coordinate_level = (
                    MatchLevel.CITY.value if city.lat is not None else MatchLevel.UNKNOWN.value
                )
                rest = _tidy_rest(rest)
                result.others = [rest.strip()] if rest.strip() else []
                result.output = canonical + rest
                result.score = _score(text[: len(text) - len(rest)], canonical)
                return
        prefs = {c.pref for c in cities}
        if len(prefs) == 1:
            self._fill_pref(result, prefs.pop(), rest, text)

    def _parent(self, ward: City) -> City | None:
        for lg, wards in self.index.wards_of.items():
            if ward.lg_code in wards:
                return self.index.cities[lg]
        return None

    def _fill_town(
        self, result: GeocodeResult, match: _TownMatch, text: str, offsets: list[int], target: str
    ) -> None:
        index = self.index
        town = match.town
        city = index.cities[match.lg_code]
        self._set_city(result, city)
        result.machiaza_id = town.machiaza_id
        result.oaza_cho, result.chome, result.koaza = town.oaza_cho, town.chome, town.koaza
        # abr-geocoder's rsdt_addr_flg says how the answer is numbered (1 住居表示, 0 地番), not
        # only the 町字's flag: it reports 0 for every 京都市 address (its result step does so,
        # without saying why) and for a 地番 answer (set in _numbers).
        result.rsdt_addr_flg = 0 if city.city == _KYOTO_CITY else town.rsdt_addr_flg
        detail = bool(town.chome or town.koaza)
        result.match_level = (
            MatchLevel.MACHIAZA_DETAIL.value if detail else MatchLevel.MACHIAZA.value
        )
        result.lat, result.lon, result.coordinate_level = _town_position(town, match.node, city)
        canonical = (
            city.pref + (city.county or "") + city.city + (city.ward or "")
            + (town.oaza_cho or "") + (town.chome or "") + (town.koaza or "")
        )  # fmt: skip
        rest = _split_room(text[offsets[match.end] :])
        others: list[str] = []
        if match.street:
            street = text[offsets[match.street[0]] : offsets[match.street[1]]].strip()
            others.append(street)
        nums, ends = _parse_numbers(rest)
        digits, used = self._numbers(result, town, nums, target)
        if used:
            rest = rest[ends[used - 1] :]
            if rest and rest[0] not in " -":
                rest = " " + rest
        elif rest.startswith("-"):  # the separator after an implied 丁目 (平田1-8-20)
            rest = rest[1:]
        rest = _tidy_rest(rest)
        if rest.strip():
            others.append(rest.strip())
        result.others = others
        result.output = canonical + digits + rest
        consumed = text[: len(text) - len(rest)]
        result.score = _score(consumed, canonical + digits)

    def _numbers(
        self, result: GeocodeResult, town: Town, nums: list[str], target: str
    ) -> tuple[str, int]:
        """Resolve 街区/住居 or 地番 numbers; the digits to print and how many were used."""
        if not nums:
            return "", 0
        key = (town.lg_code, town.machiaza_id)
        if target != "parcel" and town.rsdt_addr_flg == 1:
            block = self.index.blocks.get(key, {}).get(nums[0])
            if block is not None:
                result.blk_id, result.blk_num = block.blk_id, block.blk_num
                result.match_level = MatchLevel.RESIDENTIAL_BLOCK.value
                if block.lat is not None:
                    result.lat, result.lon = block.lat, block.lon
                    result.coordinate_level = MatchLevel.RESIDENTIAL_BLOCK.value
                residence = None
                used = 1
                if len(nums) >= 3:
                    residence = block.residences.get((nums[1], nums[2]))
                    used = 3
                if residence is None and len(nums) >= 2:
                    residence = block.residences.get((nums[1], ""))
                    used = 2
                if residence is None:
                    return block.blk_num, 1
                result.rsdt_id, result.rsdt2_id = residence.rsdt_id, residence.rsdt2_id
                result.rsdt_num, result.rsdt_num2 = residence.rsdt_num, residence.rsdt_num2
                result.match_level = MatchLevel.RESIDENTIAL_DETAIL.value
                if residence.lat is not None:
                    result.lat, result.lon = residence.lat, residence.lon
                    result.coordinate_level = MatchLevel.RESIDENTIAL_DETAIL.value
                digits = f"{block.blk_num}-{residence.rsdt_num}"
                if residence.rsdt_num2:
                    digits += f"-{residence.rsdt_num2}"
                return digits, used
        if target != "residential":
            parcels = self.index.parcels.get(key)
            if parcels:
                for used in range(min(3, len(nums)), 0, -1):
                    wanted = (*nums[:used], "", "")[:3]
                    parcel = parcels.get((wanted[0], wanted[1], wanted[2]))
                    if parcel is None:
                        continue
                    result.prc_id = parcel.prc_id
                    result.rsdt_addr_flg = 0
                    result.prc_num1 = parcel.nums[0]
                    result.prc_num2 = parcel.nums[1] or None
                    result.prc_num3 = parcel.nums[2] or None
                    result.match_level = MatchLevel.PARCEL.value
                    if parcel.lat is not None:
                        result.lat, result.lon = parcel.lat, parcel.lon
                        result.coordinate_level = MatchLevel.PARCEL.value
                    return "-".join(n for n in parcel.nums if n), used
        return "", 0


def _longest(table: TownTable, key: str, begin: int) -> tuple[Node, int] | None:
    found: tuple[Node, int] | None = None
    for length in range(min(table.max_len, len(key) - begin), 0, -1):
        node = table.keys.get(key[begin : begin + length])
        if node is not None:
            found = node, begin + length
            break
    if WILDCARD in key[begin : begin + table.max_len]:
        for name, node in table.keys.items():
            if (found is None or begin + len(name) > found[1]) and _wild_match(key, begin, name):
                found = node, begin + len(name)
    return found


def _wild_match(key: str, begin: int, name: str) -> bool:
    """``name`` at ``key[begin:]`` with each wildcard standing for one character of the name.

    At least two characters must match literally, so a wildcard never makes a name out of
    nothing; exact matches are found by the dictionary lookups, not here.
    """
    part = key[begin : begin + len(name)]
    if len(part) < len(name) or WILDCARD not in part:
        return False
    literal = 0
    for have, want in zip(part, name, strict=True):
        if have == WILDCARD:
            continue
        if have != want:
            return False
        literal += 1
    return literal >= 2


def _implied_chome(node: Node, key: str, end: int) -> tuple[Node, int]:
    """平田1-8-20 means 平田一丁目8-20 when 平田 has a 一丁目."""
    if node.chomes:
        match = _IMPLIED_CHOME.match(key, end)
        if match and match.group(1) in node.chomes:
            return node.chomes[match.group(1)], match.end(1)
    return node, end


def _koaza(node: Node, key: str, end: int) -> tuple[Town | None, int]:
    if node.koaza:
        for prefix in ("小字", "字", ""):
            if not key.startswith(prefix, end):
                continue
            begin = end + len(prefix)
            for length in range(min(node.koaza_max, len(key) - begin), 0, -1):
                town = node.koaza.get(key[begin : begin + length])
                if town is not None:
                    return town, begin + length
    return node.base, end


def _parse_numbers(rest: str) -> tuple[list[str], list[int]]:
    """番地・号 numbers at the start of ``rest`` and where each one (with its unit) ends."""
    nums: list[str] = []
    ends: list[int] = []
    pos = 1 if rest.startswith("-") else 0
    while len(nums) < 4:
        match = _NUMBER.match(rest, pos)
        if match is None:
            break
        raw = match.group(1)
        value = int(raw) if raw.isdigit() else kanji_to_int(raw)
        if value is None:
            break
        pos = match.end()
        unit = _UNIT.match(rest, pos)
        if unit:
            pos = unit.end()
        nums.append(str(value))
        ends.append(pos)
        connector = _CONNECTOR.match(rest, pos)
        if connector:
            pos = connector.end()
        elif not unit or unit.group(0) == "号":
            break
    return nums, ends


def _town_position(town: Town, node: Node, city: City) -> tuple[float | None, float | None, str]:
    if town.lat is not None:
        level = MatchLevel.MACHIAZA_DETAIL if (town.chome or town.koaza) else MatchLevel.MACHIAZA
        return town.lat, town.lon, level.value
    parent = node.parent.base if node.parent else None
    if parent is not None and parent.lat is not None and parent is not town:
        return parent.lat, parent.lon, MatchLevel.MACHIAZA.value
    if city.lat is not None:
        return city.lat, city.lon, MatchLevel.CITY.value
    return None, None, MatchLevel.UNKNOWN.value


def _split_room(rest: str) -> str:
    """A room number after the house number, set apart by a space (first word only)."""
    body = rest.lstrip()
    token, sep, tail = body.partition(" ")
    return rest[: len(rest) - len(body)] + _REST_ROOM.sub(" ", token) + sep + tail


def _tidy_rest(rest: str) -> str:
    """Leftover text written the way abr-geocoder prints it (see the _REST_* patterns)."""
    rest = _split_room(rest)
    body = rest.lstrip()
    lead = rest[: len(rest) - len(body)]
    aza = _REST_AZA.match(body)
    if aza:
        body = body[aza.end() :]
    token, sep, tail = body.partition(" ")
    token = _REST_UNIT.sub("", _REST_LEAD_UNIT.sub(r"\1", _REST_JOIN.sub("-", token)))
    return lead + _REST_TAIL_UNIT.sub("", token + sep + tail)


def _score(consumed: str, canonical: str) -> float:
    """How closely the matched part of the input spells the ABR name (1 = identical)."""
    a, b = consumed.replace(" ", ""), canonical
    if a == b:
        return 1.0
    return round(SequenceMatcher(None, a, b, autojunk=False).ratio(), 2)
