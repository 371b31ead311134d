"""The message log as evidence, across real processes: records sealed in batches time-stamped by
the hub's TSA, exported with proofs and certificates, and verified offline by
``tsunagu node verify-log`` — which fails, naming the record, once anything is changed."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import _free_port
from tests.mesh.conftest import Running, build, started, wait_for
from tsunagu.demo import TSUNAGU
from tsunagu.mesh.messagelog import LEAF_FIELDS
from tsunagu.mesh.models import MessageRecord, TimestampBatch

WAKAYAMA = "JP/MUN/6000020302015"
BASIC4 = f"{WAKAYAMA}/residents/basic4"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """和歌山市 (provider) and 国税庁 (consumer); the message log is sealed every second."""
    fed, drops = build(tmp_path_factory.mktemp("messagelog"), ("wakayama", "nta"), residents=20)
    fed.extra_env = {**fed.extra_env, "TSUNAGU_MESH_LOG_BATCH_SECONDS": "1"}
    with started(fed, drops) as running:
        yield running


def person(running: Running) -> str:
    return str(running.description["samples"]["wakayama_residents"][0]["nta_pseudonym"])


def ask(running: Running, purpose: str, xroad_id: str) -> int:
    response = running.r1(
        "nta",
        BASIC4,
        purpose=purpose,
        person=person(running),
        params={"items": "name,address"},
        headers={"X-Road-Id": xroad_id, "X-Road-Issue": "case-7", "X-Road-UserId": "auditor"},
    )
    return response.status_code


def export(running: Running, name: str) -> list[dict[str, Any]]:
    with running.local(name) as http:
        got = http.get("/api/v1/mesh/messages/export")
    assert got.status_code == 200, got.text
    return [json.loads(line) for line in got.text.splitlines() if line.strip()]


def sealed(running: Running, name: str, xroad_ids: set[str]) -> list[dict[str, Any]] | None:
    """The export once every record of ``xroad_ids`` is in a batch, else None."""
    lines = export(running, name)
    mine = [x for x in lines if x.get("kind") == "record" and x["x_road_id"] in xroad_ids]
    return lines if len(mine) == len(xroad_ids) and all(x["batch"] for x in mine) else None


def write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
    return path


def anchor_of(running: Running, path: Path) -> Path:
    """The platform root as the node installed it (an auditor gets it from the hub operator)."""
    anchor = running.identity("nta").anchor
    path.write_bytes(anchor.public_bytes(serialization.Encoding.PEM))
    return path


def verify(running: Running, *args: str) -> subprocess.CompletedProcess[str]:
    """``tsunagu node verify-log`` as its own process, with no node settings at all."""
    env = {k: v for k, v in running.fed.hub_env().items() if not k.startswith("TSUNAGU_")}
    return subprocess.run(  # noqa: S603 - our own command line
        [*TSUNAGU, "node", "verify-log", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def exports(pair: Running, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A few requests (allowed, refused), sealed and exported from both nodes."""
    ids = {f"ml-{i}-{uuid.uuid4().hex[:8]}" for i in range(3)}
    statuses = {ask(pair, "tax-assessment", x) for x in sorted(ids)}
    refused = f"ml-refused-{uuid.uuid4().hex[:8]}"
    statuses.add(ask(pair, "marketing", refused))
    assert statuses == {200, 403}
    ids.add(refused)
    out: dict[str, Any] = {"ids": ids, "dir": tmp_path_factory.mktemp("exports")}
    for name in ("nta", "wakayama"):
        out[name] = wait_for(lambda n=name: sealed(pair, n, ids), 60, f"{name} records sealed")
    out["anchor"] = anchor_of(pair, out["dir"] / "root.pem")
    return out


def records(lines: list[dict[str, Any]], ids: set[str]) -> list[dict[str, Any]]:
    return [x for x in lines if x.get("kind") == "record" and x["x_road_id"] in ids]


