"""The Merkle tree stored as C2SP tlog tiles (256 hashes wide), appended to in batches.

A batch inserts its entries, hashes their leaves (RFC 9162 §2.1.1), fills the rightmost tile of
each level and moves every completed tile's root one level up, so an append costs about two
hashes per entry and rewrites only the partial tiles. Every complete subtree of the tree is then
one slice of one stored row, which keeps proofs at O(log n) row reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from tsunagu.db import is_postgres

from .formats import TILE_WIDTH
from .merkle import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash, subtree_root
from .models import LogEntry, LogTile, LogTree

TREE_ID = 1
TILE_HEIGHT = 8
MAX_ENTRY_BYTES = 0xFFFF  # entry bundles length-prefix each entry with a uint16


def build_nodes(hashes: Sequence[bytes]) -> tuple[bytes, bytes | None]:
    """A tile's stored ``nodes`` for in-tile heights 0..7, and its root when the tile is full."""
    levels = [list(hashes)]
    for _ in range(TILE_HEIGHT):
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    root = levels[TILE_HEIGHT][0] if len(hashes) == TILE_WIDTH else None
    return b"".join(b"".join(level) for level in levels[:TILE_HEIGHT]), root


def _offset(width: int, height: int, slot: int) -> int:
    return (sum(width >> h for h in range(height)) + slot) * HASH_SIZE


