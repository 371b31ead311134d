"""The registry of loaded datastore tables (the tables themselves are created per resource)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db import Base
from tsunagu.kernel import naive_utcnow


class DatastoreTable(Base):
    """One distribution loaded into a queryable table (CKAN DataStore resource)."""

    __tablename__ = "datastore_table"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    distribution_pk: Mapped[int] = mapped_column(
        ForeignKey("distribution.pk", ondelete="CASCADE"), unique=True
    )
    # The resource id (a UUID); also the table's name, so CKAN-style SQL reads FROM "<id>".
    table_name: Mapped[str] = mapped_column(String(63), unique=True)
    # [{"id": column, "type": integer|number|date|time|datetime|boolean|text, "label": header,
    #   "element": data dictionary name or ""}]
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    source_name: Mapped[str] = mapped_column(String(500), default="")  # file name loaded
    file_format: Mapped[str] = mapped_column(String(10), default="")  # csv | xlsx
    encoding: Mapped[str] = mapped_column(String(20), default="")  # utf-8, utf-8-sig, cp932
    row_count: Mapped[int] = mapped_column(Integer, default=0)  # rows stored
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)  # rows not stored
    # Rows that did not fit the data dictionary (first MAX_STORED_ERRORS): row, field, message.
    load_errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Frictionless report against the Table Schema of the dictionary (None: not validated).
    validation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
