"""Tables of the public service mesh.

A node holds its services, access rules, message log, subscriptions (as provider), deliveries
(the per-subscriber queue fed from the outbox), received notifications (as subscriber) and the
pseudonyms it knows its persons by. The hub holds enrollments, the service registry and the
pseudonym links. Every node and the hub use the same schema; a role leaves the other's tables
empty.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from tsunagu.accounts import MAX_ROW_ID
from tsunagu.db import Base
from tsunagu.kernel import naive_utcnow

T = TypeVar("T")


def get_row(session: Session, model: type[T], row_id: int) -> T | None:
    """``session.get`` for an id taken from a URL: one outside the 64-bit range is no row's id
    (None, so a 404), where SQLite would raise OverflowError on binding it (a 500)."""
    if not -MAX_ROW_ID - 1 <= row_id <= MAX_ROW_ID:
        return None
    return session.get(model, row_id)


class MeshService(Base):
    """A service this node provides: ``{member id}/{subsystem}/{service code}``."""

    __tablename__ = "mesh_service"
    __table_args__ = (UniqueConstraint("subsystem", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subsystem: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    backend: Mapped[str] = mapped_column(String(40))  # url | address | corporation | resident
    backend_url: Mapped[str] = mapped_column(String(2000), default="")
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    data_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)  # topics it publishes
    openapi: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)


class AccessRule(Base):
    """Allows one client (member, member/subsystem or ``group:NAME``) to call one service."""

    __tablename__ = "mesh_access_rule"
    __table_args__ = (UniqueConstraint("service_id", "client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("mesh_service.id", ondelete="CASCADE"))
    client: Mapped[str] = mapped_column(String(200))
    purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    legal_basis: Mapped[str] = mapped_column(String(200))  # {law id}#{article}
    allow_subscribe: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)


class GroupMember(Base):
    """A member in a local group of clients (``group:tax-offices`` in access rules)."""

    __tablename__ = "mesh_group_member"
    __table_args__ = (UniqueConstraint("group", "member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group: Mapped[str] = mapped_column(String(64))
    member: Mapped[str] = mapped_column(String(200))


class AccessVersion(Base):
    """One row: a number that database triggers raise with every change to services, access
    rules and groups, whoever makes it (this process, another process of the node, the CLI,
    SQL by hand). A node keeps access decisions per (service, client) under the number they
    were read with, and uses one only while the number is unchanged (mesh.services.AccessCache).
    Migration 0024_mesh_access_version makes the triggers."""

    __tablename__ = "mesh_access_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class MessageRecord(Base):
    """One request/response as a node saw it: the message log (both sides)."""

    __tablename__ = "mesh_message"
    __table_args__ = (
        # replay protection: a client's message id is accepted once per side
        UniqueConstraint("side", "client", "message_id"),
        Index("ix_mesh_message_created", "created_at"),
        Index("ix_mesh_message_batch", "batch_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    side: Mapped[str] = mapped_column(String(10))  # consumer | provider | hub | notify
    message_id: Mapped[str] = mapped_column(String(100))
    xroad_id: Mapped[str] = mapped_column(String(100), default="")
    client: Mapped[str] = mapped_column(String(200))
    service: Mapped[str] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(10), default="GET")
    purpose: Mapped[str] = mapped_column(String(200), default="")
    legal_basis: Mapped[str] = mapped_column(String(200), default="")
    issue: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[str] = mapped_column(String(200), default="")
    request_hash: Mapped[str] = mapped_column(String(100), default="")
    request_signature: Mapped[str] = mapped_column(Text, default="")
    response_hash: Mapped[str] = mapped_column(String(100), default="")
    response_signature: Mapped[str] = mapped_column(Text, default="")
    # The JWS payloads (BASE64URL(SHA-256(canonical form)), trust.jws.message_digest) the two
    # signatures cover, so that they verify offline with the signers' certificates.
    request_digest: Mapped[str] = mapped_column(String(64), default="")
    response_digest: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[int] = mapped_column(Integer, default=0)
    error_type: Mapped[str] = mapped_column(String(100), default="")
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    # The time-stamped batch this record is sealed in (mesh.messagelog): its leaf index and
    # inclusion proof (base64 hashes), kept with the record so pruning never breaks a proof.
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("mesh_timestamp_batch.id"))
    batch_index: Mapped[int | None] = mapped_column(Integer)
    batch_path: Mapped[list[str] | None] = mapped_column(JSON)


class TimestampBatch(Base):
    """An RFC 3161 time-stamp over the Merkle root of a batch of message-log records."""

    __tablename__ = "mesh_timestamp_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root: Mapped[str] = mapped_column(String(64))  # hex SHA-256 Merkle root (RFC 9162)
    size: Mapped[int] = mapped_column(Integer)
    token: Mapped[bytes] = mapped_column(LargeBinary)  # DER TimeStampResp from the hub's TSA
    created_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)


class Subscription(Base):
    """Provider side: a subscriber node's standing order for events of one type."""

    __tablename__ = "mesh_subscription"
    __table_args__ = (UniqueConstraint("subscriber", "service_id", "event_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber: Mapped[str] = mapped_column(String(200))  # member[/subsystem]
    service_id: Mapped[int] = mapped_column(ForeignKey("mesh_service.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(200))  # topic prefix, e.g. resident.person.
    filter: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    purpose: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | paused
    paused_until: Mapped[datetime | None] = mapped_column(DateTime)  # then one probe delivery
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    total_failures: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)


class Delivery(Base):
    """Provider side: one event for one subscription, until the subscriber acknowledged it."""

    __tablename__ = "mesh_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_mesh_delivery_due", "status", "next_attempt_at"),
        Index("ix_mesh_delivery_subject", "subscription_id", "subject", "event_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("mesh_subscription.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(36))
    event_seq: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))  # outbox key: order is kept per subject
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|delivered|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)


