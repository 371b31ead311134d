"""The message log's evidence: time-stamped batches, the export, and its offline verifier.

Sealing: every ``TSUNAGU_MESH_LOG_BATCH_SECONDS`` the worker takes the finished records not yet
in a batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two processes of one node never seal
the same record), makes one leaf per record — the canonical JSON of its evidential fields
(:data:`LEAF_FIELDS`, which include the request and response signatures and the digests they
sign) — and gets one RFC 3161 token from the hub's TSA over the batch's Merkle root
(trust.batch, RFC 9162 tree). Each record keeps its batch id, leaf index and inclusion proof.

Export (``GET /api/v1/mesh/messages/export``, JSON Lines): a header with the certificates a
verifier needs (this node's, and every node certificate of every trust list the node has
accepted — kept by :class:`CertificateArchive`, so that a record still verifies after its signer
was revoked or renewed —, the platform CA's issuing certificates and root, the TSA's), then the
batches with their tokens, then the records.

Verification (``tsunagu node verify-log``, :func:`verify_export`), offline against a pinned root:
each batch token is a valid time-stamp over its root by a TSA chaining to the root; each record's
leaf, recomputed from the exported fields, is in its batch's root; each stored signature verifies
over its stored digest with the signer's certificate (found by the JWS ``kid``), which chains to
the root, was valid when the record was written, and belongs to the member that should have
signed (the request: the client's; the response: the service provider's).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy import Connection, Table, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tsunagu.db.driver import DriverStatement
from tsunagu.kernel import naive_utcnow
from tsunagu.trust import Batch, HttpTimestamper, Timestamper, TokenVerifier, timestamp_batch
from tsunagu.trust.batch import root_from_path
from tsunagu.trust.ca import check_chain, fingerprint, member_id_of
from tsunagu.trust.errors import TrustError
from tsunagu.trust.jws import read_protected_header, verify_digest
from tsunagu.trust.trustlist import TrustList

from .errors import MeshFault
from .models import KnownCertificate, MessageRecord, TimestampBatch
from .runtime import NodeRuntime
from .services import ACCESS_VERSION

log = logging.getLogger(__name__)


_TABLE = cast(Table, MessageRecord.__table__)
# Built once: constructing a statement costs more CPU than SQLite takes to run it (the per-request
# path of both nodes). An ORM add + flush of the same row costs about five times this.
# An insert names every column but the key and the batch's (JSON: omitted, they stay NULL).
_INSERT_KEYS = [c.key for c in _TABLE.c if c.key != "id" and not c.key.startswith("batch_")]
_INSERT = DriverStatement(_TABLE, insert(_TABLE).returning(_TABLE.c.id), _INSERT_KEYS)
_INSERT_VERSIONED = DriverStatement(
    _TABLE, insert(_TABLE).returning(_TABLE.c.id, ACCESS_VERSION), _INSERT_KEYS
)
_SET_BASIS = DriverStatement(_TABLE, update(_TABLE).where(_TABLE.c.id == bindparam("record_id")))
# "Not sealed yet" as batch_index IS NULL (sealing sets batch_id and batch_index together):
# with batch_id, PostgreSQL's generic plan for this prepared statement, made while the table
# had no statistics, walked ix_mesh_message_batch over every unsealed row (about 2,000 rows
# per message under load) instead of taking the primary key. batch_index has no index.
_FINISH = DriverStatement(
    _TABLE,
    update(_TABLE).where(_TABLE.c.id == bindparam("record_id"), _TABLE.c.batch_index.is_(None)),
)


# The same insert without RETURNING, for the writer's executemany (GroupWriter.run_row).
_INSERT_ROW = DriverStatement(_TABLE, insert(_TABLE), _INSERT_KEYS)
# A plain row write for GroupWriter.run_row: statement, values, and the same write alone.
RowWrite = tuple[DriverStatement, dict[str, Any], Callable[[Connection], Any]]


def record_write(**values: Any) -> RowWrite:
    """:func:`insert_record` as a plain row write (its id is not returned): sent with the other
    rows of its batch; a replay still fails as ``MeshFault`` (the row is then written alone)."""
    values.setdefault("created_at", naive_utcnow())
    return _INSERT_ROW, values, lambda connection: insert_record(connection, **values)


def finish_write(record_id: int, **values: Any) -> RowWrite:
    """:func:`finish_record` as a plain row write."""
    return (
        _FINISH,
        {"record_id": record_id, **values},
        lambda connection: finish_record(connection, record_id, **values),
    )


def insert_versioned(connection: Connection, **values: Any) -> tuple[int, int | None]:
    """:func:`insert_record`, and the access version this statement saw (the provider's check
    that the access decision it used is still current: mesh.services.AccessCache)."""
    record_id, version = _inserted(_INSERT_VERSIONED, connection, values)
    return int(record_id), version


def set_legal_basis(connection: Connection, record_id: int, legal_basis: str) -> None:
    """Correct the legal basis of a row written under an access decision found out of date."""
    _SET_BASIS.execute(connection, {"record_id": record_id, "legal_basis": legal_basis}).close()


def insert_record(connection: Connection, **values: Any) -> int:
    """Insert a message-log row (on the driver's cursor, tsunagu.db.driver) and return its id.

    A (side, client, message_id) seen before is a replay (``MeshFault``). No savepoint: a
    replay ends the caller's transaction (it is rolled back and the refusal logged on its own),
    and a savepoint would cost two more round trips on every message.
    """
    return int(_inserted(_INSERT, connection, values)[0])


def _inserted(
    statement: DriverStatement, connection: Connection, values: dict[str, Any]
) -> tuple[Any, ...]:
    """The RETURNING row of ``statement`` run with ``values``; a unique-key clash is a replay."""
    values.setdefault("created_at", naive_utcnow())
    try:
        cursor = statement.execute(connection, values)
    except IntegrityError:
        raise MeshFault(
            "Client.DuplicateMessage",
            f"message {values.get('message_id')} was already received (replay)",
            409,
        ) from None
    try:
        return tuple(cursor.fetchone())
    finally:
        cursor.close()


def finish_record(connection: Connection, record_id: int, **values: Any) -> None:
    """Complete a row with its response, unless it is already sealed in a batch."""
    _FINISH.execute(connection, {"record_id": record_id, **values}).close()


FORMAT = "tsunagu-message-log"
VERSION = 1
LEAF_PREFIX = b"tsunagu-message-log-leaf-1\n"
BATCH_LIMIT = 5000
# The fields a leaf covers, under their export names. duration_ms is left out (a measurement,
# exported rounded); everything that says who asked what, why, and what was signed is in.
LEAF_FIELDS = (
    "id",
    "side",
    "message_id",
    "x_road_id",
    "client",
    "service",
    "method",
    "purpose",
    "legal_basis",
    "issue",
    "user_id",
    "request_hash",
    "request_digest",
    "request_signature",
    "response_hash",
    "response_digest",
    "response_signature",
    "status",
    "error_type",
    "created_at",
)


def leaf_fields(r: Any) -> dict[str, Any]:
    """The evidential fields of a record (a MessageRecord or a row with its columns), as
    exported."""
    return {
        "id": r.id,
        "side": r.side,
        "message_id": r.message_id,
        "x_road_id": r.xroad_id,
        "client": r.client,
        "service": r.service,
        "method": r.method,
        "purpose": r.purpose,
        "legal_basis": r.legal_basis,
        "issue": r.issue,
        "user_id": r.user_id,
        "request_hash": r.request_hash,
        "request_digest": r.request_digest,
        "request_signature": r.request_signature,
        "response_hash": r.response_hash,
        "response_digest": r.response_digest,
        "response_signature": r.response_signature,
        "status": r.status,
        "error_type": r.error_type,
        "created_at": r.created_at.isoformat(),
    }


def leaf(fields: Mapping[str, Any]) -> bytes:
    """The Merkle leaf of a record: a prefix and the canonical JSON of :data:`LEAF_FIELDS`."""
    picked = {name: fields.get(name) for name in LEAF_FIELDS}
    text = json.dumps(picked, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return LEAF_PREFIX + text.encode("utf-8")


# -- sealing (the worker) -------------------------------------------------------------------------

_last_round: dict[int, float] = {}


def seal_due(rt: NodeRuntime) -> int:
    """Seal a batch if ``mesh_log_batch_seconds`` have passed; the number of records sealed.

    A round that sealed a full batch runs again at once (a backlog drains without waiting).
    """
    now = time.monotonic()
    if now - _last_round.get(id(rt), 0.0) < rt.settings.mesh_log_batch_seconds:
        return 0
    _last_round[id(rt)] = now
    try:
        sealed = seal(rt)
    except (TrustError, MeshFault) as exc:  # TSA or trust list unavailable: next round
        detail = exc.detail if isinstance(exc, TrustError) else exc.message
        log.warning("message log: no batch time-stamp this round: %s", detail)
        return 0
    if sealed >= BATCH_LIMIT:
        _last_round[id(rt)] = 0.0
    return sealed


def timestamper_of(rt: NodeRuntime) -> HttpTimestamper:
    """The hub's TSA (trust list ``tsa.url``), its tokens checked against the node's anchor."""
    document = rt.trust().document
    issuing = tuple(_load_b64der(c) for c in document.get("ca", {}).get("issuing", []))
    url = str(document.get("tsa", {}).get("url") or rt.settings.node_hub_url.rstrip("/") + "/tsa")
    verifier = TokenVerifier([rt.identity.anchor], issuing)
    return HttpTimestamper(url, verifier, timeout=rt.settings.mesh_timeout)


# The columns a leaf covers (Core rows, not ORM objects: sealing loads every record of the log
# once or twice, and building ORM objects cost more than the rest of sealing together).
_LEAF_COLUMNS = [_TABLE.c["xroad_id" if name == "x_road_id" else name] for name in LEAF_FIELDS] + [
    _TABLE.c.batch_id
]
_SEAL = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"))
    .values(
        batch_id=bindparam("b_batch"),
        batch_index=bindparam("b_index"),
        batch_path=bindparam("b_path", type_=_TABLE.c.batch_path.type),
    )
)


def _pending(settings: Any, limit: int) -> Any:
    open_before = naive_utcnow() - timedelta(seconds=2 * settings.mesh_timeout)
    return (
        select(*_LEAF_COLUMNS)
        .where(
            _TABLE.c.batch_id.is_(None),
            or_(_TABLE.c.status != 0, _TABLE.c.created_at < open_before),
        )
        .order_by(_TABLE.c.id)
        .limit(limit)
    )


def has_unsealed(sessions: Callable[[], Session], settings: Any) -> bool:
    """Whether a sealing round would find a finished record to seal."""
    with sessions() as session:
        return session.connection().execute(_pending(settings, 1)).first() is not None


def seal(rt: NodeRuntime, limit: int = BATCH_LIMIT) -> int:
    """Time-stamp this node's finished records not yet in a batch (the hub's TSA, over HTTP)."""
    return seal_records(rt.session, rt.settings, timestamper_of(rt), limit)


def seal_records(
    sessions: Callable[[], Session],
    settings: Any,
    timestamper: Timestamper,
    limit: int = BATCH_LIMIT,
) -> int:
    """Time-stamp the finished records not yet in a batch; the number sealed.

    A record is finished once it has a status (the provider fills it in after the backend
    answered); one still without a status after twice the mesh timeout is sealed as it is (its
    process died, or it is a call that never gets one). Sealed records are not changed again.
    Nodes seal with the hub's TSA over HTTP, the hub with its own TSA in-process.
    """
    with sessions() as session:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            # One transaction: the rows stay locked while the TSA answers; another process of
            # this node skips them and seals the next ones.
            rows = connection.execute(
                _pending(settings, limit).with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            batch = timestamp_batch(_leaves(rows), timestamper)
            return _store(session, [r.id for r in rows], batch)
        rows = connection.execute(_pending(settings, limit)).all()
        ids, leaves = [r.id for r in rows], _leaves(rows)
    if not rows:
        return 0
    # SQLite (one process per node): no transaction is held open across the TSA call; the
    # second one writes first (taking the write lock, waiting if need be, never failing a lock
    # upgrade), then checks that no record changed meanwhile.
    batch = timestamp_batch(leaves, timestamper)
    with sessions() as session:
        stored = TimestampBatch(root=batch.root.hex(), size=len(ids), token=batch.token)
        session.add(stored)
        session.flush()
        query = select(*_LEAF_COLUMNS).where(_TABLE.c.id.in_(ids))
        by_id = {r.id: tuple(r) for r in session.connection().execute(query)}
        # The same columns as read before (batch_id still NULL): the leaves are unchanged.
        if [by_id.get(i) for i in ids] != [tuple(r) for r in rows]:
            session.rollback()  # changed or sealed meanwhile: sealed in the next round
            return 0
        return _store(session, ids, batch, stored)


def _leaves(rows: Iterable[Any]) -> list[bytes]:
    """The leaves of records (ORM objects or rows with the leaf columns)."""
    return [leaf(leaf_fields(r)) for r in rows]


def _store(
    session: Session, ids: list[int], batch: Batch, stored: TimestampBatch | None = None
) -> int:
    if stored is None:
        stored = TimestampBatch(root=batch.root.hex(), size=len(ids), token=batch.token)
        session.add(stored)
        session.flush()
    session.connection().execute(
        _SEAL,
        [
            {
                "b_id": record_id,
                "b_batch": stored.id,
                "b_index": proof.index,
                "b_path": [base64.b64encode(p).decode("ascii") for p in proof.path],
            }
            for record_id, proof in zip(ids, batch.proofs, strict=True)
        ],
    )
    session.commit()
    log.info("message log: batch %s seals %d records", stored.id, len(ids))
    return len(ids)


# -- export ---------------------------------------------------------------------------------------


def b64der(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def _load_b64der(value: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(value, validate=True))


class CertificateArchive:
    """Keeps every node and issuing certificate of the trust lists a node accepts.

    A trust list names only today's nodes; a record signed by a node whose certificate was
    since revoked or renewed would not verify from an export built from it alone. So each
    accepted list's certificates are stored (``mesh_known_certificate``) the first time they
    are seen, and the export carries them all. ``remember`` is the trust-list cache's
    ``on_accept``: after a certificate is stored once, a refresh costs a set lookup per
    certificate, not a query.
    """

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self._sessions = sessions
        self._stored: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, trust: TrustList) -> int:
        """Store the certificates of ``trust`` not stored yet; the number stored."""
        wanted = certificates_of(trust.document)
        with self._lock:
            new = {f: c for f, c in wanted.items() if f not in self._stored}
            if not new:
                return 0
            with self._sessions() as session:
                have = set(
                    session.scalars(
                        select(KnownCertificate.fingerprint).where(
                            KnownCertificate.fingerprint.in_(list(new))
                        )
                    )
                )
                added = [
                    KnownCertificate(fingerprint=f, role=role, member_id=member, der=der)
                    for f, (role, member, der) in new.items()
                    if f not in have
                ]
                session.add_all(added)
                try:
                    session.commit()
                except IntegrityError:  # another process of this node stored one: next refresh
                    session.rollback()
                    return 0
            self._stored.update(new)
            return len(added)


def certificates_of(document: Mapping[str, Any]) -> dict[str, tuple[str, str | None, bytes]]:
    """The node and issuing certificates of a trust-list document by fingerprint: (role,
    member id, DER)."""
    found: dict[str, tuple[str, str | None, bytes]] = {}
    for member in document.get("members", []):
        for node in member.get("nodes", []):
            if node.get("certificate"):
                der = base64.b64decode(str(node["certificate"]))
                found[hashlib.sha256(der).hexdigest()] = ("node", str(node.get("id") or ""), der)
    for value in document.get("ca", {}).get("issuing", []):
        der = base64.b64decode(str(value))
        found[hashlib.sha256(der).hexdigest()] = ("issuing", None, der)
    return found


def export_header(rt: NodeRuntime, session: Session) -> dict[str, Any]:
    """The certificates a verifier needs: this node's, the current trust list's and every one
    kept from earlier lists (:class:`CertificateArchive`)."""
    own = rt.identity.certificate
    nodes = [b64der(own)]
    ca: dict[str, Any] = {"root": b64der(rt.identity.anchor), "issuing": []}
    tsa = ""
    try:
        document = rt.trust_cache.current().document
    except TrustError:
        document = {}
    if document:
        ca = {"root": document["ca"]["root"], "issuing": list(document["ca"]["issuing"])}
        tsa = str(document.get("tsa", {}).get("certificate", ""))
    for member in document.get("members", []):
        for node in member.get("nodes", []):
            if node.get("certificate") and node["certificate"] not in nodes:
                nodes.append(str(node["certificate"]))
    kept = session.execute(
        select(KnownCertificate.role, KnownCertificate.der).order_by(
            KnownCertificate.first_seen_at, KnownCertificate.fingerprint
        )
    )
    for role, der in kept:
        value = base64.b64encode(der).decode("ascii")
        into = nodes if role == "node" else ca["issuing"]
        if value not in into:
            into.append(value)
    return header(rt.member_base, own, nodes, ca, tsa)


def header(
    member: str, own: x509.Certificate, nodes: list[str], ca: dict[str, Any], tsa: str
) -> dict[str, Any]:
    """An export's header line: who exported it, and the certificates (base64 DER) a verifier
    needs — signers (``nodes``), the CA's ``root`` and ``issuing``, the ``tsa``."""
    return {
        "kind": "header",
        "format": FORMAT,
        "version": VERSION,
        "member": member,
        "certificate": own.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        "exported_at": naive_utcnow().isoformat(),
        "certificates": {"nodes": nodes, "ca": ca, "tsa": tsa},
        "leaf_fields": list(LEAF_FIELDS),
    }


