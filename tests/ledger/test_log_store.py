"""The stored log: batched appends, roots, proofs from tiles, tiles and bundles, records."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.ledger.conftest import record
from tsunagu.kernel import ValidationProblem
from tsunagu.ledger import services
from tsunagu.ledger.errors import BadProofRequest, TileNotFound
from tsunagu.ledger.formats import TileRef
from tsunagu.ledger.merkle import leaf_hash, root_from_leaves, verify_consistency, verify_inclusion
from tsunagu.ledger.records import commitment_entry
from tsunagu.ledger.tiles import tree_head


def _entries(n: int, start: int = 0) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(start, start + n)]


def test_batches_of_any_size_give_the_rfc_9162_root(session: Session) -> None:
    data: list[bytes] = []
    for batch in (1, 2, 253, 1, 1, 300, 65_536 - 558, 1, 700):
        first = services.append_entries(session, _entries(batch, len(data)))
        assert first == len(data)
        data += _entries(batch, len(data))
    size, root = tree_head(session)
    assert size == len(data) == 66_237
    assert root == root_from_leaves([leaf_hash(d) for d in data])
    leaves = [leaf_hash(d) for d in data]
    for at in (1, 255, 256, 257, 65_536, 65_537, size):
        assert services.root_at(session, at) == root_from_leaves(leaves[:at])


def test_proofs_from_the_tiles_verify(session: Session) -> None:
    data = _entries(70_000)
    services.append_entries(session, data[:12_345])
    services.append_entries(session, data[12_345:])
    for index, size in [(0, 1), (0, 70_000), (65_535, 65_537), (69_999, 70_000), (12_344, 40_000)]:
        p = services.inclusion(session, index, size)
        assert p["leaf_hash"] == leaf_hash(data[index])
        verify_inclusion(index, size, p["leaf_hash"], p["proof"], p["root_hash"])
    for size1, size2 in [(1, 2), (256, 70_000), (12_345, 65_536), (70_000, 70_000), (3, 69_999)]:
        c = services.consistency(session, size1, size2)
        verify_consistency(size1, size2, c["proof"], c["root1"], c["root2"])


def test_impossible_proofs_are_refused(filled: Session) -> None:
    size = services.tree_size(filled)
    for index, at in [(size, size), (0, size + 1), (-1, 5), (5, 5)]:
        with pytest.raises(BadProofRequest):
            services.inclusion(filled, index, at)
    for size1, size2 in [(0, 5), (6, 5), (1, size + 1)]:
        with pytest.raises(BadProofRequest):
            services.consistency(filled, size1, size2)


def test_tiles_and_entry_bundles_follow_the_tree(filled: Session) -> None:
    size = services.tree_size(filled)  # 1020 = 3 full level-0 tiles + 252
    assert size == 1020
    full = services.tile(filled, TileRef(0, 0, 256))
    assert len(full) == 256 * 32 and full[:32] == leaf_hash(b"entry 0")
    partial = services.tile(filled, TileRef(0, 3, 252))
    assert len(partial) == 252 * 32
    assert services.tile(filled, TileRef(0, 3, 10)) == partial[:320]
    level1 = services.tile(filled, TileRef(1, 0, 3))
    assert len(level1) == 96
    bundle = services.tile(filled, TileRef(None, 0, 256))
    assert bundle[:9] == b"\x00\x07entry 0"
    for beyond in [TileRef(0, 3, 253), TileRef(0, 4, 1), TileRef(0, 3, 256), TileRef(1, 0, 4),
                   TileRef(1, 0, 256), TileRef(2, 0, 1), TileRef(None, 3, 253),
                   TileRef(0, 10**18, 1)]:  # fmt: skip
        with pytest.raises(TileNotFound):
            services.tile(filled, beyond)


def test_access_records_are_committed_not_published(filled: Session) -> None:
    index = services.append_access_record(filled, record(99, pseudonym="psn-secret"))
    data = services.entry(filled, index)
    assert data.startswith(b"tsunagu/access-record/v1 ") and b"psn-secret" not in data
    (row,) = services.records_for_person(filled, "JP/MUN/6000020302015", "psn-secret")
    assert row["record"]["pseudonym"] == "psn-secret"
    import json

    body = json.dumps(row["record"], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert commitment_entry(bytes.fromhex(row["salt"]), body) == data


def test_hidden_records_show_only_after_their_date(session: Session) -> None:
    from datetime import UTC, datetime

    day = datetime(2030, 1, 1, tzinfo=UTC)
    services.append_access_record(session, record(1, pseudonym="psn-x", hidden_until=day))
    before, on = day.replace(tzinfo=None, year=2029), day.replace(tzinfo=None)
    person = ("JP/MUN/6000020302015", "psn-x")
    assert services.records_for_person(session, *person, now=before) == []
    assert len(services.records_for_person(session, *person, now=on)) == 1


@pytest.mark.parametrize("pseudonym", ["123456789018", "psn 1234-5678-9018", "x123456789018y"])
def test_individual_numbers_never_enter_the_log(session: Session, pseudonym: str) -> None:
    with pytest.raises(ValidationProblem, match="individual number"):
        services.append_access_record(session, record(1, pseudonym=pseudonym))
    with pytest.raises(ValidationProblem):
        services.append_access_record(session, record(1, case_id=pseudonym))


def test_a_twelve_digit_number_without_a_valid_check_digit_is_fine(session: Session) -> None:
    assert services.append_access_record(session, record(1, case_id="123456789012")) == 0


def test_organizations_need_a_member_id_with_a_valid_corporate_number() -> None:
    from pydantic import ValidationError

    from tsunagu.ledger.records import Organization

    with pytest.raises(ValidationError):
        Organization(id="JP/MUN/6000020302016", name="和歌山市")
    with pytest.raises(ValidationError):
        Organization(id="6000020302015", name="和歌山市")


def test_oversized_entries_are_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="at most"):
        services.append_entries(session, [b"x" * 70_000])
