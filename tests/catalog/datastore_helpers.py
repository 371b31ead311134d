"""Shared helpers of the datastore tests: a resource with a data dictionary, files to load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.accounts import Caller
from tsunagu.catalog import Distribution, create_dataset, parse_dataset

# An AED list in the 推奨データセット layout, cut down to the columns the tests need.
AED_DICTIONARY = [
    {"name": "NO", "data_type": "string", "required": True},
    {"name": "名称", "data_type": "string", "required": True},
    {"name": "緯度", "data_type": "number"},
    {"name": "経度", "data_type": "number"},
    {"name": "設置台数", "data_type": "integer"},
    {"name": "設置開始日", "data_type": "date"},
]
AED_HEADER = "NO,名称,緯度,経度,設置台数,設置開始日"
AED_ROWS = [
    "1,市役所本庁舎,34.2260,135.1675,2,2020-04-01",
    "2,中央公民館,34.2301,135.1702,1,2021-10-15",
    "3,市立体育館,34.2199,135.1801,3,",
]


def make_resource(
    session: Session,
    caller: Caller,
    *,
    name: str = "aed-list",
    dictionary: list[dict[str, Any]] | None = None,
    private: bool = False,
) -> Distribution:
    data = {
        "name": name,
        "title": "AED設置箇所一覧",
        "owner_org": caller.organization_name,
        "private": private,
        "resources": [
            {
                "name": "AED一覧",
                "url": "https://example.jp/aed.csv",
                "format": "CSV",
                "data_dictionary": AED_DICTIONARY if dictionary is None else dictionary,
            }
        ],
    }
    dataset = create_dataset(session, caller, parse_dataset(data))
    session.flush()
    return session.scalars(select(Distribution).where(Distribution.dataset_pk == dataset.pk)).one()


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path
