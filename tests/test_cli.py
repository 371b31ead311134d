"""The command line, run through click against a fresh database of the suite's kind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import _new_database
from tsunagu.accounts import ApiToken, Organization, authenticate, hash_token
from tsunagu.cli import main
from tsunagu.db import make_engine


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    url, drop = _new_database(tmp_path, "cli")
    yield {"TSUNAGU_DATA_DIR": str(tmp_path), "TSUNAGU_DATABASE_URL": url, "TSUNAGU_CONFIG": ""}
    make_engine(url).dispose()
    drop()


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_migrate_reports_the_revision(cli_env: dict[str, str]) -> None:
    code, out, _ = run(cli_env, "migrate")
    assert code == 0 and "revision" in out


def test_create_org_and_token_prints_a_working_token_last(cli_env: dict[str, str]) -> None:
    code, out, _ = run(cli_env, "admin", "create-org", "tokyo", "--title", "東京都",
                       "--corporate-number", "8000012050001")  # fmt: skip
    assert code == 0, out
    code, out, err = run(cli_env, "admin", "create-token", "--org", "tokyo")
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    engine = make_engine(cli_env["TSUNAGU_DATABASE_URL"])
    with Session(engine) as session:
        assert authenticate(session, token).organization_name == "tokyo"
        stored = session.scalars(select(ApiToken.token_hash)).all()
        assert stored == [hash_token(token)]  # only the hash is at rest
        assert token not in stored
    engine.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--corporate-number", "8000012050002"], "wrong check digit"),
        (["--corporate-number", "12345"], "13 digits"),
        (["--lg-code", "131058"], "lg_code"),
    ],
)
def test_create_org_rejects_bad_input_with_one_plain_line(
    cli_env: dict[str, str], args: list[str], message: str
) -> None:
    code, _, err = run(cli_env, "admin", "create-org", "bad", "--title", "悪い", *args)
    assert code == 2
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    engine = make_engine(cli_env["TSUNAGU_DATABASE_URL"])
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Organization)) == 0
    engine.dispose()


def test_duplicate_org_is_an_error_and_keeps_the_first(cli_env: dict[str, str]) -> None:
    assert run(cli_env, "admin", "create-org", "osaka", "--title", "大阪府")[0] == 0
    code, _, err = run(cli_env, "admin", "create-org", "osaka", "--title", "別の大阪")
    assert code == 2 and "already exists" in err
    engine = make_engine(cli_env["TSUNAGU_DATABASE_URL"])
    with Session(engine) as session:
        assert session.scalars(select(Organization.title)).all() == ["大阪府"]
    engine.dispose()


def test_bad_org_name_is_an_error(cli_env: dict[str, str]) -> None:
    code, _, err = run(cli_env, "admin", "create-org", "Not A Slug", "--title", "x")
    assert code == 2 and "lowercase" in err


def test_token_for_unknown_org_is_an_error(cli_env: dict[str, str]) -> None:
    code, out, err = run(cli_env, "admin", "create-token", "--org", "nowhere")
    assert code == 2 and "not found" in err and out == ""


def test_revoked_token_no_longer_authenticates(cli_env: dict[str, str]) -> None:
    run(cli_env, "admin", "create-org", "kyoto", "--title", "京都府")
    token = run(cli_env, "admin", "create-token", "--org", "kyoto")[1].strip().splitlines()[-1]
    code, out, _ = run(cli_env, "admin", "revoke-token", token[:10])
    assert code == 0 and "revoked 1" in out
    engine = make_engine(cli_env["TSUNAGU_DATABASE_URL"])
    with Session(engine) as session, pytest.raises(Exception, match="not valid"):
        authenticate(session, token)
    engine.dispose()


def test_invalid_setting_is_one_plain_line(cli_env: dict[str, str]) -> None:
    code, _, err = run({**cli_env, "TSUNAGU_PORT": "not-a-port"}, "migrate")
    assert code != 0 and "invalid settings" in err


def test_settings_file_is_read(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "custom.toml"
    config.write_text('log_level = "nonsense"\n', encoding="utf-8")
    code, _, err = run({**cli_env, "TSUNAGU_CONFIG": str(config)}, "migrate")
    assert code != 0 and "log level" in err


def test_corp_import_streams_a_file_reports_bad_rows_and_refuses_a_cut_one(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    from tests.registries.corporations.test_import import GOOD

    assert run(cli_env, "migrate")[0] == 0
    path = tmp_path / "corp.csv"
    path.write_text("2024-04-01,2,1,1\n" + GOOD + GOOD.replace(",0\n", ",0,x\n"), "utf-8")
    code, out, err = run(cli_env, "corp", "import", str(path))
    assert code == 0, err
    assert f"{path}:3: 31 columns, expected 30" in err
    assert "2 rows, 1 new, 0 unchanged, 1 rejected, 0 events" in out
    cut = tmp_path / "cut.csv"
    cut.write_text("2024-04-01,2,1,1\n" + GOOD + GOOD[:40], "utf-8")
    code, out, err = run(cli_env, "corp", "import", str(cut))
    assert code == 2 and "truncated file, nothing imported" in err
    code, out, err = run(cli_env, "corp", "import", "--workers", "2", str(cut))
    assert code == 2 and "truncated file, nothing imported" in err
    code, out, err = run(cli_env, "corp", "import", "--workers", "-1", str(cut))
    assert code == 2 and "--workers" in err
    code, out, err = run(cli_env, "corp", "import", str(tmp_path / "missing.csv"))
    assert code == 2 and "not found" in err


def _holding(root: Path) -> list[int]:
    """Processes with a file under ``root`` open (the federation's children keep their logs)."""
    pids = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = [os.readlink(fd) for fd in fd_dir.iterdir()]
        except OSError:  # gone, or not ours to read
            continue
        if any(link.startswith(str(root)) for link in links):
            pids.append(int(fd_dir.parent.name))
    return pids


def test_sigterm_while_the_federation_sets_up_stops_it_there(tmp_path: Path) -> None:
    """A service manager's stop during a first start (minutes of seed data) is not held off
    until everything serves; the processes started so far are stopped."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = tmp_path / "federation"
    up = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "tsunagu", "up", "--dir", str(root), "--no-seed", "--port",
         str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert up.stderr is not None
    seen = []
    for line in up.stderr:  # setting up: the hub is starting, the nodes not yet
        seen.append(line)
        if line.startswith("hub: starting"):
            break
    up.send_signal(signal.SIGTERM)
    _, rest = up.communicate(timeout=120)
    assert "tsunagu serving" not in "".join(seen) + rest
    assert "wakayama: starting" not in rest
    assert up.returncode == 0
    assert _holding(root) == []
