"""Tables of the laws registry (法令): laws, their revisions, and articles as addressable units."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db import Base


class Law(Base):
    """A law (法令), known by its e-Gov law id, e.g. 415AC0000000057."""

    __tablename__ = "law"

    law_id: Mapped[str] = mapped_column(String(20), primary_key=True)  # 法令ID
    law_type: Mapped[str] = mapped_column(String(30), default="")  # Act, CabinetOrder, ...
    law_num: Mapped[str] = mapped_column(String(200), default="")  # 法令番号
    promulgation_date: Mapped[date | None] = mapped_column(Date)  # 公布日


class LawRevision(Base):
    """One revision (改正履歴) of a law: its title and body as in force from a date."""

    __tablename__ = "law_revision"

    revision_id: Mapped[str] = mapped_column(String(80), primary_key=True)  # 法令履歴ID
    law_id: Mapped[str] = mapped_column(ForeignKey("law.law_id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(1000))  # 法令名
    title_kana: Mapped[str] = mapped_column(String(1000), default="")
    abbrev: Mapped[str] = mapped_column(String(500), default="")  # 略称
    category: Mapped[str] = mapped_column(String(100), default="")
    enforcement_date: Mapped[date | None] = mapped_column(Date, index=True)  # 施行日
    amendment_law_id: Mapped[str] = mapped_column(String(20), default="")
    amendment_law_title: Mapped[str] = mapped_column(String(1000), default="")
    repeal_status: Mapped[str] = mapped_column(String(30), default="")
    repeal_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(30), default="")  # current_revision_status
    updated: Mapped[str] = mapped_column(String(40), default="")
    title_key: Mapped[str] = mapped_column(String(1500), default="")
    has_body: Mapped[bool] = mapped_column(default=False)
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the XML as a JSON tree
    source_format: Mapped[str] = mapped_column(String(10), default="")  # json | xml
    content_hash: Mapped[str] = mapped_column(String(64), default="")


class LawArticle(Base):
    """An addressable unit of a revision's text: article, paragraph, item or sub-item."""

    __tablename__ = "law_article"
    __table_args__ = (UniqueConstraint("revision_id", "path", name="uq_law_article_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_id: Mapped[str] = mapped_column(
        ForeignKey("law_revision.revision_id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(300))  # article/27/paragraph/1/item/2
    kind: Mapped[str] = mapped_column(String(20))  # article | paragraph | item | subitem1..10
    position: Mapped[int] = mapped_column(Integer)  # document order
    caption: Mapped[str] = mapped_column(String(500), default="")  # 条見出し
    title: Mapped[str] = mapped_column(String(200), default="")  # 第二十七条, 二, イ
    text: Mapped[str] = mapped_column(Text, default="")  # the unit's own sentences and below
    text_key: Mapped[str] = mapped_column(Text, default="")  # folded for keyword search
