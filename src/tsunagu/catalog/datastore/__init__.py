"""Tabular data API (CKAN DataStore / Datasette style): CSV/XLSX distributions as tables.

A file is loaded into one table per distribution, typed by the distribution's data dictionary,
checked against it with Frictionless, searched with ``datastore_search`` and read with one
read-only SQL statement under a time limit. See docs/datastore.md.
"""

from __future__ import annotations

from .columns import Column, columns_for, datastore_type
from .errors import DatastoreLoadError, SqlError, SqlNotConfigured, SqlRejected, SqlTimeout
from .load import LoadReport, drop_table, load_file
from .models import DatastoreTable
from .reader import detect_encoding, open_table, read_all
from .search import DEFAULT_LIMIT, MAX_LIMIT, SearchRequest, parse_fields, parse_object, search
from .services import (
    adopt_dictionary,
    distribution_of,
    get_table,
    info,
    loaded_resource_ids,
    standard_elements,
)
from .sql import run_sql
from .validate import table_schema

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Column",
    "DatastoreLoadError",
    "DatastoreTable",
    "LoadReport",
    "SearchRequest",
    "SqlError",
    "SqlNotConfigured",
    "SqlRejected",
    "SqlTimeout",
    "adopt_dictionary",
    "columns_for",
    "datastore_type",
    "detect_encoding",
    "distribution_of",
    "drop_table",
    "get_table",
    "info",
    "load_file",
    "loaded_resource_ids",
    "open_table",
    "parse_fields",
    "parse_object",
    "read_all",
    "run_sql",
    "search",
    "standard_elements",
    "table_schema",
]
