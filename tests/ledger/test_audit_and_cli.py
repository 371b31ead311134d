"""``tsunagu log audit`` finds tampering done straight in the database; ``tsunagu log verify``
checks proofs with files and keys only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tsunagu.cli import main
from tsunagu.kernel import Settings
from tsunagu.ledger import services
from tsunagu.ledger.audit import audit


@pytest.fixture
def audited(filled: Session, identity: services.LogIdentity) -> Session:
    services.latest_checkpoint(filled, identity)
    filled.flush()
    report = audit(filled, identity.verifier)
    assert report.ok, report.findings
    assert (report.entries, report.size, report.checkpoints, report.records) == (1020, 1020, 1, 20)
    return filled


TAMPERING = {
    "changed": ["UPDATE ledger_entry SET data = :x WHERE idx = 7"],
    "removed": ["DELETE FROM ledger_entry WHERE idx = 300"],
    "removed last": [
        "DELETE FROM ledger_access_record WHERE idx = 1019",
        "DELETE FROM ledger_entry WHERE idx = 1019",
    ],
    "reordered": [
        "UPDATE ledger_entry SET idx = 5000 WHERE idx = 3",
        "UPDATE ledger_entry SET idx = 3 WHERE idx = 4",
        "UPDATE ledger_entry SET idx = 4 WHERE idx = 5000",
    ],
    "inserted": ["INSERT INTO ledger_entry (idx, data) VALUES (1020, :x)"],
    "record rewritten": [
        "UPDATE ledger_access_record SET pseudonym = 'psn-other', "
        "record = replace(record, 'psn-wakayama-00003', 'psn-other') "
        "WHERE idx = 1003"
    ],
    "tile rewritten": ["UPDATE ledger_tile SET nodes = :x WHERE level = 0 AND tile_index = 1"],
    "head rewritten": ["UPDATE ledger_tree SET root = :h"],
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_audit_detects_tampering(
    audited: Session, identity: services.LogIdentity, case: str
) -> None:
    for statement in TAMPERING[case]:
        audited.execute(text(statement), {"x": b"forged", "h": b"\x00" * 32})
    report = audit(audited, identity.verifier)
    assert not report.ok, case
    assert report.findings


def test_audit_detects_a_consistent_rewrite_by_the_signed_checkpoint(
    audited: Session, identity: services.LogIdentity
) -> None:
    """Even rewriting entries, tiles and head together fails: the signed checkpoint remembers."""
    audited.execute(text("DELETE FROM ledger_access_record"))
    audited.execute(text("DELETE FROM ledger_tile"))
    audited.execute(text("DELETE FROM ledger_entry"))
    audited.execute(text("UPDATE ledger_tree SET size = 0"))
    services.append_entries(audited, [f"entry {i}".encode() for i in range(1019)] + [b"forged"])
    report = audit(audited, identity.verifier)
    assert [f for f in report.findings if "checkpoint at size 1020" in f]


def _write(tmp: Path, name: str, content: str) -> str:
    (tmp / name).write_text(content, encoding="utf-8")
    return str(tmp / name)


@pytest.fixture
def files(
    client: TestClient, log_settings: Settings, filled: Session, tmp_path: Path
) -> dict[str, str]:
    """Checkpoints, proofs and a bundle as a client would save them."""
    filled.commit()
    old = client.get("/log/checkpoint").text
    services.append_entries(filled, [b"later"] * 30)
    filled.commit()
    new = client.get("/log/checkpoint").text
    incl = client.get("/api/v1/log/inclusion", params={"index": 17, "size": 1050}).json()
    cons = client.get("/api/v1/log/consistency", params={"size1": 1020, "size2": 1050}).json()
    return {
        "vkey": client.get("/log/vkey").text.strip(),
        "old": _write(tmp_path, "old.checkpoint", old),
        "new": _write(tmp_path, "new.checkpoint", new),
        "inclusion": _write(tmp_path, "incl.json", json.dumps(incl)),
        "consistency": _write(tmp_path, "cons.json", json.dumps(cons)),
        "bundle": _write(tmp_path, "e.tlog-proof", client.get("/api/v1/log/entries/3/proof").text),
    }


def _verify(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    # No database: a URL nothing listens on proves verify never opens one.
    monkeypatch.setenv("TSUNAGU_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(main, ["log", "verify", *args])
    return result.exit_code, result.output


def test_verify_offline_checkpoint_inclusion_consistency_bundle(
    files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _verify(
        monkeypatch, "--vkey", files["vkey"], "--checkpoint", files["new"],
        "--inclusion", files["inclusion"], "--old", files["old"],
        "--consistency", files["consistency"], "--bundle", files["bundle"],
    )  # fmt: skip
    assert code == 0, out
    assert "ok: entry 3 is in tsunagu.example/log at size 1050" in out
    assert "ok: size 1020 is consistent with size 1050" in out
    assert "ok: entry 17 is included at size 1050" in out


def _tampered(path: str, old: str, new: str) -> str:
    content = Path(path).read_text(encoding="utf-8")
    assert old in content
    Path(path).write_text(content.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("target", "old", "new"),
    [
        ("new", "\n1050\n", "\n1051\n"),  # checkpoint size changed: signature fails
        ("bundle", "index 3", "index 4"),
        ("bundle", "c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"),
        ("inclusion", '"index": 17', '"index": 18'),
        ("inclusion", '"proof": ["', '"proof": ["AAAA'),
        (
            "consistency",
            '"proof": ["',
            '"proof": ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "',
        ),
    ],
)
def test_verify_rejects_forgeries_with_one_line(
    files: dict[str, str], monkeypatch: pytest.MonkeyPatch, target: str, old: str, new: str
) -> None:
    _tampered(files[target], old, new)
    args = {"bundle": ["--bundle", files["bundle"]]}.get(target) or [
        "--checkpoint", files["new"], "--inclusion", files["inclusion"],
        "--old", files["old"], "--consistency", files["consistency"],
    ]  # fmt: skip
    code, out = _verify(monkeypatch, "--vkey", files["vkey"], *args)
    assert code == 2
    assert out.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in out


def test_verify_wrong_key_and_witness_quorum(
    files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "tsunagu.example/log+00000000+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    code, out = _verify(monkeypatch, "--vkey", other, "--checkpoint", files["new"])
    assert code == 2 and out.startswith("error: ")
    code, out = _verify(monkeypatch, "--vkey", files["vkey"], "--checkpoint", files["new"],
                        "--min-witnesses", "1")  # fmt: skip
    assert code == 2 and "policy needs 1" in out


def test_audit_command_on_a_tampered_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    monkeypatch.setenv("TSUNAGU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TSUNAGU_DATABASE_URL", f"sqlite:///{tmp_path / 'a.sqlite3'}")
    from tsunagu.db import make_engine, make_sessionmaker, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    migrate(engine)
    with make_sessionmaker(engine)() as session:
        services.append_entries(session, [f"e{i}".encode() for i in range(600)])
        session.commit()
    engine.dispose()
    runner = CliRunner()
    result = runner.invoke(main, ["log", "audit"])
    assert result.exit_code == 0 and result.output.startswith("ok: 600 entries"), result.output
    with sqlite3.connect(tmp_path / "a.sqlite3") as db:
        db.execute("UPDATE ledger_entry SET data = x'00' WHERE idx = 42")
    result = runner.invoke(main, ["log", "audit"])
    assert result.exit_code == 1
    assert "FAIL tile 0/0" in result.output and "FAILED" in result.output
