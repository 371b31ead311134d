"""C2SP signed notes (the spec's example), cosignatures, and a node acting as witness."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import SHARED
from tsunagu.kernel import Settings
from tsunagu.ledger import services, witness
from tsunagu.ledger.errors import (
    BadNoteInput,
    InconsistentCheckpoint,
    SignatureRejected,
    UnknownLog,
    WitnessConflict,
)
from tsunagu.ledger.note import (
    COSIGNATURE_V1,
    ED25519,
    NoteError,
    Signer,
    cosignature_time,
    open_note,
    parse_note,
    parse_vkey,
)

SPEC = (SHARED / "merkle" / "c2sp" / "signed-note.md").read_text(encoding="utf-8")
EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
EXAMPLE_NOTE = (
    "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2O"
    "NncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_the_signed_note_example_of_the_spec_verifies() -> None:
    assert EXAMPLE_VKEY in SPEC and EXAMPLE_NOTE.split("\n\n")[1].strip() in SPEC
    verifier = parse_vkey(EXAMPLE_VKEY)
    note, signed = open_note(EXAMPLE_NOTE, [verifier])
    assert note.text == "This is an example message.\n" and signed == [verifier]
    assert verifier.vkey == EXAMPLE_VKEY


@pytest.mark.parametrize(
    "note",
    [
        EXAMPLE_NOTE.replace("example message", "example massage"),  # text changed
        EXAMPLE_NOTE.replace("Uw2QOkn8", "Uw2QOkn9"),  # signature changed
        EXAMPLE_NOTE.replace("example.com/foo U", "example.com/bar U"),  # unknown key only
        EXAMPLE_NOTE.replace("\n\n", "\n"),  # no blank line
        EXAMPLE_NOTE.rstrip("\n"),  # no final newline
        EXAMPLE_NOTE.replace("— ", "- "),  # not an em dash
        "This\x07 is\n\n" + EXAMPLE_NOTE.split("\n\n")[1],  # control character
        EXAMPLE_NOTE.replace("=\n", "=!\n"),  # bad base64
    ],
)
def test_tampered_or_malformed_notes_are_rejected(note: str) -> None:
    with pytest.raises(NoteError):
        open_note(note, [parse_vkey(EXAMPLE_VKEY)])


def test_unknown_signatures_are_ignored_but_known_bad_ones_reject() -> None:
    other = Signer("other.example/x", Ed25519PrivateKey.generate())
    with_other = EXAMPLE_NOTE + other.sign_line("This is an example message.\n")
    open_note(with_other, [parse_vkey(EXAMPLE_VKEY)])
    bad = EXAMPLE_NOTE + other.sign_line("something else\n")
    with pytest.raises(NoteError, match="does not verify"):
        open_note(bad, [parse_vkey(EXAMPLE_VKEY), other.verifier])


@pytest.mark.parametrize(
    "vkey",
    [
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong key ID
        "example.com/foo+530d903a+AlkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # type 0x02
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U",  # short
        "example.com/foo", "exa mple+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "",
    ],
)  # fmt: skip
def test_bad_verifier_keys_are_rejected(vkey: str) -> None:
    with pytest.raises(NoteError):
        parse_vkey(vkey)


def test_cosignature_is_the_tlog_cosignature_v1_message() -> None:
    key = Ed25519PrivateKey.generate()
    w = Signer("witness.example/w1", key, COSIGNATURE_V1)
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    line = w.cosign_line(text, 1679315147)
    (signature,) = parse_note(text + "\n" + line).signatures
    assert cosignature_time(signature) == 1679315147
    message = b"cosignature/v1\ntime 1679315147\n" + text.encode()
    key.public_key().verify(signature.signature[8:], message)
    open_note(text + "\n" + line, [w.verifier])
    assert w.verifier.vkey.split("+")[2].startswith("B")  # type byte 0x04
    as_note_key = Signer("witness.example/w1", key, ED25519).verifier
    with pytest.raises(NoteError):  # a different key ID: not mistaken for a note signature
        open_note(text + "\n" + line, [as_note_key])


@pytest.fixture
def pair(
    filled: Session, log_settings: Settings
) -> tuple[services.LogIdentity, witness.WitnessIdentity]:
    log = services.log_identity(log_settings)
    log_settings.witness_logs = log.verifier.vkey
    log_settings.witness_name = "witness.example/w1"
    return log, witness.witness_identity(log_settings)


def test_witness_cosigns_consistent_checkpoints(
    filled: Session, pair: tuple[services.LogIdentity, witness.WitnessIdentity]
) -> None:
    log, wit = pair
    first = witness.add_checkpoint_body(filled, log, 0)
    line = witness.add_checkpoint(filled, wit, first, now=1_800_000_000)
    cp = services.latest_checkpoint(filled, log)
    services_identity = services.LogIdentity(log.origin, log.signer, 0, [wit.signer.verifier])
    assert services.add_cosignatures(filled, services_identity, cp.note + line) == 1
    with pytest.raises(WitnessConflict):  # replay from 0: the witness is at 1020 now
        witness.add_checkpoint(filled, wit, first)
    services.append_entries(filled, [b"more"] * 5)
    second = witness.add_checkpoint_body(filled, log, 1020)
    witness.add_checkpoint(filled, wit, second)
    # the log forks: a checkpoint not consistent with the one the witness saw
    forked = second.replace(second.split("\n")[1], "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    with pytest.raises((InconsistentCheckpoint, WitnessConflict)):
        witness.add_checkpoint(filled, wit, forked.replace("old 1020", "old 1025"))


def test_witness_rejects_bad_submissions(
    filled: Session, pair: tuple[services.LogIdentity, witness.WitnessIdentity]
) -> None:
    log, wit = pair
    good = witness.add_checkpoint_body(filled, log, 0)
    stranger = Signer(log.origin, Ed25519PrivateKey.generate())
    cp_text = good.split("\n\n")[1] + "\n"
    cases = [
        (good.replace(log.origin, "other.example/log"), UnknownLog),
        (good.split("\n\n")[0] + "\n\n" + cp_text + "\n" + stranger.sign_line(cp_text),
         SignatureRejected),
        (good.replace("old 0", "old 5000"), BadNoteInput),
        (good.replace("old 0", "old 0\n" + "A" * 43 + "="), InconsistentCheckpoint),
        (good.replace("old 0", "old 01"), BadNoteInput),
        ("nonsense", BadNoteInput),
    ]  # fmt: skip
    for body, error in cases:
        with pytest.raises(error):
            witness.add_checkpoint(filled, wit, body)


def test_witness_http_conflict_answers_text_size(
    client: TestClient, filled: Session, pair: tuple[services.LogIdentity, witness.WitnessIdentity]
) -> None:
    log, _ = pair
    body = witness.add_checkpoint_body(filled, log, 0)
    filled.commit()
    ok = client.post("/witness/add-checkpoint", content=body)
    assert ok.status_code == 200 and ok.text.startswith("— witness.example/w1 ")
    again = client.post("/witness/add-checkpoint", content=body)
    assert again.status_code == 409
    assert again.headers["content-type"].split(";")[0] == "text/x.tlog.size"
    assert again.text == "1020\n"
    assert client.get("/witness/vkey").text.startswith("witness.example/w1+")
