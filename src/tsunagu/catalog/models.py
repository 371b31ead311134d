"""Tables of the catalog context (DCAT terms in comments, CKAN names where they differ)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tsunagu.accounts.models import Organization
from tsunagu.db import Base
from tsunagu.kernel import naive_utcnow


class License(Base):
    """A licence datasets can carry (dct:license)."""

    __tablename__ = "license"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # CKAN license_id
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    url: Mapped[str] = mapped_column(String(2000), default="")
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)  # Open Definition conformant
    eu_uri: Mapped[str] = mapped_column(String(300), default="")  # EU licence vocabulary


class Group(Base):
    """A theme/category (dcat:theme; CKAN group)."""

    __tablename__ = "catalog_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")


class Source(Base):
    """Where catalog records came from, so the site can show each source's attribution."""

    __tablename__ = "catalog_source"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(String(2000), default="")
    attribution: Mapped[str] = mapped_column(Text, default="")
    license: Mapped[str] = mapped_column(String(300), default="")


class Dataset(Base):
    """A dataset (dcat:Dataset; CKAN package)."""

    __tablename__ = "dataset"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)  # also the search index rowid
    id: Mapped[str] = mapped_column(String(36), unique=True)  # UUID, CKAN "id"
    name: Mapped[str] = mapped_column(String(100), unique=True)  # URL slug, CKAN "name"
    title: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str] = mapped_column(String(500), default="")
    notes: Mapped[str] = mapped_column(Text, default="")  # dct:description (ja)
    notes_en: Mapped[str] = mapped_column(Text, default="")
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    license_id: Mapped[str | None] = mapped_column(ForeignKey("license.id"), index=True)
    source_id: Mapped[str | None] = mapped_column(ForeignKey("catalog_source.id"))
    url: Mapped[str] = mapped_column(String(2000), default="")  # dcat:landingPage
    version: Mapped[str] = mapped_column(String(100), default="")
    author: Mapped[str] = mapped_column(String(300), default="")
    author_email: Mapped[str] = mapped_column(String(300), default="")
    maintainer: Mapped[str] = mapped_column(String(300), default="")  # dcat:contactPoint fn
    maintainer_email: Mapped[str] = mapped_column(String(300), default="")
    frequency: Mapped[str] = mapped_column(String(100), default="")  # dct:accrualPeriodicity
    temporal_start: Mapped[date | None] = mapped_column(Date)
    temporal_end: Mapped[date | None] = mapped_column(Date)
    issued: Mapped[datetime | None] = mapped_column(DateTime)  # dct:issued
    modified: Mapped[datetime | None] = mapped_column(DateTime)  # dct:modified
    metadata_created: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    metadata_modified: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow, index=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(20), default="active")  # active | deleted
    extras: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # CKAN extras
    # Sort key for title sorting that is the same on SQLite and PostgreSQL (NFKC, casefolded).
    title_sort: Mapped[str] = mapped_column(String(500), default="", index=True)

    organization: Mapped[Organization] = relationship(lazy="joined")
    license: Mapped[License | None] = relationship(lazy="joined")
    source: Mapped[Source | None] = relationship()
    distributions: Mapped[list[Distribution]] = relationship(
        back_populates="dataset",
        cascade="all, delete-orphan",
        order_by="Distribution.position",
    )
    tags: Mapped[list[DatasetTag]] = relationship(
        cascade="all, delete-orphan", order_by="DatasetTag.name"
    )
    groups: Mapped[list[Group]] = relationship(secondary="dataset_group", order_by="Group.name")
    municipalities: Mapped[list[DatasetMunicipality]] = relationship(
        cascade="all, delete-orphan", order_by="DatasetMunicipality.lg_code"
    )
    services: Mapped[list[DataService]] = relationship(back_populates="dataset")


