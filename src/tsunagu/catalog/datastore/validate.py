"""Validate a file against its data dictionary with Frictionless (Table Schema v1).

The Table Schema is generated from the dictionary, one field per header column in the file's
order (so a file whose columns are in another order than the template is still checked cell by
cell); dictionary elements that no header names are reported here, required ones as errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from .columns import FRICTIONLESS_TYPES, Column
from .reader import sheet_values

MAX_ERRORS = 1000


def table_schema(columns: Sequence[Column]) -> dict[str, Any]:
    """A Frictionless Table Schema descriptor for these columns."""
    fields = []
    labels = [c.label for c in columns]
    for column in columns:
        # Field names must be unique and non-empty: a blank or repeated header gets its column
        # id, so Frictionless reports the header cell (incorrect-label) instead of failing.
        unique = column.label and labels.count(column.label) == 1
        spec: dict[str, Any] = {
            "name": column.label if unique else column.id,
            "type": FRICTIONLESS_TYPES.get(column.type, column.type),
        }
        if column.element and column.element != spec["name"]:
            spec["title"] = column.element
        if column.info:
            spec["description"] = column.info
        constraints: dict[str, Any] = {}
        if column.required:
            constraints["required"] = True
        if column.pattern:
            constraints["pattern"] = column.pattern
        if constraints:
            spec["constraints"] = constraints
        fields.append(spec)
    return {"fields": fields}


def validate_file(
    path: Path,
    columns: Sequence[Column],
    missing: Sequence[dict[str, Any]],
    *,
    file_format: str,
    encoding: str,
    sheet: str | None = None,
) -> dict[str, Any]:
    """The Frictionless report of ``path`` as stored and served: row-level errors first 1000."""
    import frictionless

    schema = frictionless.Schema.from_descriptor(table_schema(columns))
    if file_format == "xlsx":
        # Frictionless would read the workbook padded to its declared size, which a 5 KB file
        # can declare as 16,384 × 1,048,576: it gets the cells as they are instead.
        resource = frictionless.Resource(
            data=lambda: sheet_values(path, sheet, len(columns)), schema=schema
        )
    else:
        resource = frictionless.Resource(
            path=path.name,
            basepath=str(path.parent),
            format=file_format,
            encoding=encoding or None,
            schema=schema,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = resource.validate(limit_errors=MAX_ERRORS)
    errors: list[dict[str, Any]] = [
        {"row": None, "field": m["element"], "type": "missing-element",
         "message": f"the data dictionary's {'required ' if m['required'] else ''}item "
                    f"{m['element']!r} is not a column of the file"}
        for m in missing
    ]  # fmt: skip
    for task in report.tasks:
        for error in task.errors:
            errors.append(
                {
                    "row": getattr(error, "row_number", None),
                    "field": getattr(error, "field_name", None),
                    "type": error.type,
                    "message": error.message,
                }
            )
    required_missing = any(m["required"] for m in missing)
    count = sum(len(t.errors) for t in report.tasks)
    return {
        "valid": bool(report.valid) and not required_missing,
        "error_count": count + sum(1 for m in missing if m["required"]),
        "warning_count": sum(1 for m in missing if not m["required"]),
        "errors": errors[:MAX_ERRORS],
        "truncated": count >= MAX_ERRORS,
        "schema": table_schema(columns),
        "validator": f"frictionless {version('frictionless')}",
    }