def export_lines(
    rt: NodeRuntime, session: Session, view: Any
) -> Iterator[str]:  # view: api.message_view
    """The export, line by line: header, batches, records."""
    return export_with(export_header(rt, session), session, view)


def export_with(header: dict[str, Any], session: Session, view: Any) -> Iterator[str]:
    """An export of the log in ``session`` under ``header`` (a node's or the hub's)."""
    yield json.dumps(header, ensure_ascii=False)
    for b in session.scalars(select(TimestampBatch).order_by(TimestampBatch.id)):
        yield json.dumps(
            {
                "kind": "batch",
                "id": b.id,
                "root": b.root,
                "size": b.size,
                "token": base64.b64encode(b.token).decode("ascii"),
                "created_at": b.created_at.isoformat(),
            }
        )
    for r in session.scalars(select(MessageRecord).order_by(MessageRecord.id)):
        line = {"kind": "record", **view(r), **leaf_fields(r)}
        line["batch"] = (
            {"id": r.batch_id, "index": r.batch_index, "path": r.batch_path or []}
            if r.batch_id is not None
            else None
        )
        yield json.dumps(line, ensure_ascii=False)


# -- verification (offline) -----------------------------------------------------------------------


class ExportUnreadable(ValueError):
    """The file is not a message-log export (the CLI prints one ``error:`` line)."""