def test_both_exports_verify_offline_with_the_cli(pair: Running, exports: dict[str, Any]) -> None:
    for name in ("nta", "wakayama"):
        lines = exports[name]
        header = lines[0]
        assert (
            header["format"] == "tsunagu-message-log"
            and header["member"] in (pair.node(name)["member"])
        )
        assert len(header["certificates"]["nodes"]) >= 2  # its own and the other node's
        assert header["certificates"]["tsa"]
        mine = records(lines, exports["ids"])
        # both sides hold both signatures of every answered request, with their digests
        assert all(x["request_digest"] and x["response_digest"] for x in mine)
        assert all(x["request_signature"] and x["response_signature"] for x in mine)
        path = write(exports["dir"] / f"{name}.jsonl", lines)
        # the CLI as the federation runs it (node environment) ...
        output = pair.fed.run(
            pair.fed.node_env(pair.fed.spec(name)),
            "node",
            "verify-log",
            str(path),
            "--anchor",
            str(exports["anchor"]),
        )
        assert output.strip().endswith("0 failures: OK"), output
        # ... and with no settings at all: it is offline
        done = verify(pair, str(path), "--anchor", str(exports["anchor"]))
        assert done.returncode == 0, done.stdout + done.stderr
        batches = [x for x in lines if x.get("kind") == "batch"]
        sealed_count = sum(1 for x in lines if x.get("kind") == "record" and x["batch"])
        signed = sum(
            bool(x["request_signature"]) + bool(x["response_signature"])
            for x in lines
            if x.get("kind") == "record"
        )
        summary = done.stdout.strip().splitlines()[-1]
        assert summary.startswith(f"{len(lines) - 1 - len(batches)} records, {sealed_count} in ")
        assert f"{signed} signatures verified, 0 failures: OK" in summary


# the hashes, digests and signatures of the request and of the response
MESSAGE_FIELDS = [f for f in LEAF_FIELDS if f.startswith(("request_", "response_"))]


def test_both_sides_log_the_same_hashes_of_a_round_trip(exports: dict[str, Any]) -> None:
    """The consumer's and the provider's records of one message hold the same hashes and
    digests of the request and of the response, each over the canonical form as signed."""
    sides = {
        name: {x["x_road_id"]: x for x in records(exports[name], exports["ids"])}
        for name in ("nta", "wakayama")
    }
    assert set(sides["nta"]) == set(sides["wakayama"]) == exports["ids"]
    for xroad_id in exports["ids"]:
        consumer, provider = sides["nta"][xroad_id], sides["wakayama"][xroad_id]
        assert (consumer["side"], provider["side"]) == ("consumer", "provider")
        for field in MESSAGE_FIELDS:
            assert consumer[field] and consumer[field] == provider[field], (xroad_id, field)
        assert len(base64.b64decode(consumer["response_hash"])) == 64  # SHA-512


def _tampered(exports: dict[str, Any], name: str, change: Any, filename: str) -> tuple[str, Any]:
    lines = json.loads(json.dumps(exports[name]))
    target = records(lines, exports["ids"])[0]
    change(lines, target)
    return str(write(exports["dir"] / filename, lines)), target


def _record_name(record: dict[str, Any]) -> str:
    return f"record {record['id']} ({record['side']} {record['message_id']})"


def test_a_changed_field_fails_naming_the_record(pair: Running, exports: dict[str, Any]) -> None:
    def change(_lines: list[dict[str, Any]], record: dict[str, Any]) -> None:
        record["purpose"] = "benefit-eligibility"

    path, record = _tampered(exports, "wakayama", change, "field.jsonl")
    done = verify(pair, path, "--anchor", str(exports["anchor"]))
    assert done.returncode == 1, done.stdout
    failures = [ln for ln in done.stdout.splitlines() if ln.startswith("FAIL")]
    assert failures == [f"FAIL {_record_name(record)}: not in batch {record['batch']['id']} "
                        "(the record or its proof was changed: the leaf does not lead to the "
                        "time-stamped root)"]  # fmt: skip
    assert done.stdout.strip().endswith("1 failures: FAILED")


