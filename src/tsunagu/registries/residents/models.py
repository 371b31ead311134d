"""Tables of the resident registry (住民基本台帳): residents, their versions, individual numbers.

A resident (``resident``) is one person's record in one municipality (lg_code); it never changes
after creation. What the record says — the 基本4情報 (name, birth date, sex, address), kana,
household and status — lives in versions (``resident_version``): every change adds a version
valid from its date; the version it supersedes gets ``valid_to``. Nothing is updated in place
beyond that, so "as of a date" is a query, not a reconstruction.

The individual number (個人番号, マイナンバー) has a table of its own so that only the code that
means to read it (:mod:`.services` lookups) ever loads it: no model a response is built from
carries it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db import Base
from tsunagu.kernel import naive_utcnow


class Resident(Base):
    """A person registered in one municipality, known by an internal id (not the 個人番号)."""

    __tablename__ = "resident"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # internal resident id
    lg_code: Mapped[str] = mapped_column(String(6), index=True)  # 全国地方公共団体コード
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)  # generated, never a person
    created_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)


class ResidentIndividualNumber(Base):
    """The 12-digit individual number (個人番号) of a resident; stored here and nowhere else."""

    __tablename__ = "resident_individual_number"

    resident_id: Mapped[str] = mapped_column(
        ForeignKey("resident.id", ondelete="CASCADE"), primary_key=True
    )
    individual_number: Mapped[str] = mapped_column(String(12), index=True)


class ResidentVersion(Base):
    """What a resident's record said from ``valid_from`` until ``valid_to`` (exclusive)."""

    __tablename__ = "resident_version"
    __table_args__ = (
        UniqueConstraint("resident_id", "version", name="uq_resident_version_number"),
        Index("ix_resident_version_area_current", "lg_code", "valid_to", "name_key"),
        Index("ix_resident_version_household", "household_id", "valid_from"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[str] = mapped_column(
        ForeignKey("resident.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... in order of valid_from
    change: Mapped[str] = mapped_column(String(20))  # born | moved_in | address_changed | ...
    valid_from: Mapped[date] = mapped_column(Date)  # the date the change took effect
    valid_to: Mapped[date | None] = mapped_column(Date)  # the next version's valid_from
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    lg_code: Mapped[str] = mapped_column(String(6))  # repeated for scoped searches
    status: Mapped[str] = mapped_column(String(12))  # resident | moved_out | deceased

    family_name: Mapped[str] = mapped_column(String(100))  # 氏
    given_name: Mapped[str] = mapped_column(String(100))  # 名
    family_name_kana: Mapped[str] = mapped_column(String(200))  # 氏（フリガナ）
    given_name_kana: Mapped[str] = mapped_column(String(200))  # 名（フリガナ）
    name_key: Mapped[str] = mapped_column(String(200))  # folded name, for search
    kana_key: Mapped[str] = mapped_column(String(400))  # folded kana, for search
    birth_date: Mapped[date] = mapped_column(Date)  # 生年月日
    sex: Mapped[str] = mapped_column(String(1))  # 性別, ISO 5218: 1 male, 2 female

    household_id: Mapped[str] = mapped_column(String(32))  # 世帯
    relationship: Mapped[str] = mapped_column(String(20))  # 続柄: head | spouse | child | ...

    # 住所: the address registry's keys (ABR field names) and the address as written.
    address_lg_code: Mapped[str] = mapped_column(String(6))
    machiaza_id: Mapped[str | None] = mapped_column(String(7))
    blk_id: Mapped[str | None] = mapped_column(String(3))
    rsdt_id: Mapped[str | None] = mapped_column(String(3))
    rsdt2_id: Mapped[str | None] = mapped_column(String(4))
    address_level: Mapped[str] = mapped_column(String(12))  # residence | town | unverified
    address_text: Mapped[str] = mapped_column(String(500))

    moved_in_on: Mapped[date | None] = mapped_column(Date)  # 住民となった年月日
    moved_from: Mapped[str] = mapped_column(String(500), default="")  # 従前の住所
    moved_out_on: Mapped[date | None] = mapped_column(Date)  # 転出日
    moved_to: Mapped[str] = mapped_column(String(500), default="")  # 転出先
    died_on: Mapped[date | None] = mapped_column(Date)  # 死亡日
