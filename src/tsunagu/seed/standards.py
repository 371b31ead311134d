"""Reference datasets for the standard open-data schemas, with their data dictionaries.

* 推奨データセット (基本編): the published CSV template gives the columns and their order; the
  government item definitions (transcribed in NEC-FIWARE's model.yaml) give each column's
  description, type and whether it is required. Columns are matched by NFKC-normalized name,
  because the two spell 料金（基本） with different parentheses.
* 自治体標準オープンデータセット (正式版) 公衆トイレ一覧: the 39 items of データ項目定義書A.

These describe schemas, not any municipality's data, so they are published by デジタル庁 and have
no spatial coverage. Tokyo resources are not linked to them: the 2022 dump does not say which
CSV follows which template, and guessing from titles would attach wrong dictionaries.
"""

from __future__ import annotations

import csv
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from tsunagu.kernel import is_valid_corporate_number

from .ckan import clip
from .records import DatasetRecord, ElementRecord, OrgRecord, ResourceRecord
from .sources import CIO_MODELS, SUISHO_TEMPLATES, TOILET_SCHEMA
from .writer import stable_uuid

DIGITAL_AGENCY_NUMBER = "5000012010024"
LANDING = "https://www.digital.go.jp/resources/data_dataset"
# The date the shipped definitions were fixed, used as metadata_modified so a reload is a no-op
# (naive UTC, like every timestamp the catalog stores).
SUISHO_DATE = datetime.fromisoformat("2021-01-01T00:00:00")
SEISHIKIBAN_DATE = datetime.fromisoformat("2026-08-01T00:00:00")

# Template file key → model folder (NN_名称). food_business has no model: names only.
_TEMPLATES: dict[str, str | None] = {
    "aed": "01_AED設置箇所一覧",
    "care_service": "02_介護サービス事業所一覧",
    "hospital": "03_医療機関一覧",
    "cultural_property": "04_文化財一覧",
    "tourism": "05_観光施設一覧",
    "event": "06_イベント一覧",
    "public_wireless_lan": "07_公衆無線LANアクセスポイント一覧",
    "public_toilet": "08_公衆トイレ一覧",
    "fire_hydrant": "09_消防水利施設一覧",
    "evacuation_space": "10_指定緊急避難場所一覧",
    "population_yyyymmdd": "11_地域・年齢別人口",
    "public_facility": "12_公共施設一覧",
    "preschool": "13_子育て施設一覧",
    "open_data_list": "14_オープンデータ一覧",
    "food_business_all": None,
    "food_business_new_yyyymmdd_yyyymmdd": None,
}
_FOOD_TITLES = {
    "food_business_all": "食品等営業許可・届出一覧（全件）",
    "food_business_new_yyyymmdd_yyyymmdd": "食品等営業許可・届出一覧（期間内の新規）",
}
_FORMAT_TYPES = {"数値": "number", "整数": "integer", "日付": "date", "時刻": "time"}


def digital_agency() -> OrgRecord:
    # The corporate number is only stored if its check digit verifies.
    number = DIGITAL_AGENCY_NUMBER if is_valid_corporate_number(DIGITAL_AGENCY_NUMBER) else None
    return OrgRecord(
        name="digital-agency", title="デジタル庁", title_en="Digital Agency",
        url="https://www.digital.go.jp/", corporate_number=number,
    )  # fmt: skip


def _key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip()


