"""共通語彙基盤 (IMI) コア語彙 2.4.1 as a code list: its class and property terms.

The vocabulary is written in IMIV text syntax: ``#name``/``#name@en``/``# "…"`` lines describe
the statement that follows (``class ic:住所型 {@ic:事物型} ;``, ``property ic:ID {@ic:ID型} ;``,
``set ic:住所型>ic:郵便番号 {0..1} ;``); ``/*** … ***/`` blocks are comments. Codes are the
terms as IMI writes them; a class's parent is its superclass, a set's parent its class. The
自治体標準オープンデータセット (正式版) items name these terms in their 共通語彙基盤 column.
"""

from __future__ import annotations

import re
from pathlib import Path

from .codelists import CodeListData, Entry
from .sources import IMI_CORE

IMI_VERSION = "2.4.1"
_STATEMENT = re.compile(r"^(class|property|set)\s+(\S+)\s*(?:\{([^}]*)\})?")
_META = re.compile(r'^#(name|name@en|description@en|)\s*"(.*)"\s*$')


def read_imi(path: Path = IMI_CORE) -> CodeListData:
    """The vocabulary's terms in file order (classes, properties, class-property sets)."""
    entries: list[Entry] = []
    meta: dict[str, str] = {}
    comment = False
    for raw in path.read_text(encoding="utf-8-sig").splitlines():
        line = raw.strip()
        if comment:
            comment = not line.endswith("*/")
            continue
        if line.startswith("/*"):
            comment = not line.endswith("*/") or line == "/*"
            continue
        found = _META.match(line)
        if found:
            meta[found[1] or "description"] = found[2]
            continue
        statement = _STATEMENT.match(line)
        if statement is None:
            continue
        kind, term, braces = statement.groups()
        parent = ""
        if kind == "class" and braces and braces.startswith("@"):
            parent = braces[1:].strip()
        elif kind == "set":
            parent = term.split(">")[0]
        name = meta.get("name") or term.split(">")[-1].removeprefix("ic:")
        entries.append(
            Entry(
                code=term[:100], label=name,
                label_en=meta.get("name@en") or meta.get("description@en", ""),
                parent_code=parent[:100],
            )
        )  # fmt: skip
        meta = {}
    return CodeListData(
        name="imi-core", version=IMI_VERSION,
        title="共通語彙基盤 コア語彙", title_en="IMI Core Vocabulary",
        description="クラス用語（…型）とプロパティ用語、クラスとプロパティの組（クラス>プロパティ）。"
        "自治体標準オープンデータセットのデータ項目定義書の「共通語彙基盤」列が参照する。",
        publisher="経済産業省・独立行政法人情報処理推進機構（IPA）",
        entries=entries,
    )  # fmt: skip
