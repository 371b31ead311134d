"""A municipality loads its AED list against the 推奨データセット dictionary, from the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.conftest import SHARED, migrated_engine
from tsunagu.accounts import Caller, create_organization
from tsunagu.catalog import Distribution
from tsunagu.catalog.datastore import DatastoreTable, info
from tsunagu.cli import main
from tsunagu.seed import load_seed

from .datastore_helpers import make_resource

AED = SHARED / "jp-open-data-samples" / "yaizu-city" / "222127_aed.csv"
TOILET = SHARED / "jp-open-data-samples" / "yaizu-city" / "222127_public_toilet.csv"


@pytest.fixture(scope="module")
def std_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_engine(tmp_path_factory.mktemp("std"), "std") as eng:
        load_seed(eng, only=("standards",))
        yield eng


@pytest.fixture
def env(std_engine: Engine, tmp_path: Path) -> dict[str, str]:
    url = std_engine.url.render_as_string(hide_password=False)
    return {"TSUNAGU_DATA_DIR": str(tmp_path), "TSUNAGU_DATABASE_URL": url, "TSUNAGU_CONFIG": ""}


@pytest.fixture
def resource_id(std_engine: Engine, request: pytest.FixtureRequest) -> str:
    """A fresh resource without a data dictionary, of a municipality's dataset."""
    name = request.node.name.replace("_", "-")[:60].lower()
    with Session(std_engine) as session:
        org = create_organization(session, f"o-{name}"[:60], "焼津市")
        session.flush()
        resource = make_resource(session, Caller(org.id, org.name, 0), name=name, dictionary=[])
        session.commit()
        return resource.id


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _stored(engine: Engine, rid: str) -> DatastoreTable | None:
    with Session(engine) as session:
        return session.scalar(
            select(DatastoreTable)
            .join(Distribution, Distribution.pk == DatastoreTable.distribution_pk)
            .where(Distribution.id == rid)
        )


def test_the_real_aed_list_conforms_to_the_standard(
    env: dict[str, str], std_engine: Engine, resource_id: str
) -> None:
    code, out, _ = run(
        env, "catalog", "datastore-load", resource_id, str(AED), "--standard", "suisho-aed"
    )
    assert code == 0, out
    assert f"loaded 82 rows into {resource_id} (csv, utf-8); 0 rows rejected" in out
    assert "validation against the data dictionary: valid" in out
    reg = _stored(std_engine, resource_id)
    assert reg is not None
    types = {f["id"]: f["type"] for f in reg.fields}
    assert types["緯度"] == types["経度"] == "number" and types["NO"] == "text"
    assert all(f["element"] == f["label"] for f in reg.fields)  # every column is a standard item


def test_the_real_public_toilet_list_conforms_to_the_seishikiban(
    env: dict[str, str], std_engine: Engine, resource_id: str
) -> None:
    args = ["catalog", "datastore-load", resource_id, str(TOILET), "--json",
            "--standard", "jichitai-standard-public-toilet"]  # fmt: skip
    code, out, _ = run(env, *args)
    assert code == 0, out
    reg = _stored(std_engine, resource_id)
    assert reg is not None and reg.row_count == 112 and reg.rejected_count == 0
    assert reg.validation is not None and reg.validation["valid"] is True
    assert {f["type"] for f in reg.fields} >= {"number", "time"}


def test_departures_from_the_standard_are_reported_by_row_and_item(
    env: dict[str, str], std_engine: Engine, resource_id: str, tmp_path: Path
) -> None:
    lines = AED.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    drop = header.index("設置位置")  # a required item of the standard
    rows = [line.split(",") for line in lines]
    for row in rows:
        del row[drop]
    rows[1][header.index("緯度")] = "北緯34度"  # not a number
    rows[2][header.index("名称")] = ""  # required
    path = tmp_path / "222127_aed.csv"
    path.write_text("\r\n".join(",".join(r) for r in rows) + "\r\n", encoding="cp932")
    code, out, _ = run(
        env, "catalog", "datastore-load", resource_id, str(path), "--standard", "suisho-aed"
    )
    assert code == 0, out
    assert "80 rows" in out and "2 rows rejected" in out
    reg = _stored(std_engine, resource_id)
    assert reg is not None and reg.encoding == "cp932" and reg.validation is not None
    found = {(e["row"], e["field"], e["type"]) for e in reg.validation["errors"]}
    assert found == {
        (None, "設置位置", "missing-element"),
        (2, "緯度", "type-error"),
        (3, "名称", "constraint-error"),
    }
    assert reg.validation["valid"] is False
    assert [(e["row"], e["field"]) for e in reg.load_errors] == [(2, "緯度"), (3, "名称")]


def test_cli_bad_input_is_one_line_exit_2_and_stores_nothing(
    env: dict[str, str], std_engine: Engine, resource_id: str, tmp_path: Path
) -> None:
    code, _, err = run(env, "catalog", "datastore-load", "no-such-resource", str(AED))
    assert code == 2 and err.strip() == "error: no resource 'no-such-resource'"
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    code, _, err = run(env, "catalog", "datastore-load", resource_id, str(broken))
    assert code == 2 and err.startswith("error: not a readable XLSX") and err.count("\n") == 1
    code, _, err = run(
        env, "catalog", "datastore-load", resource_id, str(AED), "--standard", "no-such"
    )
    assert code == 2 and "no standard dataset 'no-such'" in err
    assert _stored(std_engine, resource_id) is None
    with Session(std_engine) as session:
        assert session.scalar(select(func.count()).select_from(DatastoreTable)) is not None


def test_info_of_a_loaded_resource(
    std_engine: Engine, env: dict[str, str], resource_id: str
) -> None:
    run(env, "catalog", "datastore-load", resource_id, str(AED), "--standard", "suisho-aed")
    reg = _stored(std_engine, resource_id)
    assert reg is not None
    result = info(reg)
    assert result["meta"]["count"] == 82 and result["fields"][0] == {"id": "_id", "type": "int"}