def _template_columns(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [c.strip() for c in next(csv.reader(fh)) if c.strip()]


def _model(folder: str) -> tuple[str, str, dict[str, Any], set[str]]:
    document = yaml.safe_load((CIO_MODELS / folder / "model.yaml").read_text(encoding="utf-8"))
    ((title, schema),) = document["components"]["schemas"].items()
    properties = {_key(k): v for k, v in (schema.get("properties") or {}).items()}
    required = {_key(k) for k in schema.get("required") or []}
    return str(title), str(schema.get("description") or ""), properties, required


def recommended_datasets() -> list[DatasetRecord]:
    org = digital_agency()
    records = []
    for key, folder in _TEMPLATES.items():
        path = SUISHO_TEMPLATES / f"xxxxxx_{key}.csv"
        columns = _template_columns(path)
        if folder:
            title, description, properties, required = _model(folder)
        else:
            title, description, properties, required = _FOOD_TITLES[key], "", {}, set()
        elements = []
        for column in columns:
            spec = properties.get(_key(column)) or {}
            elements.append(
                ElementRecord(
                    name=column[:200], label_ja=column[:300],
                    definition=str(spec.get("description") or "").strip(),
                    data_type=str(spec.get("type") or "string"),
                    required=_key(column) in required,
                )
            )  # fmt: skip
        name = "suisho-" + key.replace("_yyyymmdd", "").replace("_", "-")
        notes = (
            f"推奨データセット（基本編）「{title}」の CSV テンプレート（{path.name}）"
            "とデータ項目定義。"
            + (f"\n\n{description}" if description else "")
            + "\n\nファイル名の xxxxxx は 6 桁の全国地方公共団体コード。"
        )
        records.append(
            DatasetRecord(
                id=stable_uuid("suisho", key), name=name[:100],
                title=f"推奨データセット：{title}", organization=org,
                metadata_created=SUISHO_DATE, metadata_modified=SUISHO_DATE,
                notes=notes, license_id="gov-std-2.0", url=LANDING,
                tags=["推奨データセット", "データ項目定義"],
                resources=[
                    ResourceRecord(
                        id=stable_uuid("suisho", key, "template"), position=0,
                        name=f"{title} CSVテンプレート（{path.name}）", url=LANDING,
                        format="CSV", media_type="text/csv", language="ja",
                        elements=elements,
                    )
                ],
            )
        )  # fmt: skip
    return records


def public_toilet_seishikiban() -> DatasetRecord:
    with TOILET_SCHEMA.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    elements = []
    for row in rows:
        fmt = row.get("format") or ""
        data_type = next(
            (t for label, t in _FORMAT_TYPES.items() if fmt.startswith(label)), "string"
        )
        definition = row.get("description", "").strip()
        if fmt:
            definition += f"\n形式：{fmt}"
        if row.get("example"):
            definition += f"\n例：{row['example']}"
        elements.append(
            ElementRecord(
                name=row["name"].strip()[:200], label_ja=row["name"].strip()[:300],
                definition=definition, data_type=data_type,
                required=(row.get("classification") or "").strip() == "◎",
            )
        )  # fmt: skip
        if row.get("english_name"):
            # The model has no column for it; it is what JSON/RDF renderings call the item.
            elements[-1].definition += f"\n英語名：{row['english_name'].strip()}"
    return DatasetRecord(
        id=stable_uuid("seishikiban", "public_toilet"), name="jichitai-standard-public-toilet",
        title="自治体標準オープンデータセット（正式版）：公衆トイレ一覧",
        organization=digital_agency(),
        metadata_created=SEISHIKIBAN_DATE, metadata_modified=SEISHIKIBAN_DATE,
        notes=clip(
            "自治体標準オープンデータセット データ項目定義書A（2026年8月1日版）の"
            f"「13.公衆トイレ一覧」全{len(elements)}項目。"
            "◎ の項目を必須として登録しています。",
            100_000,
        ),
        license_id="pdl-1.0", url=LANDING,
        tags=["自治体標準オープンデータセット", "データ項目定義"],
        resources=[
            ResourceRecord(
                id=stable_uuid("seishikiban", "public_toilet", "csv"), position=0,
                name="公衆トイレ一覧（正式版 CSV レイアウト）", url=LANDING, format="CSV",
                media_type="text/csv", language="ja", elements=elements,
            )
        ],
    )  # fmt: skip