@dataclass
class Report:
    records: int = 0
    sealed: int = 0
    batches: int = 0
    signatures: int = 0
    unsealed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class _Batch:
    root: bytes
    size: int
    valid: bool


def parse_export(lines: Iterable[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the other lines; ExportUnreadable if it is not an export."""
    items: list[dict[str, Any]] = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except ValueError:
            raise ExportUnreadable(f"line {number} is not JSON") from None
        if not isinstance(item, dict):
            raise ExportUnreadable(f"line {number} is not a JSON object")
        items.append(item)
    if not items or items[0].get("format") != FORMAT:
        raise ExportUnreadable("not a tsunagu message-log export (no header line)")
    header = items[0]
    if header.get("version") != VERSION:
        raise ExportUnreadable(f"unknown export version {header.get('version')!r}")
    certs = header.get("certificates")
    if not isinstance(certs, dict) or not isinstance(certs.get("ca"), dict):
        raise ExportUnreadable("the header carries no certificates")
    return header, items[1:]


def _certificates(
    header: dict[str, Any],
) -> tuple[x509.Certificate, list[x509.Certificate], dict[str, x509.Certificate], Any]:
    certs = header["certificates"]
    try:
        root = _load_b64der(str(certs["ca"]["root"]))
        issuing = [_load_b64der(str(c)) for c in certs["ca"].get("issuing", [])]
        nodes = {}
        for value in certs.get("nodes", []):
            cert = _load_b64der(str(value))
            nodes[fingerprint(cert)] = cert
        tsa = _load_b64der(str(certs["tsa"])) if certs.get("tsa") else None
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise ExportUnreadable("a certificate in the header is not base64 DER") from None
    return root, issuing, nodes, tsa


def verify_export(lines: Iterable[str], anchor: x509.Certificate | None = None) -> Report:
    """Check an export offline against ``anchor`` (default: the root it carries)."""
    header, items = parse_export(lines)
    root, issuing, nodes, tsa = _certificates(header)
    anchor = anchor or root
    report = Report()
    # A token normally carries its TSA's certificate (nodes ask for it), checked by the
    # verifier against the anchor; so batches sealed under an earlier TSA certificate of the
    # platform verify after a rollover, though the header names today's. The header's
    # certificate is for a token that carries none (pinned, it would refuse every other one).
    verifiers = [TokenVerifier([anchor], tuple(issuing))]
    if tsa is not None:
        verifiers.append(TokenVerifier([anchor], tuple(issuing), tsa))
    batches: dict[int, _Batch] = {}
    for item in items:
        if item.get("kind") != "batch":
            continue
        report.batches += 1
        name = f"batch {item.get('id')}"
        try:
            batch_root = bytes.fromhex(str(item["root"]))
            token = base64.b64decode(str(item["token"]), validate=True)
            size = int(item["size"])
        except (KeyError, ValueError, TypeError, binascii.Error):
            report.failures.append(f"{name}: malformed (root, size or token)")
            batches[int(item.get("id") or 0)] = _Batch(b"", 0, False)
            continue
        errors = []
        for verifier in verifiers:
            try:
                verifier.verify(token, batch_root)
                break
            except TrustError as exc:
                errors.append(exc.detail)
        valid = len(errors) < len(verifiers)
        if not valid:
            report.failures.append(f"{name}: {errors[0]}")
        batches[int(item["id"])] = _Batch(batch_root, size, valid)
    for item in items:
        if item.get("kind") == "record":
            report.records += 1
            _check_record(item, batches, nodes, issuing, anchor, report)
    return report


def _name(item: Mapping[str, Any]) -> str:
    return f"record {item.get('id')} ({item.get('side')} {item.get('message_id')})"


def _check_record(
    item: dict[str, Any],
    batches: dict[int, _Batch],
    nodes: dict[str, x509.Certificate],
    issuing: list[x509.Certificate],
    anchor: x509.Certificate,
    report: Report,
) -> None:
    name = _name(item)
    placed = item.get("batch")
    if not placed:
        report.unsealed.append(name)
    else:
        batch_id = placed.get("id") if isinstance(placed, dict) else None
        batch = batches.get(batch_id) if isinstance(batch_id, int) else None
        if batch is None:
            report.failures.append(f"{name}: its batch {placed!r} is not in the export")
        else:
            try:
                path = [base64.b64decode(p, validate=True) for p in placed.get("path", [])]
                implied = root_from_path(int(placed["index"]), batch.size, leaf(item), path)
            except (KeyError, ValueError, TypeError, binascii.Error, TrustError) as exc:
                detail = exc.detail if isinstance(exc, TrustError) else "malformed proof"
                report.failures.append(f"{name}: inclusion proof: {detail}")
            else:
                if implied != batch.root:
                    report.failures.append(
                        f"{name}: not in batch {placed['id']} (the record or its proof was "
                        "changed: the leaf does not lead to the time-stamped root)"
                    )
                elif not batch.valid:
                    report.failures.append(f"{name}: batch {placed['id']} has no valid time-stamp")
                else:
                    report.sealed += 1
    try:
        when = datetime.fromisoformat(str(item.get("created_at"))).replace(tzinfo=UTC)
    except ValueError:
        report.failures.append(f"{name}: created_at is not a time")
        return
    service_member = "/".join(str(item.get("service", "")).split("/")[:3])
    client_member = "/".join(str(item.get("client", "")).split("/")[:3])
    for part, member in (("request", client_member), ("response", service_member)):
        token = str(item.get(f"{part}_signature") or "")
        if not token:
            continue
        problem = _check_signature(
            token, str(item.get(f"{part}_digest") or ""), member, when, nodes, issuing, anchor
        )
        if problem:
            report.failures.append(f"{name}: {part} signature: {problem}")
        else:
            report.signatures += 1


def _check_signature(
    token: str,
    digest: str,
    member: str,
    when: datetime,
    nodes: dict[str, x509.Certificate],
    issuing: list[x509.Certificate],
    anchor: x509.Certificate,
) -> str:
    """'' if the signature verifies, else why not."""
    if not digest:
        return "no digest stored for it"
    try:
        kid = str(read_protected_header(token).get("kid", ""))
    except TrustError as exc:
        return exc.detail
    cert = nodes.get(kid)
    if cert is None:
        return f"the signer's certificate {kid[:16]}… is not in the export"
    try:
        check_chain(cert, issuing, [anchor], when)
    except TrustError as exc:
        return f"signer certificate: {exc.detail}"
    signer = "/".join(member_id_of(cert).split("/")[:3])
    if member and signer != member:
        return f"signed by {signer}, expected {member}"
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        return "unsupported signer key type"
    try:
        verify_digest(token, digest, public)
    except TrustError as exc:
        return exc.detail
    return ""