class TileNodes:
    """Complete-subtree hashes read from the stored tiles (a :data:`merkle.NodeSource`)."""

    def __init__(
        self, session: Session, overlay: dict[tuple[int, int], tuple[int, bytes]] | None = None
    ):
        self.session = session
        self.tiles: dict[tuple[int, int], tuple[int, bytes]] = dict(overlay or {})

    def tile(self, level: int, index: int) -> tuple[int, bytes] | None:
        key = (level, index)
        if key not in self.tiles:
            self.prefetch([key])
        return self.tiles.get(key)

    def prefetch(self, keys: Sequence[tuple[int, int]]) -> None:
        """Read these tiles in one statement (those not cached yet)."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self.tiles]
        if not wanted:
            return
        # A DB-API cursor on the session's own connection: a proof reads several tile rows,
        # and SQLAlchemy's per-statement overhead was most of a proof's time.
        connection = self.session.connection()
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        where = " OR ".join([f"(level = {mark} AND tile_index = {mark})"] * len(wanted))
        cursor = connection.connection.cursor()
        try:
            cursor.execute(
                f"SELECT level, tile_index, width, nodes FROM ledger_tile WHERE {where}",  # noqa: S608
                [v for key in wanted for v in key],
            )
            for level, index, width, nodes in cursor.fetchall():
                self.tiles[(int(level), int(index))] = (int(width), bytes(nodes))
        finally:
            cursor.close()

    def __call__(self, height: int, index: int) -> bytes:
        level, inner = divmod(height, TILE_HEIGHT)
        shift = TILE_HEIGHT - inner
        found = self.tile(level, index >> shift)
        slot = index & ((1 << shift) - 1)
        if found is None or slot >= found[0] >> inner:
            raise LookupError(f"no stored hash for subtree ({height}, {index})")
        width, nodes = found
        start = _offset(width, inner, slot)
        return nodes[start : start + HASH_SIZE]


def proof_tiles(size: int, *indexes: int) -> list[tuple[int, int]]:
    """The tiles a root at ``size`` and paths of ``indexes`` need (for one prefetch)."""
    keys = []
    level = 0
    while size > TILE_WIDTH**level or level == 0:
        shift = TILE_HEIGHT * (level + 1)
        keys += [(level, (size - 1) >> shift), (level, size >> shift)]
        keys += [(level, i >> shift) for i in indexes]
        level += 1
    return keys


def tree_head(session: Session, *, lock: bool = False) -> tuple[int, bytes]:
    """The current (size, root); ``lock`` takes the sequencing lock on PostgreSQL."""
    connection = session.connection()
    update_lock = " FOR UPDATE" if lock and is_postgres(connection.engine) else ""
    cursor = connection.connection.cursor()  # DB-API: this runs before every proof
    try:
        cursor.execute(f"SELECT size, root FROM ledger_tree WHERE id = {TREE_ID}{update_lock}")  # noqa: S608
        row = cursor.fetchone()
    finally:
        cursor.close()
    if row is None:
        return 0, EMPTY_ROOT
    return int(row[0]), bytes(row[1])


def append_batch(
    session: Session, entries: Sequence[bytes], now: datetime
) -> tuple[int, int, bytes]:
    """Sequence ``entries`` at the end of the log; returns (first index, new size, new root).

    Runs in the caller's transaction; the entries are durable (and may be acknowledged) only
    when the caller commits.
    """
    if not entries:
        size, root = tree_head(session)
        return size, size, root
    for data in entries:
        if len(data) > MAX_ENTRY_BYTES:
            raise ValueError(f"a log entry is at most {MAX_ENTRY_BYTES} bytes")
    size, _ = tree_head(session, lock=True)
    first = size
    session.execute(
        insert(LogEntry), [{"idx": first + i, "data": data} for i, data in enumerate(entries)]
    )
    new_size = first + len(entries)
    overlay: dict[tuple[int, int], tuple[int, bytes]] = {}
    level, new = 0, [leaf_hash(data) for data in entries]
    reader = TileNodes(session)
    while new:
        before = size // TILE_WIDTH**level  # hashes this level held before the batch
        index, kept = divmod(before, TILE_WIDTH)
        hashes: list[bytes] = []
        if kept:
            stored = reader.tile(level, index)
            if stored is None:
                raise RuntimeError(f"the partial tile {level}/{index} is missing")
            raw = stored[1][: kept * HASH_SIZE]
            hashes = [raw[i : i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)]
            session.execute(
                delete(LogTile).where(LogTile.level == level, LogTile.tile_index == index)
            )
        hashes += new
        rows, up = [], []
        for offset in range(0, len(hashes), TILE_WIDTH):
            chunk = hashes[offset : offset + TILE_WIDTH]
            nodes, tile_root = build_nodes(chunk)
            tile_index = index + offset // TILE_WIDTH
            rows.append({"level": level, "tile_index": tile_index, "width": len(chunk),
                         "nodes": nodes})  # fmt: skip
            overlay[(level, tile_index)] = (len(chunk), nodes)
            if tile_root is not None:
                up.append(tile_root)
        session.execute(insert(LogTile), rows)
        level, new = level + 1, up
    root = subtree_root(TileNodes(session, overlay), 0, new_size)
    _store_head(session, new_size, root, now)
    return first, new_size, root


def _store_head(session: Session, size: int, root: bytes, now: datetime) -> None:
    values = {"size": size, "root": root, "updated_at": now}
    done = session.execute(update(LogTree).where(LogTree.id == TREE_ID).values(**values))
    if not done.rowcount:  # type: ignore[attr-defined]
        session.execute(insert(LogTree).values(id=TREE_ID, **values))


def tile_bytes(session: Session, level: int, index: int, width: int) -> bytes | None:
    """The first ``width`` hashes of a stored tile, or None if the tree does not have them yet."""
    found = TileNodes(session).tile(level, index)
    if found is None or found[0] < width:
        return None
    return found[1][: width * HASH_SIZE]


def entry_bundle(session: Session, index: int, width: int) -> bytes | None:
    """Entries [index·256, index·256+width) as uint16 length-prefixed bytes, if all exist."""
    start = index * TILE_WIDTH
    rows = session.execute(
        select(LogEntry.data)
        .where(LogEntry.idx >= start, LogEntry.idx < start + width)
        .order_by(LogEntry.idx)
    ).all()
    if len(rows) != width:
        return None
    return b"".join(len(r[0]).to_bytes(2, "big") + bytes(r[0]) for r in rows)
