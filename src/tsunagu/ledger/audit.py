"""``tsunagu log audit``: recompute the whole tree from the stored entries and compare.

Finds entries that were changed, removed, inserted or reordered (their leaf hashes no longer
match the tiles), tiles rewritten to match (the roots no longer match the signed checkpoints),
and access records whose text no longer matches the commitment in their entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import tiles
from .formats import TILE_WIDTH, parse_checkpoint_text
from .merkle import leaf_hash, subtree_root
from .models import AccessRecord, LogCheckpoint, LogEntry
from .note import NoteError, Verifier, open_note
from .records import commitment_entry

PAGE = 16_384
MAX_FINDINGS = 100


@dataclass
class AuditReport:
    entries: int = 0
    size: int = 0
    checkpoints: int = 0
    records: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, finding: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)


def audit(
    session: Session,
    verifier: Verifier | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Recompute every tile from the entries and check tree head, checkpoints and records."""
    report = AuditReport()
    report.size, head_root = tiles.tree_head(session)
    level_hashes: list[bytes] = []  # the current level-0 tile being rebuilt
    roots: list[bytes] = []  # roots of full level-0 tiles, the next level's leaves
    expected, tile_index = 0, 0
    nodes = tiles.TileNodes(session)

    def check_tile(level: int, index: int, hashes: list[bytes]) -> bytes | None:
        built, root = tiles.build_nodes(hashes)
        stored = nodes.tile(level, index)
        nodes.tiles.clear()  # stream: keep memory flat at millions of entries
        if stored is None or stored[1] != built:
            first = index * TILE_WIDTH ** (level + 1)
            report.add(f"tile {level}/{index} (entries from {first}) does not match the entries")
        return root

    last = -1
    while True:
        rows = session.execute(
            select(LogEntry.idx, LogEntry.data).where(LogEntry.idx > last)
            .order_by(LogEntry.idx).limit(PAGE)
        ).all()  # fmt: skip
        if not rows:
            break
        for idx, data in rows:
            if idx != expected:
                report.add(f"entries {expected}..{idx - 1} are missing")
                expected = idx
            level_hashes.append(leaf_hash(bytes(data)))
            expected += 1
            report.entries += 1
            if len(level_hashes) == TILE_WIDTH:
                root = check_tile(0, tile_index, level_hashes)
                roots.append(root or b"")
                level_hashes, tile_index = [], tile_index + 1
        last = rows[-1][0]
        if progress:
            progress(report.entries)
    if level_hashes:
        check_tile(0, tile_index, level_hashes)
    if expected != report.size or report.entries != report.size:
        report.add(f"the tree head says {report.size} entries, the table holds {report.entries}")
    level = 1
    while len(roots) >= 1 and report.size >= TILE_WIDTH**level:
        up = []
        for i in range(0, len(roots), TILE_WIDTH):
            root = check_tile(level, i // TILE_WIDTH, roots[i : i + TILE_WIDTH])
            if root is not None:
                up.append(root)
        roots, level = up, level + 1
    if report.ok:
        _check_roots(session, report, head_root, verifier)
    _check_records(session, report)
    return report


def _check_roots(
    session: Session, report: AuditReport, head_root: bytes, verifier: Verifier | None
) -> None:
    nodes = tiles.TileNodes(session)
    if subtree_root(nodes, 0, report.size) != head_root:
        report.add("the stored tree head's root does not match the tiles")
    for cp in session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size)):
        report.checkpoints += 1
        if cp.size > report.size or subtree_root(nodes, 0, cp.size) != cp.root:
            report.add(f"checkpoint at size {cp.size} does not match the recomputed tree")
        elif verifier is not None:
            try:
                open_note(cp.note, [verifier])
            except NoteError as exc:
                report.add(f"checkpoint at size {cp.size}: {exc}")
            signed = parse_checkpoint_text(cp.note[: cp.note.rfind("\n\n") + 1])
            if (signed.size, signed.root) != (cp.size, cp.root):
                report.add(f"checkpoint at size {cp.size}: signed head differs from stored head")


def _check_records(session: Session, report: AuditReport) -> None:
    query = (
        select(AccessRecord.idx, AccessRecord.salt, AccessRecord.record, LogEntry.data)
        .join(LogEntry, LogEntry.idx == AccessRecord.idx, isouter=True)
        .order_by(AccessRecord.idx)
    )
    for idx, salt, record, data in session.execute(query):
        report.records += 1
        if data is None or commitment_entry(bytes(salt), record) != bytes(data):
            report.add(f"access record {idx} does not match the commitment in its log entry")
