"""``tsunagu residents generate``: a summary line, or one plain error line and status 2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import _new_database
from tests.registries.residents.conftest import WAKAYAMA
from tsunagu.cli import main
from tsunagu.db import make_engine
from tsunagu.registries.address import import_files


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    url, drop = _new_database(tmp_path, "residents_cli")
    yield {"TSUNAGU_DATA_DIR": str(tmp_path), "TSUNAGU_DATABASE_URL": url, "TSUNAGU_CONFIG": ""}
    make_engine(url).dispose()
    drop()


def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["residents", "generate", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--municipality", "302016", "--count", "5"), "not a valid 6-digit code"),
     (("--municipality", WAKAYAMA, "--count", "5"), "no towns of 302015"),
     (("--municipality", WAKAYAMA, "--count", "0"), "count must be"),
     (("--municipality", WAKAYAMA, "--count", "5", "--as-of", "0000-00-00"), "error:")],
)  # fmt: skip
def test_bad_input_is_one_plain_line(env: dict[str, str], args: tuple[str, ...],
                                     message: str) -> None:  # fmt: skip
    code, out, err = _run(env, *args)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_generates_into_a_loaded_municipality(env: dict[str, str],
                                              abr_slice: dict[str, Path]) -> None:  # fmt: skip
    assert _run(env, "--municipality", WAKAYAMA, "--count", "1")[0] == 2  # migrates, no towns
    engine = make_engine(env["TSUNAGU_DATABASE_URL"])
    import_files(engine, [abr_slice["town"], abr_slice["rsdt"]])
    engine.dispose()
    code, out, _ = _run(env, "--municipality", WAKAYAMA, "--count", "30", "--seed", "9")
    assert code == 0 and out.startswith("generated 30 synthetic residents of 302015")