class DatasetTag(Base):
    """A keyword of a dataset (dcat:keyword; CKAN tag)."""

    __tablename__ = "dataset_tag"

    dataset_pk: Mapped[int] = mapped_column(
        ForeignKey("dataset.pk", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)


class DatasetGroup(Base):
    __tablename__ = "dataset_group"

    dataset_pk: Mapped[int] = mapped_column(
        ForeignKey("dataset.pk", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_group.id", ondelete="CASCADE"), primary_key=True
    )


class DatasetMunicipality(Base):
    """Spatial coverage as a 全国地方公共団体コード (dct:spatial)."""

    __tablename__ = "dataset_municipality"

    dataset_pk: Mapped[int] = mapped_column(
        ForeignKey("dataset.pk", ondelete="CASCADE"), primary_key=True
    )
    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)


class Distribution(Base):
    """A distribution (dcat:Distribution; CKAN resource)."""

    __tablename__ = "distribution"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    dataset_pk: Mapped[int] = mapped_column(
        ForeignKey("dataset.pk", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(2000), default="")  # dcat:accessURL
    download_url: Mapped[str] = mapped_column(String(2000), default="")  # dcat:downloadURL
    format: Mapped[str] = mapped_column(String(100), default="")  # dct:format (e.g. CSV)
    media_type: Mapped[str] = mapped_column(String(200), default="")  # dcat:mediaType
    byte_size: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(200), default="")  # spdx:checksumValue
    checksum_algorithm: Mapped[str] = mapped_column(String(50), default="")
    language: Mapped[str] = mapped_column(String(20), default="")
    created: Mapped[datetime | None] = mapped_column(DateTime)
    modified: Mapped[datetime | None] = mapped_column(DateTime)
    extras: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    dataset: Mapped[Dataset] = relationship(back_populates="distributions")
    elements: Mapped[list[DataElement]] = relationship(
        cascade="all, delete-orphan", order_by="DataElement.position"
    )


class DataService(Base):
    """An API (dcat:DataService) with its endpoint and OpenAPI description."""

    __tablename__ = "data_service"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    dataset_pk: Mapped[int | None] = mapped_column(
        ForeignKey("dataset.pk", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    endpoint_url: Mapped[str] = mapped_column(String(2000))  # dcat:endpointURL
    endpoint_description: Mapped[str] = mapped_column(String(2000), default="")  # OpenAPI URL
    openapi: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the OpenAPI document itself

    dataset: Mapped[Dataset | None] = relationship(back_populates="services")
    organization: Mapped[Organization] = relationship()


class CodeList(Base):
    """A version of a code list (コード一覧): code → label, each entry with validity dates."""

    __tablename__ = "code_list"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    publisher: Mapped[str] = mapped_column(String(300), default="")
    source_id: Mapped[str | None] = mapped_column(ForeignKey("catalog_source.id"))
    issued: Mapped[date | None] = mapped_column(Date)

    entries: Mapped[list[CodeListEntry]] = relationship(
        cascade="all, delete-orphan", order_by="CodeListEntry.position"
    )
    source: Mapped[Source | None] = relationship()


class CodeListEntry(Base):
    __tablename__ = "code_list_entry"
    __table_args__ = (UniqueConstraint("code_list_id", "code", "valid_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_list_id: Mapped[int] = mapped_column(ForeignKey("code_list.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(500))
    label_kana: Mapped[str] = mapped_column(String(500), default="")
    label_en: Mapped[str] = mapped_column(String(500), default="")
    parent_code: Mapped[str] = mapped_column(String(100), default="")
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class DataElement(Base):
    """A data element (データ項目) of a distribution's schema: the data dictionary."""

    __tablename__ = "data_element"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    distribution_pk: Mapped[int] = mapped_column(
        ForeignKey("distribution.pk", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    label_ja: Mapped[str] = mapped_column(String(300), default="")
    definition: Mapped[str] = mapped_column(Text, default="")
    data_type: Mapped[str] = mapped_column(String(50), default="string")
    unit: Mapped[str] = mapped_column(String(50), default="")
    pattern: Mapped[str] = mapped_column(String(500), default="")
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    code_list_name: Mapped[str] = mapped_column(String(100), default="")


class DatasetFacet(Base):
    """Denormalized facet values of a dataset, one row per (field, value), kept by the indexer.

    Facet counting is one GROUP BY over this table for the matched datasets, on both databases.
    """

    __tablename__ = "dataset_facet"
    __table_args__ = (Index("ix_dataset_facet_field_value", "field", "value", "dataset_pk"),)

    dataset_pk: Mapped[int] = mapped_column(
        ForeignKey("dataset.pk", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(String(30), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)


class SearchChange(Base):
    """Change log of the search index: one row per dataset (re)indexed or unindexed.

    Written by the indexer in the same transaction as the change, so a search engine outside the
    database (tantivy) replays exactly the committed changes, in ``seq`` order, in every process.
    """

    __tablename__ = "search_change"
    # AUTOINCREMENT: SQLite must never hand out a seq again once a row with it was deleted.
    __table_args__ = ({"sqlite_autoincrement": True},)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_pk: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(DateTime)
