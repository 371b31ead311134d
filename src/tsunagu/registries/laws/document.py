"""Law bodies: 法令標準XML and e-Gov 法令API v2 JSON trees, and their addressable units.

Specs: 法令標準XMLスキーマ v3 (XMLSchemaForJapaneseLaw_v3.xsd, 総務省/デジタル庁) and e-Gov 法令API
Version 2 (https://laws.e-gov.go.jp/api/2/swagger-ui), whose ``law_full_text`` is the same XML
as a JSON tree of ``{"tag", "attr", "children"}`` nodes with strings for text.

Unit addresses (documented in docs/laws.md): ``article/{Num}`` then ``paragraph/{Num}``, then
``item/{Num}``, then ``subitem1/{Num}`` … ``subitem10/{Num}``, where Num is the element's
``Num`` attribute (第二条の二 is ``2_2``). A supplementary provision's units are prefixed with
``suppl/{n}/`` (n counts SupplProvision elements from 1); a paragraph directly under the main
provision (laws without articles) is ``paragraph/{Num}``.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

Node = dict[str, Any]
UNIT_KINDS = {"Article": "article", "Paragraph": "paragraph", "Item": "item"} | {
    f"Subitem{n}": f"subitem{n}" for n in range(1, 11)
}
TITLE_TAGS = {"ArticleTitle", "ParagraphNum", "ItemTitle"} | {
    f"Subitem{n}Title" for n in range(1, 11)
}


def fold(text: str) -> str:
    """NFKC, no whitespace: the form titles and text are searched in."""
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


def from_xml(data: bytes) -> Node:
    """A 法令標準XML document as the API v2 JSON tree."""
    # Law XML comes from e-Gov or our own export; ElementTree expands no external entities.
    root = ET.fromstring(data)  # noqa: S314

    def convert(element: ET.Element) -> Node:
        children: list[Any] = []
        if element.text and element.text.strip():
            children.append(element.text.strip())
        for child in element:
            children.append(convert(child))
            if child.tail and child.tail.strip():
                children.append(child.tail.strip())
        return {"tag": element.tag, "attr": dict(element.attrib), "children": children}

    return convert(root)


def to_xml(node: Node) -> str:
    """The JSON tree back as 法令標準XML."""

    def build(n: Node) -> ET.Element:
        element = ET.Element(n["tag"], {k: str(v) for k, v in (n.get("attr") or {}).items()})
        last: ET.Element | None = None
        for child in n.get("children") or []:
            if isinstance(child, str):
                if last is None:
                    element.text = (element.text or "") + child
                else:
                    last.tail = (last.tail or "") + child
            else:
                last = build(child)
                element.append(last)
        return element

    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(build(node), encoding="unicode")


def text_of(node: Node | str, skip: frozenset[str] = frozenset()) -> str:
    """All text under a node, in order (child units included)."""
    if isinstance(node, str):
        return node
    if node.get("tag") in skip:
        return ""
    return "".join(text_of(child, skip) for child in node.get("children") or [])


def find(node: Node, tag: str) -> Node | None:
    """The first descendant (or self) with ``tag``, depth first."""
    if node.get("tag") == tag:
        return node
    for child in node.get("children") or []:
        if isinstance(child, dict) and (hit := find(child, tag)):
            return hit
    return None


def content_hash(body: Node) -> str:
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Unit:
    """An addressable unit found in a body."""

    path: str
    kind: str
    caption: str
    title: str
    text: str


def units(body: Node) -> Iterator[Unit]:
    """Every article, paragraph, item and sub-item, in document order."""
    suppl = 0

    def walk(node: Node, prefix: str) -> Iterator[Unit]:
        nonlocal suppl
        for child in node.get("children") or []:
            if not isinstance(child, dict):
                continue
            tag = child.get("tag", "")
            if tag == "SupplProvision":
                suppl += 1
                yield from walk(child, f"suppl/{suppl}/")
            elif tag in UNIT_KINDS:
                num = str((child.get("attr") or {}).get("Num", "")) or "0"
                path = f"{prefix}{UNIT_KINDS[tag]}/{num}"
                caption = next(
                    (
                        text_of(c)
                        for c in child.get("children") or []
                        if isinstance(c, dict) and c.get("tag") == "ArticleCaption"
                    ),
                    "",
                )
                title = next((text_of(c) for c in child.get("children") or []
                              if isinstance(c, dict) and c.get("tag") in TITLE_TAGS),
                             "")  # fmt: skip
                text = text_of(child, frozenset({"ArticleCaption", "TOC"})).strip()
                yield Unit(path, UNIT_KINDS[tag], caption, title, text)
                yield from walk(child, path + "/")
            elif tag not in ("TOC", "LawNum", "LawTitle"):
                yield from walk(child, prefix)

    yield from walk(body, "")