def test_a_changed_signature_fails_naming_the_record(
    pair: Running, exports: dict[str, Any]
) -> None:
    def change(_lines: list[dict[str, Any]], record: dict[str, Any]) -> None:
        head, empty, signature = record["response_signature"].split(".")
        raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
        raw[5] ^= 0x01
        flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
        record["response_signature"] = f"{head}.{empty}.{flipped}"

    path, record = _tampered(exports, "nta", change, "signature.jsonl")
    done = verify(pair, path, "--anchor", str(exports["anchor"]))
    assert done.returncode == 1, done.stdout
    name = _record_name(record)
    assert f"FAIL {name}: response signature: signature does not verify" in done.stdout
    # the signature is part of the sealed record too, so the batch proof fails as well
    assert f"FAIL {name}: not in batch" in done.stdout
    assert all(name in ln for ln in done.stdout.splitlines() if ln.startswith("FAIL"))


def test_a_broken_token_fails_naming_the_batch_and_its_records(
    pair: Running, exports: dict[str, Any]
) -> None:
    holder: dict[str, Any] = {}

    def change(lines: list[dict[str, Any]], record: dict[str, Any]) -> None:
        batch = next(
            x for x in lines if x.get("kind") == "batch" and x["id"] == record["batch"]["id"]
        )
        token = bytearray(base64.b64decode(batch["token"]))
        token[len(token) // 2] ^= 0xFF
        batch["token"] = base64.b64encode(bytes(token)).decode()
        holder["batch"] = batch

    path, record = _tampered(exports, "wakayama", change, "token.jsonl")
    done = verify(pair, path, "--anchor", str(exports["anchor"]))
    assert done.returncode == 1, done.stdout
    batch_id = holder["batch"]["id"]
    assert f"FAIL batch {batch_id}: " in done.stdout
    assert f"FAIL {_record_name(record)}: batch {batch_id} has no valid time-stamp" in done.stdout
    in_batch = [
        x for x in exports["wakayama"] if x.get("kind") == "record" and x["batch"]
        and x["batch"]["id"] == batch_id
    ]  # fmt: skip
    assert len(in_batch) == holder["batch"]["size"]
    assert done.stdout.count("has no valid time-stamp") == len(in_batch)


def test_another_root_fails_and_bad_input_is_one_error_line(
    pair: Running, exports: dict[str, Any]
) -> None:
    path = write(exports["dir"] / "again.jsonl", exports["nta"])
    # a certificate that is not the platform root: nothing chains to it
    own = pair.identity("nta").certificate.public_bytes(serialization.Encoding.PEM)
    (exports["dir"] / "other.pem").write_bytes(own)
    done = verify(pair, str(path), "--anchor", str(exports["dir"] / "other.pem"))
    assert done.returncode == 1
    assert "FAIL batch" in done.stdout and "signature: signer certificate" in done.stdout
    # without --anchor the root in the file is used, and said so
    done = verify(pair, str(path))
    assert done.returncode == 0 and done.stdout.startswith("note: trusting the root")
    for content, message in [
        ("not json\n", "error: line 1 is not JSON"),
        ('{"kind": "record"}\n', "error: not a tsunagu message-log export (no header line)"),
    ]:
        bad = exports["dir"] / "bad.jsonl"
        bad.write_text(content, "utf-8")
        done = verify(pair, str(bad))
        assert done.returncode == 2 and done.stderr.strip() == message, done.stderr
        assert not done.stdout
    done = verify(pair, str(exports["dir"] / "missing.jsonl"))
    assert done.returncode == 2 and done.stderr.startswith("error: file not found")
    done = verify(pair, str(path), "--anchor", str(path))
    assert done.returncode == 2 and done.stderr.strip().endswith("is not a PEM certificate")


def _engine(running: Running, name: str) -> Any:
    return running.engine(name)


@pytest.mark.postgres
def test_two_processes_seal_each_record_once(pair: Running, tmp_path: Path) -> None:
    """Scale-out: a second 和歌山市 process on the same PostgreSQL database; both workers seal
    the message log (FOR UPDATE SKIP LOCKED): no record is lost or sealed twice."""
    spec = pair.fed.spec("wakayama")
    engine = _engine(pair, "wakayama")
    assert engine.dialect.name == "postgresql"
    pair.fed.start_node(spec, name="wakayama-2", ports=(_free_port(), _free_port()))
    try:
        ids = {f"ml-scale-{i}-{uuid.uuid4().hex[:8]}" for i in range(40)}
        with ThreadPoolExecutor(8) as pool:
            statuses = set(pool.map(lambda x: ask(pair, "tax-assessment", x), sorted(ids)))
        assert statuses == {200}
        wait_for(lambda: sealed(pair, "wakayama", ids), 60, "records sealed")
        with Session(engine) as session:
            rows = session.scalars(
                select(MessageRecord).where(MessageRecord.batch_id.is_not(None))
            ).all()
            batches = {b.id: b.size for b in session.scalars(select(TimestampBatch))}
        places = Counter((r.batch_id, r.batch_index) for r in rows)
        assert max(places.values()) == 1  # no leaf claimed by two records
        per_batch = Counter(r.batch_id for r in rows)
        # every leaf of every batch belongs to exactly one record: none was sealed twice
        assert per_batch == Counter(batches)
        lines = export(pair, "wakayama")
        done = verify(pair, str(write(tmp_path / "scale.jsonl", lines)))
        assert done.returncode == 0, done.stdout
    finally:
        pair.fed.kill("wakayama-2")
        engine.dispose()


# -- the hub's own message log --------------------------------------------------------------------


def hub_export(running: Running, path: Path) -> list[dict[str, Any]]:
    """``tsunagu hub export-log`` as the hub's operator runs it (the hub's environment)."""
    output = running.fed.run(running.fed.hub_env(), "hub", "export-log", "--out", str(path))
    assert output.startswith(f"wrote {path}"), output
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def hub_rows(lines: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [
        x
        for x in lines
        if x.get("kind") == "record" and all(x.get(k) == v for k, v in match.items())
    ]


def test_the_hub_logs_each_translation_sealed_by_its_own_tsa(
    pair: Running, exports: dict[str, Any]
) -> None:
    """Every allowed query about a person needs the hub to translate 国税庁's pseudonym into
    和歌山市's: each translation is a row of the hub's log, with the provider's signed call and
    the consumer's purpose and X-Road-Id, time-stamped in a batch and verifiable offline."""
    allowed = {x for x in exports["ids"] if not x.startswith("ml-refused")}
    path = exports["dir"] / "hub.jsonl"

    def sealed_at_hub() -> list[dict[str, Any]] | None:
        lines = hub_export(pair, path)
        rows = [x for x in hub_rows(lines, side="hub") if x["x_road_id"] in allowed]
        return lines if len(rows) == len(allowed) and all(x["batch"] for x in rows) else None

    lines = wait_for(sealed_at_hub, 60, "hub records sealed")
    rows = [x for x in hub_rows(lines, side="hub") if x["x_road_id"] in allowed]
    wakayama = pair.node("wakayama")["member"]
    for row in rows:
        assert row["service"] == "hub:/mesh/hub/pseudonyms/translate"
        assert row["client"] == wakayama and row["status"] == 200
        assert row["purpose"] == "tax-assessment" and row["issue"] == "case-7"
        assert row["request_signature"] and row["request_digest"]
    # the refused query never reached the hub: 和歌山市 refused it before any translation
    assert not [x for x in lines if x.get("x_road_id", "").startswith("ml-refused")]
    header = lines[0]
    assert header["member"].endswith(" hub") and header["certificates"]["tsa"]
    done = verify(pair, str(path), "--anchor", str(exports["anchor"]))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("0 failures: OK")

    # one changed purpose in the hub's export: the verifier names that record
    changed = json.loads(json.dumps(lines))
    target = next(x for x in hub_rows(changed, side="hub") if x["x_road_id"] in allowed)
    target["purpose"] = "marketing"
    bad = write(exports["dir"] / "hub-changed.jsonl", changed)
    done = verify(pair, str(bad), "--anchor", str(exports["anchor"]))
    assert done.returncode == 1, done.stdout
    assert f"FAIL {_record_name(target)}: not in batch" in done.stdout


def test_the_hub_logs_refused_calls(pair: Running, tmp_path: Path) -> None:
    """A signed call the hub refuses keeps its message id and signature in the hub's log; an
    unsigned one is a ``refused`` row under a new id. Neither changes anything else."""
    from tsunagu.mesh.client import HubClient
    from tsunagu.mesh.errors import MeshFault

    settings = pair.settings("nta")
    message_id = str(uuid.uuid4())
    client = HubClient(settings, pair.identity("nta"))
    try:
        with pytest.raises(MeshFault) as refused:
            client.call(
                "POST",
                "/mesh/hub/pseudonyms/translate",
                {"pseudonym": "p-unknown", "evidence": {"method": "GET"}},
                message_id=message_id,
            )
    finally:
        client.close()
    assert "the hub answered 422: evidence needs" in refused.value.message
    with pair.hub() as hub:
        unsigned = hub.post("/mesh/hub/pseudonyms/translate", json={"pseudonym": "x"})
    assert unsigned.status_code == 401 and unsigned.json()["type"] == "Client.MissingSignature"

    lines = hub_export(pair, tmp_path / "hub.jsonl")
    signed = hub_rows(lines, side="hub", message_id=message_id)
    assert len(signed) == 1, signed
    assert signed[0]["status"] == 422 and signed[0]["error_type"] == "problem:validation-error"
    assert signed[0]["client"] == pair.node("nta")["member"] and signed[0]["request_signature"]
    unsigned_rows = hub_rows(lines, side="refused", error_type="Client.MissingSignature")
    assert unsigned_rows and unsigned_rows[-1]["client"] == "-"
    assert not unsigned_rows[-1]["request_signature"]


# -- last in this module: it revokes 国税庁's node certificate ------------------------------------


def test_records_verify_after_their_signer_left_the_trust_list(
    pair: Running, exports: dict[str, Any], tmp_path: Path
) -> None:
    """The hub revokes 国税庁's node certificate: it leaves the trust list, and 和歌山市 refuses
    国税庁 from then on. The requests 国税庁 signed before are still evidence: 和歌山市 kept
    the certificate when it accepted the earlier lists, so its export carries it and verifies
    offline."""
    from tsunagu.mesh.messagelog import b64der

    cert = pair.identity("nta").certificate
    said = pair.fed.run(
        pair.fed.hub_env(), "trust", "revoke", format(cert.serial_number, "x"),
        "--reason", "superseded",
    )  # fmt: skip
    assert said.startswith("revoked"), said

    def refused() -> str:
        response = pair.r1(
            "nta", BASIC4, purpose="tax-assessment", person=person(pair),
            params={"items": "name"}, headers={"X-Road-Id": f"ml-gone-{uuid.uuid4().hex[:8]}"},
        )  # fmt: skip
        # until 和歌山市 has the new list, the hub refuses the revoked signer instead
        return "SslAuthenticationFailed" in response.text

    wait_for(refused, 60, "和歌山市 refusing 国税庁's certificate under the new trust list")
    with pair.hub() as hub:
        payload = hub.get("/trust/list").text.split(".")[1]  # the signed list's JSON
    members = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["members"]
    assert b64der(cert) not in [n["certificate"] for m in members for n in m["nodes"]]

    lines = wait_for(lambda: sealed(pair, "wakayama", exports["ids"]), 60, "records sealed")
    assert b64der(cert) in lines[0]["certificates"]["nodes"]
    signed_by_nta = [x for x in records(lines, exports["ids"]) if x["request_signature"]]
    assert signed_by_nta
    done = verify(pair, str(write(tmp_path / "after.jsonl", lines)), "--anchor",
                  str(exports["anchor"]))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("0 failures: OK")
