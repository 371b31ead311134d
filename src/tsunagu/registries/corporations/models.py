"""Tables of the corporate registry (法人番号): every published record, imports, rejected rows.

The National Tax Agency (国税庁) publishes one row per change of a corporation's 基本3情報
(number, name, seat). We keep every row we are given (``corporation_record``), mark the one
that describes the corporation now (``current``), and record each imported file
(``corporation_import``) and each row we could not accept (``corporation_rejected_row``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db import Base
from tsunagu.kernel import naive_utcnow

# The rows a name search lists (current, not 検索対象除外), spelled as the search spells them
# (``.is_(True)`` / ``.is_(False)``): SQLite uses a partial index only when the query repeats
# its WHERE terms.
SEARCHABLE: dict[str, Any] = {
    "sqlite_where": text("current IS 1 AND hihyoji IS 0"),
    "postgresql_where": text("current IS true AND hihyoji IS false"),
}


def _bytewise(length: int) -> String:
    """Text compared by code point: on PostgreSQL in the "C" collation, whatever the database's.

    For the search keys: a name search is a range of keys from a prefix up to the prefix
    followed by U+10FFFF, read in key order — exact only in code-point order, the order SQLite
    compares in, and a locale's collation (ja_JP, ICU) need not be it. For the number: digits
    sort the same in any collation. Either way PostgreSQL then sorts by comparing bytes, with
    abbreviated keys, rather than by strcoll: a first load of 1,000,000 corporations built the
    name index in 1.3 s instead of 1.7 to 2.1 and the event-key index in 0.8 s instead of 1.4
    (docs/benchmarks.md).
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class CorporationRecord(Base):
    """One published change of a corporation (a row of the NTA file), with our link fields."""

    __tablename__ = "corporation_record"
    __table_args__ = (
        # A unique index rather than a constraint, so that a first load into an empty registry
        # can drop it and build it once at the end (SQLite cannot drop a table constraint). It
        # also serves lookups by number (its first column).
        Index(
            "uq_corporation_record_event",
            "corporate_number", "process", "change_date", "update_date", "source", unique=True,
        ),
        # Name search: a prefix range read in (key, number) order, stopping after a page.
        Index("ix_corporation_record_search_name", "name_key", "corporate_number",
              **SEARCHABLE),
        # Only rows with a reading (most rows of a 全件 file have none); the search repeats
        # this WHERE literally, as SQLite needs (services.search_by_name).
        Index("ix_corporation_record_search_furigana", "furigana_key", "name_key",
              "corporate_number", sqlite_where=text("current IS 1 AND hihyoji IS 0 AND "
              "furigana_key != ''"), postgresql_where=text("current IS true AND hihyoji IS "
              "false AND furigana_key != ''")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    corporate_number: Mapped[str] = mapped_column(_bytewise(13))  # 法人番号
    process: Mapped[str] = mapped_column(String(2))  # 処理区分
    correct: Mapped[bool] = mapped_column(Boolean)  # 訂正区分
    update_date: Mapped[date] = mapped_column(Date, index=True)  # 更新年月日
    change_date: Mapped[date] = mapped_column(Date)  # 変更年月日
    name: Mapped[str] = mapped_column(String(300))  # 商号又は名称
    name_image_id: Mapped[str] = mapped_column(String(20), default="")
    kind: Mapped[str] = mapped_column(String(3))  # 法人種別
    prefecture_name: Mapped[str] = mapped_column(String(20), default="")
    city_name: Mapped[str] = mapped_column(String(100), default="")
    street_number: Mapped[str] = mapped_column(String(300), default="")
    address_image_id: Mapped[str] = mapped_column(String(20), default="")
    prefecture_code: Mapped[str] = mapped_column(String(2), default="")
    city_code: Mapped[str] = mapped_column(String(3), default="")
    post_code: Mapped[str] = mapped_column(String(7), default="")
    address_outside: Mapped[str] = mapped_column(String(300), default="")
    address_outside_image_id: Mapped[str] = mapped_column(String(20), default="")
    close_date: Mapped[date | None] = mapped_column(Date)
    close_cause: Mapped[str] = mapped_column(String(2), default="")
    successor_corporate_number: Mapped[str] = mapped_column(String(13), default="")
    change_cause: Mapped[str] = mapped_column(String(500), default="")
    assignment_date: Mapped[date | None] = mapped_column(Date)  # 法人番号指定年月日
    latest: Mapped[bool] = mapped_column(Boolean)  # 最新履歴 as published
    en_name: Mapped[str] = mapped_column(String(300), default="")
    en_prefecture_name: Mapped[str] = mapped_column(String(20), default="")
    en_city_name: Mapped[str] = mapped_column(String(600), default="")
    en_address_outside: Mapped[str] = mapped_column(String(600), default="")
    furigana: Mapped[str] = mapped_column(String(500), default="")
    hihyoji: Mapped[bool] = mapped_column(Boolean, default=False)  # 検索対象除外

    # Ours: where the row came from, how to find it, and its link to the address registry.
    source: Mapped[str] = mapped_column(String(20), default="nta")  # nta | gbizinfo
    current: Mapped[bool] = mapped_column(Boolean, default=False)
    name_key: Mapped[str] = mapped_column(_bytewise(300), default="")
    furigana_key: Mapped[str] = mapped_column(_bytewise(500), default="")
    lg_code: Mapped[str | None] = mapped_column(String(6))
    machiaza_id: Mapped[str | None] = mapped_column(String(7))
    import_id: Mapped[int | None] = mapped_column(Integer)
    line: Mapped[int | None] = mapped_column(Integer)


class CorporationImport(Base):
    """One imported file: its fingerprint, header and what became of its rows."""

    __tablename__ = "corporation_import"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file_format: Mapped[str] = mapped_column(String(20))  # csv-sjis | csv-unicode | xml | gbizinfo
    last_update_date: Mapped[date | None] = mapped_column(Date)
    declared_count: Mapped[int | None] = mapped_column(Integer)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)


class CorporationRejectedRow(Base):
    """A row we did not accept, kept verbatim with its line number and why."""

    __tablename__ = "corporation_rejected_row"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(Integer, index=True)
    line: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    raw: Mapped[str] = mapped_column(Text)
