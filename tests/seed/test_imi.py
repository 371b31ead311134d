"""The IMI core vocabulary seed: terms parsed from the IMIV file, loaded as a code list."""

from __future__ import annotations

import csv
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.catalog import CodeList, Source
from tsunagu.seed import load_seed
from tsunagu.seed.imi import read_imi
from tsunagu.seed.sources import IMI_CORE, TOILET_SCHEMA

# 共通語彙基盤 column notation: {@型}, {役割='…'}, [英語] and （注N） are not term names.
_NOTATION = re.compile(r"\{[^}]*\}|\[[^\]]*\]|[\s\u3000]*（注[^）]*）")


def test_every_class_property_and_set_statement_becomes_a_term() -> None:
    vocabulary = read_imi()
    text = IMI_CORE.read_text(encoding="utf-8-sig")
    statements = re.findall(r"^(class|property|set) ", text, re.MULTILINE)
    assert len(vocabulary.entries) == len(statements) == 608
    terms = {e.code: e for e in vocabulary.entries}
    assert len(terms) == 608
    address = terms["ic:住所型"]
    assert (address.label, address.label_en, address.parent_code) == (
        "住所型", "Address", "ic:事物型",
    )  # fmt: skip
    postal = terms["ic:住所型>ic:郵便番号"]
    assert (postal.label, postal.parent_code) == ("郵便番号", "ic:住所型")
    # a set moved to 概念型 in 2017 survives only inside a /*** comment ***/
    assert "ic:住所型>ic:種別" not in terms and "* set ic:住所型>ic:種別" in text


def test_the_seishikiban_items_refer_only_to_terms_of_the_vocabulary() -> None:
    labels = {e.label for e in read_imi().entries}
    with TOILET_SCHEMA.open(encoding="utf-8", newline="") as fh:
        paths = [row["common_vocabulary"] for row in csv.DictReader(fh)]
    parts = {_NOTATION.sub("", p).strip() for path in paths for p in path.split(">")} - {""}
    assert len(parts) > 20
    assert sorted(p for p in parts if p not in labels and f"{p}型" not in labels) == []


def test_seed_loads_the_code_list_once_with_its_attribution(session: Session) -> None:
    first = load_seed(session, only=("imi",))
    assert first["imi.new_lists"] == 1 and first["imi.new_entries"] == 608
    again = load_seed(session, only=("imi",))
    assert again["imi.new_lists"] == 0 and again["imi.new_entries"] == 0
    code_list = session.scalar(select(CodeList).where(CodeList.name == "imi-core"))
    assert code_list is not None and code_list.version == "2.4.1"
    source = session.get(Source, code_list.source_id)
    assert source is not None and "CC0" in source.license and "IPA" in source.attribution
