"""``tsunagu address import`` against a fresh database of the suite's kind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.conftest import _new_database
from tsunagu.cli import main
from tsunagu.db import make_engine
from tsunagu.registries.address.models import town

from .conftest import ABR, MakeZip, slice_lines


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    url, drop = _new_database(tmp_path, "addrcli")
    yield {"TSUNAGU_DATA_DIR": str(tmp_path), "TSUNAGU_DATABASE_URL": url, "TSUNAGU_CONFIG": ""}
    make_engine(url).dispose()
    drop()


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _towns(env: dict[str, str]) -> int:
    engine = make_engine(env["TSUNAGU_DATABASE_URL"])
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(town)) or 0
    engine.dispose()
    return int(count)


def test_import_reports_files_broken_rows_and_reruns_as_no_op(
    cli_env: dict[str, str], make_zip: MakeZip
) -> None:
    lines = slice_lines(ABR / "mt_town_pref45.csv.zip", lambda line: line.startswith("452017,"))
    lines[2] = "452017,broken"
    path = make_zip("mt_town_pref45.csv.zip", "mt_town_pref45.csv", lines[:50], date(2025, 5, 28))
    code, out, err = run(cli_env, "address", "import", str(path))
    assert code == 0, err
    assert "mt_town_pref45.csv.zip:mt_town_pref45.csv:3: 2 fields" in err
    assert "48 rows, 48 new" in out and "1 broken" in out
    code, out, _ = run(cli_env, "address", "import", str(path))
    assert code == 0 and "already imported" in out
    assert _towns(cli_env) == 48


def test_truncated_zip_is_one_error_line_and_status_2(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    code, _, _ = run(cli_env, "address", "import", str(ABR / "mt_town_pref30.csv.zip"))
    assert code == 0
    before = _towns(cli_env)
    cut = tmp_path / "mt_town_pref45.csv.zip"
    cut.write_bytes((ABR / "mt_town_pref45.csv.zip").read_bytes()[:40_000])
    code, _, err = run(cli_env, "address", "import", str(cut))
    assert code == 2
    assert err.startswith("error: mt_town_pref45.csv.zip: not a readable zip file")
    assert len(err.strip().splitlines()) == 1
    assert _towns(cli_env) == before
