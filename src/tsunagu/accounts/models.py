"""Tables of the accounts context: organizations, users and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tsunagu.db import Base
from tsunagu.kernel import naive_utcnow


class Organization(Base):
    """A participating organization (publisher, member): ministry, municipality, company."""

    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # URL slug, CKAN "name"
    title: Mapped[str] = mapped_column(String(300))  # Japanese name
    title_en: Mapped[str] = mapped_column(String(300), default="")
    corporate_number: Mapped[str | None] = mapped_column(String(13), index=True)  # 法人番号
    lg_code: Mapped[str | None] = mapped_column(
        String(6)
    )  # 全国地方公共団体コード, if a municipality
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(2000), default="")
    image_url: Mapped[str] = mapped_column(String(2000), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="organization")


class User(Base):
    """A person acting for an organization (editor, admin)."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(300), default="")
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)


class ApiToken(Base):
    """An API token scoped to one organization. Only its SHA-256 hash is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to tell tokens apart
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(String(200), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    last_used: Mapped[datetime | None] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    organization: Mapped[Organization] = relationship(back_populates="tokens")
