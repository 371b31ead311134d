"""gBizINFO REST API v2 responses (経済産業省) as a second source of corporation records.

Spec: gBizINFO API v2 (https://info.gbiz.go.jp/hojin/swagger-ui/index.html): an envelope
``{"id", "message", "errors", "hojin-infos": [...]}``; each entry has ``corporate_number``,
``name``, ``kana``, ``name_en``, ``postal_code``, ``location`` (one string), ``status``,
``close_date``, ``close_cause``, ``update_date`` (ISO date-time) and, in ``basic`` answers,
``process`` and ``kind``. Missing values come as JSON null or as the string ``"Null"``.

An entry becomes a row with ``source = "gbizinfo"``: process ``01`` unless given, change and
update date from ``update_date``, the location split into prefecture / city / rest. Any NTA row
of the same corporation outranks it as the current record.
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import nta

PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
    "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
    "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
    "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県",
)  # fmt: skip
# The city part: an optional 郡, then up to the first 市/区/町/村 (a 政令市 keeps its 区).
_CITY_RE = re.compile(r"^((?:.+?郡)?.+?[市町村](?:.+?区)?|.+?区)")


def _value(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    return "" if value is None or value == "Null" else str(value).strip()


def split_location(location: str) -> tuple[str, str, str, str]:
    """(prefecture code, prefecture name, city name, rest) of a one-line Japanese address."""
    for code, prefecture in enumerate(PREFECTURES, start=1):
        if location.startswith(prefecture):
            rest = location[len(prefecture) :]
            city = _CITY_RE.match(rest)
            if city and not city.group(1).startswith(("大字", "字")):
                return f"{code:02d}", prefecture, city.group(1), rest[city.end() :]
            return f"{code:02d}", prefecture, "", rest
    return "", "", "", location


def to_columns(entry: dict[str, Any]) -> dict[str, str]:
    """One gBizINFO entry as the 30 NTA columns (camelCase, text)."""
    updated = _value(entry, "update_date")[:10]
    pref_code, pref, city, rest = split_location(_value(entry, "location"))
    columns = dict.fromkeys(nta.FIELDS, "")
    columns.update(
        corporateNumber=_value(entry, "corporate_number"), process=_value(entry, "process") or "01",
        correct="0", updateDate=updated, changeDate=updated, name=_value(entry, "name"),
        kind=_value(entry, "kind"), prefectureName=pref, cityName=city, streetNumber=rest,
        prefectureCode=pref_code, postCode=_value(entry, "postal_code"),
        closeDate=_value(entry, "close_date")[:10], closeCause=_value(entry, "close_cause"),
        latest="1", enName=_value(entry, "name_en"), furigana=_value(entry, "kana"), hihyoji="0",
    )  # fmt: skip
    return columns


def parse_gbizinfo(data: bytes) -> nta.Parsed:
    """Rows of one gBizINFO response; a 'line' is the entry's position in ``hojin-infos``."""
    try:
        document = json.loads(data)
        entries = document["hojin-infos"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a gBizINFO response: {exc}") from None
    parsed = nta.Parsed("gbizinfo")
    for position, entry in enumerate(entries or [], start=1):
        raw = json.dumps(entry, ensure_ascii=False)
        if not isinstance(entry, dict):
            parsed.rows.append(nta.BadRow(position, "entry is not an object", raw))
            continue
        if not _value(entry, "update_date"):
            # patent/procurement/subsidy answers repeat name and location without a date
            parsed.rows.append(
                nta.BadRow(
                    position,
                    "no update_date: not a corporation record "
                    "(a patent, procurement or subsidy answer?)",
                    raw,
                )
            )
            continue
        try:
            columns = to_columns(entry)
            parsed.rows.append(
                nta.Row(position, nta.validate_cells([columns[f] for f in nta.FIELDS]))
            )
        except ValueError as exc:
            parsed.rows.append(nta.BadRow(position, str(exc), raw))
    return parsed


def is_gbizinfo(data: bytes) -> bool:
    """True if the bytes look like a gBizINFO JSON envelope."""
    head = data.lstrip()[:4096]
    return head.startswith(b"{") and b'"hojin-infos"' in data
