"""Output formats of abr-geocoder: json, ndjson, csv, geojson — streamed one result at a time."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from tsunagu.registries.address.geocoder.matcher import RESULT_FIELDS, GeocodeResult

FORMATS = ("json", "ndjson", "csv", "geojson")
MEDIA_TYPES = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
}
CSV_COLUMNS = ("input", *RESULT_FIELDS)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def feature(result: GeocodeResult) -> dict[str, object]:
    """A GeoJSON Feature: the point (if any) with query and result as properties."""
    geometry = (
        {"type": "Point", "coordinates": [result.lon, result.lat]}
        if result.lat is not None and result.lon is not None
        else None
    )
    return {"type": "Feature", "geometry": geometry, "properties": result.to_dict()}


def _csv_line(values: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def render(results: Iterable[GeocodeResult], fmt: str) -> Iterator[str]:
    """Text chunks of ``results`` in ``fmt`` (one chunk per result, plus framing)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if fmt == "ndjson":
        for result in results:
            yield _json(result.to_dict()) + "\n"
    elif fmt == "csv":
        yield _csv_line(CSV_COLUMNS)
        for result in results:
            row = result.result()
            row["others"] = " ".join(result.others)
            yield _csv_line([result.input, *(_csv_value(row[f]) for f in RESULT_FIELDS)])
    else:
        head, tail = ('{"type":"FeatureCollection","features":[', "]}\n")
        if fmt == "json":
            head, tail = "[", "]\n"
        yield head
        for number, result in enumerate(results):
            body = result.to_dict() if fmt == "json" else feature(result)
            yield ("," if number else "") + _json(body)
        yield tail


def _csv_value(value: object) -> object:
    return "" if value is None else value
