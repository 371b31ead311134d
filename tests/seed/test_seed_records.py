"""Loading single records: bad ones are counted and skipped, the licence mapping."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.catalog import Dataset
from tsunagu.seed import load_seed, load_tokyo, sources
from tsunagu.seed.ckan import map_license


def _good_lines(n: int) -> list[str]:
    with gzip.open(sources.TOKYO_DUMP, "rt", encoding="utf-8") as fh:
        return [next(fh) for _ in range(n)]


def test_malformed_records_are_counted_and_skipped(session: Session, tmp_path: Path) -> None:
    good = _good_lines(3)
    no_name = json.loads(good[2])
    del no_name["result"]["name"]
    bad_resources = json.loads(good[2])
    bad_resources["result"]["id"] = "ffffffff-0000-0000-0000-000000000000"
    bad_resources["result"]["name"] = "bad-resources"
    bad_resources["result"]["resources"] = "not a list"
    path = tmp_path / "dump.jsonl"
    path.write_text(
        good[0]
        + good[1]
        + "{not json\n"
        + json.dumps(no_name)
        + "\n"
        + json.dumps(bad_resources)
        + "\n"
        + '{"help": "x", "success": false}\n',
        encoding="utf-8",
    )
    counts = load_tokyo(session, path)
    assert counts["read"] == 6
    assert counts["bad"] == 4
    assert counts["inserted"] == 2
    names = set(session.scalars(select(Dataset.name)))
    assert {json.loads(line)["result"]["name"] for line in good[:2]} <= names
    assert "bad-resources" not in names
    # and again: nothing new
    assert load_tokyo(session, path)["inserted"] == 0


def test_truncated_archive_keeps_what_was_read(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl.gz"
    data = gzip.compress("".join(_good_lines(2)).encode())
    path.write_bytes(data[: len(data) // 2])
    counts = load_tokyo(session, path)
    assert counts["bad"] >= 1


def test_newer_record_replaces_and_older_is_superseded(session: Session, tmp_path: Path) -> None:
    line = json.loads(_good_lines(1)[0])
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    load_tokyo(session, path)
    newer = json.loads(json.dumps(line))
    newer["result"]["metadata_modified"] = "2030-01-01T00:00:00"
    newer["result"]["title"] = "更新後のタイトル"
    path.write_text(json.dumps(newer) + "\n", encoding="utf-8")
    assert load_tokyo(session, path)["updated"] == 1
    title = session.scalar(select(Dataset.title).where(Dataset.id == line["result"]["id"]))
    assert title == "更新後のタイトル"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    assert load_tokyo(session, path)["unchanged"] == 1  # an older copy never overwrites


@pytest.mark.parametrize(
    ("license_id", "title", "expected"),
    [
        ("CC-BY-4.0", None, "cc-by-4.0"),
        ("CC-BY-NC-ND-4.0", None, "cc-by-nc-nd-4.0"),
        ("CC-BY", None, "cc-by-4.0"),
        ("uk-ogl", None, "ogl-uk-3.0"),
        ("", "政府標準利用規約（第2.0版）", "gov-std-2.0"),
        ("", "", None),
        ("something-else", None, None),
    ],
)
def test_license_mapping(license_id: str, title: str | None, expected: str | None) -> None:
    assert map_license(license_id, title) == expected


def test_unknown_source_is_an_error(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown seed source"):
        load_seed(session, only=("nope",))


def test_small_sources_load_into_a_session(session: Session) -> None:
    counts = load_seed(session, only=("data-go-jp", "standards", "codelists"))
    assert counts["data-go-jp.datasets"] == 1
    assert counts["standards.suisho.datasets"] == 16
    assert counts["codelists.lists"] == 8