class ReceivedNotification(Base):
    """Subscriber side: a notification accepted once (idempotency key), then sent to the webhook."""

    __tablename__ = "mesh_inbox"
    __table_args__ = (
        UniqueConstraint("provider", "event_id"),
        Index("ix_mesh_inbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[str] = mapped_column(String(36))
    topic: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|forwarded|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    forwarded_at: Mapped[datetime | None] = mapped_column(DateTime)


class Person(Base):
    """Node side: this organization's pseudonym for a person, and its local record id."""

    __tablename__ = "mesh_person"

    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    local_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)


class Enrollment(Base):
    """Hub side: a node's certificate request, pending until an admin approves it."""

    __tablename__ = "mesh_enrollment"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(200), index=True)
    node_url: Mapped[str] = mapped_column(String(2000))
    csr_pem: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|approved|rejected
    certificate_serial: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)


class RegisteredService(Base):
    """Hub side: a service a node declared; published in the trust list and the catalog."""

    __tablename__ = "mesh_registered_service"

    service_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(300))
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    data_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    openapi: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)


class PseudonymLink(Base):
    """Hub side: which organizations hold a pseudonym for one link (never the number itself).

    ``link`` is HMAC-SHA256(linking key, individual number), computed by the organizations that
    may hold the number; the hub never sees the number and cannot invert the link.
    """

    __tablename__ = "mesh_pseudonym"
    __table_args__ = (UniqueConstraint("member_code", "link"),)

    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_code: Mapped[str] = mapped_column(String(13))
    link: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)


class LocalSystemCertificate(Base):
    """A local system's client certificate, registered with its own node (mesh.localtls).

    X-Road's "information system certificates": over the node's HTTPS local listener, a local
    system may authenticate with this certificate instead of an API token.
    """

    __tablename__ = "mesh_local_certificate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER, hex
    certificate_pem: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(500))
    not_after: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class KnownCertificate(Base):
    """A certificate a verifier of this node's message log may need: every node certificate and
    CA issuing certificate of every trust list the node has accepted (mesh.messagelog).

    A record stays evidence after its signer leaves the trust list (revoked, renewed, the
    member gone), so the export's header carries these as well as the current list's.
    """

    __tablename__ = "mesh_known_certificate"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of DER
    role: Mapped[str] = mapped_column(String(16))  # "node" or "issuing"
    member_id: Mapped[str | None] = mapped_column(String(200))
    der: Mapped[bytes] = mapped_column(LargeBinary)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
