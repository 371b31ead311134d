"""Push ("once-only"): outbox → deliveries → signed notifications → subscriber → local webhook.

Provider side. ``dispatch`` turns committed outbox events into one ``mesh_delivery`` row per
matching active subscription, and marks the events published, in one transaction. ``deliver``
claims due deliveries with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
processes of one node never claim the same row), keeps order per subject (a delivery waits while
an earlier one for the same subscription and subject is pending), sends each as a signed
notification and records the outcome: delivered; or a retry with exponential backoff and jitter;
or, after ``mesh_max_attempts``, a dead letter that an operator can replay. A subscription pauses
after ``mesh_max_failures`` failures in a row.

Subscriber side. ``receive`` stores a verified notification once per (provider, event id) — the
idempotency key — and answers 200 for duplicates too; ``forward`` sends stored notifications to
the local system's webhook with ``Idempotency-Key``, at least once, in order per subject.

A process killed at any point loses nothing: every step's state is in the database, and a lease
that expires makes its row claimable again.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import and_, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from tsunagu.db import OutboxEvent
from tsunagu.kernel import Conflict, NotFound, ValidationProblem, naive_utcnow
from tsunagu.trust.ca import MemberId

from . import protocol
from .client import check_reply, node_url_of
from .errors import MeshFault
from .models import Delivery, MeshService, ReceivedNotification, Subscription, get_row
from .runtime import NodeRuntime
from .services import matching_rule, pseudonym_of

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
ACCESS_PREFIX = "mesh."
PERSON_PREFIX = "resident.person."


def _on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _lock(query: Any, session: Session) -> Any:
    return query.with_for_update(skip_locked=True) if _on_postgres(session) else query


# -- subscriptions (provider) --------------------------------------------------------------------


def subscribe(
    session: Session,
    subscriber: str,
    service: MeshService,
    event_type: str,
    purpose: str,
    filter: dict[str, Any] | None = None,
) -> Subscription:
    """A subscription, if an access rule lets ``subscriber`` subscribe with ``purpose``."""
    rule = matching_rule(session, service, subscriber)
    if rule is None or not rule.allow_subscribe:
        raise MeshFault(
            "Server.ServerProxy.AccessDenied",
            f"{subscriber} may not subscribe to {service.code}",
            403,
        )
    if purpose not in rule.purposes:
        raise MeshFault(
            "Server.ServerProxy.AccessDenied",
            f"purpose {purpose!r} is not allowed for {subscriber}",
            403,
        )
    if not any(event_type.startswith(t) or t.startswith(event_type) for t in service.event_types):
        raise MeshFault(
            "Client.InvalidRequest",
            f"{service.code} publishes {', '.join(service.event_types) or 'no events'}",
            400,
        )
    match = (filter or {}).get("match", {})
    if not isinstance(match, dict) or not all(isinstance(v, str) for v in match.values()):
        raise MeshFault("Client.InvalidRequest", 'filter is {"match": {"field": "value"}}', 400)
    existing = session.scalar(
        select(Subscription).where(
            Subscription.subscriber == subscriber,
            Subscription.service_id == service.id,
            Subscription.event_type == event_type,
        )
    )
    if existing is not None:
        existing.filter, existing.purpose, existing.status = filter or {}, purpose, "active"
        existing.consecutive_failures, existing.paused_until = 0, None
        session.flush()
        return existing
    row = Subscription(
        subscriber=subscriber,
        service_id=service.id,
        event_type=event_type,
        filter=filter or {},
        purpose=purpose,
    )
    session.add(row)
    session.flush()
    return row


def subscriptions(session: Session) -> list[Subscription]:
    return list(session.scalars(select(Subscription).order_by(Subscription.id)))


def resume(session: Session, subscription_id: int) -> Subscription:
    row = get_row(session, Subscription, subscription_id)
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    row.status, row.consecutive_failures, row.paused_until = "active", 0, None
    session.flush()
    return row


def dead_letters(session: Session, limit: int = 100, offset: int = 0) -> list[Delivery]:
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.status == "dead")
            .order_by(Delivery.id)
            .limit(limit)
            .offset(offset)
        )
    )


def replay(session: Session, delivery_id: int) -> Delivery:
    row = get_row(session, Delivery, delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id}")
    if row.status != "dead":
        raise Conflict(f"delivery {delivery_id} is {row.status}, not a dead letter")
    row.status, row.attempts, row.next_attempt_at, row.lease_until = (
        "pending",
        0,
        naive_utcnow(),
        None,
    )
    session.flush()
    return row


# -- dispatch (provider) --------------------------------------------------------------------------


def _matches(sub: Subscription, event: OutboxEvent) -> bool:
    if not event.topic.startswith(sub.event_type):
        return False
    match = (sub.filter or {}).get("match", {})
    data = event.data or {}
    return all(str(data.get(k, "")) == v for k, v in match.items())


def dispatch(session: Session, limit: int = 500) -> int:
    """Turn pending outbox events into deliveries; returns how many events were handled."""
    query = (
        select(OutboxEvent)
        .where(OutboxEvent.published_at.is_(None), ~OutboxEvent.topic.startswith(ACCESS_PREFIX))
        .order_by(OutboxEvent.seq)
        .limit(limit)
    )
    events = session.scalars(_lock(query, session)).all()
    if not events:
        return 0
    subs = session.scalars(select(Subscription)).all()
    now = naive_utcnow()
    rows = []
    for event in events:
        for sub in subs:
            # Paused subscriptions get their deliveries too: they wait, they are not lost.
            if _matches(sub, event):
                rows.append(
                    Delivery(
                        subscription_id=sub.id,
                        event_id=event.id,
                        event_seq=event.seq,
                        topic=event.topic,
                        subject=event.key,
                        payload={
                            "topic": event.topic,
                            "subject": event.key,
                            "occurred_at": event.occurred_at.isoformat(),
                            "data": event.data,
                        },
                        next_attempt_at=now,
                    )
                )
        event.published_at = now
    session.add_all(rows)
    session.flush()
    return len(events)


def claim_deliveries(session: Session, limit: int = 50) -> list[Delivery]:
    """Due deliveries, leased to this process; none whose subject has an earlier pending one."""
    now = naive_utcnow()
    earlier = aliased(Delivery)
    blocked = exists().where(
        and_(
            earlier.subscription_id == Delivery.subscription_id,
            earlier.subject == Delivery.subject,
            earlier.status == "pending",
            earlier.event_seq < Delivery.event_seq,
        )
    )
    query = (
        select(Delivery)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .where(
            Delivery.status == "pending",
            Delivery.next_attempt_at <= now,
            (Delivery.lease_until.is_(None)) | (Delivery.lease_until < now),
            (Subscription.status == "active")
            | ((Subscription.status == "paused") & (Subscription.paused_until <= now)),
            ~blocked,
        )
        .order_by(Delivery.event_seq)
        .limit(limit)
    )
    if _on_postgres(session):
        query = query.with_for_update(of=Delivery, skip_locked=True)
    rows = list(session.scalars(query))
    for row in rows:
        row.lease_until = now + LEASE
        row.attempts += 1
    session.flush()
    return rows


def backoff(settings: Any, attempts: int) -> timedelta:
    """Exponential backoff with full jitter around the step (0.5×–1.5×)."""
    step = min(settings.mesh_retry_max, settings.mesh_retry_base * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=step * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, no secret


def delivered(session: Session, delivery_id: int) -> None:
    row = session.get(Delivery, delivery_id)
    if row is None or row.status != "pending":
        return
    row.status, row.delivered_at, row.lease_until, row.last_error = (
        "delivered",
        naive_utcnow(),
        None,
        "",
    )
    session.execute(
        update(Subscription)
        .where(Subscription.id == row.subscription_id)
        .values(
            delivered=Subscription.delivered + 1,
            consecutive_failures=0,
            status="active",
            paused_until=None,
        )
    )


def skipped(session: Session, delivery_id: int, reason: str) -> None:
    row = session.get(Delivery, delivery_id)
    if row is not None and row.status == "pending":
        row.status, row.lease_until, row.last_error = "skipped", None, reason[:1000]


def failed(session: Session, settings: Any, delivery_id: int, error: str) -> None:
    row = session.get(Delivery, delivery_id)
    if row is None or row.status != "pending":
        return
    row.last_error, row.lease_until = error[:1000], None
    if row.attempts >= settings.mesh_max_attempts:
        row.status = "dead"
    else:
        row.next_attempt_at = naive_utcnow() + backoff(settings, row.attempts)
    sub = session.get(Subscription, row.subscription_id)
    if sub is not None:
        sub.consecutive_failures += 1
        sub.total_failures += 1
        if sub.consecutive_failures >= settings.mesh_max_failures:
            # Rest, then probe with one delivery; a success resumes (see delivered()).
            sub.status = "paused"
            sub.paused_until = naive_utcnow() + timedelta(seconds=settings.mesh_pause_seconds)
            log.warning(
                "subscription paused after repeated failures",
                extra={"subscription": sub.id, "subscriber": sub.subscriber},
            )


def _subject_for(rt: NodeRuntime, delivery: Delivery, subscriber: str) -> str | None:
    """The subject as the subscriber knows it: persons by its own pseudonym, else the key."""
    if not delivery.topic.startswith(PERSON_PREFIX):
        return delivery.subject
    with rt.session() as session:
        own = pseudonym_of(session, delivery.subject)
    if own is None:
        return None
    try:
        reply = rt.hub.call(
            "POST", "/mesh/hub/pseudonyms/translate", {"pseudonym": own, "to": subscriber}
        )
    except MeshFault as exc:
        if exc.fault_type == "Client.UnknownPerson":
            return None
        raise
    return str(reply["pseudonym"])


def _notification(delivery: Delivery, subject: str, service: str, provider: str) -> bytes:
    data = dict(delivery.payload.get("data") or {})
    data.pop("resident_id", None)
    body = {
        "id": delivery.event_id,
        "provider": provider,
        "service": service,
        "topic": delivery.topic,
        "subject": subject,
        "occurred_at": delivery.payload.get("occurred_at"),
        "data": data,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def send_one(
    rt: NodeRuntime, http: httpx.Client, delivery: Delivery, sub: Subscription, service: MeshService
) -> None:
    """Send one notification; raises MeshFault or httpx errors on failure."""
    trust = rt.trust("Server.ClientProxy")
    subscriber = MemberId.parse(sub.subscriber)
    subject = _subject_for(rt, delivery, sub.subscriber)
    if subject is None:
        raise _Skip("the subscriber holds no pseudonym for this person")
    service_id = f"{rt.member_base}/{service.subsystem}/{service.code}"
    body = _notification(delivery, subject, service_id, rt.member_base)
    target = "/mesh/notifications"
    headers = {
        "content-type": "application/json",
        protocol.XROAD_CLIENT: rt.member_base,
        protocol.XROAD_SERVICE: service_id,
        protocol.EVENT_ID: delivery.event_id,
        protocol.PURPOSE: sub.purpose,
    }
    signed, sent = protocol.sign_message(rt.identity.signer, "POST", target, headers, body)
    sent_hash = sent.request_hash
    response = http.post(node_url_of(trust, subscriber) + target, content=body, headers=signed)
    reply = check_reply(
        trust, subscriber, response, "POST", target, sent_hash, rt.settings, rt.check_peer
    )
    if not 200 <= reply.status < 300:
        raise MeshFault(
            "Server.ClientProxy.ServiceFailed",
            f"the subscriber answered {reply.status}: {reply.body[:200]!r}",
            502,
        )


class _Skip(Exception):
    pass


def _each(pool: Executor | None, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``work`` over ``items``, on ``pool`` when given. A claimed batch holds at most one row per
    subject (the claim skips a row while an earlier one of its subject is pending), so its rows
    may go out concurrently without breaking the order per subject."""
    if pool is None or len(items) < 2:
        return [work(item) for item in items]
    return list(pool.map(work, items))


def deliver_due(
    rt: NodeRuntime, http: httpx.Client, limit: int = 50, pool: Executor | None = None
) -> int:
    """Claim and send due deliveries (concurrently on ``pool``); returns how many were attempted.

    The outcomes are recorded in one transaction once the batch is sent: a process that dies
    before it commits leaves the rows leased, and they are sent again when the lease ends (at
    least once; the subscriber drops the duplicates).
    """
    with rt.write_session() as session:
        claimed = claim_deliveries(session, limit)
        work = [(d.id, d, session.get(Subscription, d.subscription_id)) for d in claimed]
        services = {s.id: s for s in session.scalars(select(MeshService))}
        session.commit()
        # Detach everything at once: deliveries of one subscription share its object, and
        # expunging that twice raised, failing every round with more than one of them.
        session.expunge_all()

    def attempt(item: tuple[int, Delivery, Subscription | None]) -> tuple[int, str, str]:
        delivery_id, delivery, sub = item
        if sub is None:
            return delivery_id, "none", ""
        try:
            send_one(rt, http, delivery, sub, services[sub.service_id])
            return delivery_id, "ok", ""
        except _Skip as exc:
            return delivery_id, "skip", str(exc)
        except MeshFault as exc:
            return delivery_id, "fail", f"{exc.fault_type}: {exc.message}"
        except httpx.HTTPError as exc:
            return delivery_id, "fail", f"{type(exc).__name__}: {str(exc)[:300]}"

    outcomes = _each(pool, attempt, work)
    with rt.write_session() as session:
        for delivery_id, kind, detail in outcomes:
            if kind == "ok":
                delivered(session, delivery_id)
            elif kind == "skip":
                skipped(session, delivery_id, detail)
            elif kind == "fail":
                failed(session, rt.settings, delivery_id, detail)
        session.commit()
    return len(work)


# -- subscriber side -----------------------------------------------------------------------------


def receive(session: Session, provider: str, body: bytes) -> tuple[ReceivedNotification, bool]:
    """Store a notification once; (row, True) if new, (row, False) for a duplicate."""
    try:
        data = json.loads(body)
    except ValueError:
        raise MeshFault("Client.InvalidRequest", "the notification is not JSON", 400) from None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise MeshFault("Client.InvalidRequest", "a notification has an id", 400)
    if data.get("provider") != "/".join(provider.split("/")[:3]):
        raise MeshFault("Client.InvalidRequest", "the notification names another provider", 400)
    row = ReceivedNotification(
        provider=provider,
        event_id=data["id"][:36],
        topic=str(data.get("topic", ""))[:200],
        subject=str(data.get("subject", ""))[:200],
        body=data,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return row, True
    except IntegrityError:
        existing = session.scalar(
            select(ReceivedNotification).where(
                ReceivedNotification.provider == provider,
                ReceivedNotification.event_id == data["id"][:36],
            )
        )
        if existing is None:  # pragma: no cover - the unique constraint says it exists
            raise
        existing.duplicates += 1
        session.flush()
        return existing, False


def claim_inbox(session: Session, limit: int = 50) -> list[ReceivedNotification]:
    now = naive_utcnow()
    earlier = aliased(ReceivedNotification)
    blocked = exists().where(
        and_(
            earlier.provider == ReceivedNotification.provider,
            earlier.subject == ReceivedNotification.subject,
            earlier.status == "pending",
            earlier.id < ReceivedNotification.id,
        )
    )
    query = (
        select(ReceivedNotification)
        .where(
            ReceivedNotification.status == "pending",
            ReceivedNotification.next_attempt_at <= now,
            (ReceivedNotification.lease_until.is_(None)) | (ReceivedNotification.lease_until < now),
            ~blocked,
        )
        .order_by(ReceivedNotification.id)
        .limit(limit)
    )
    rows = list(session.scalars(_lock(query, session)))
    for row in rows:
        row.lease_until = now + LEASE
        row.attempts += 1
    session.flush()
    return rows


def forward_inbox(
    rt: NodeRuntime, http: httpx.Client, limit: int = 50, pool: Executor | None = None
) -> int:
    """Send received notifications to the local webhook (concurrently on ``pool``, one per
    subject at a time); returns how many were attempted."""
    url = rt.settings.node_webhook_url
    if not url:
        return 0
    with rt.write_session() as session:
        rows = [(r.id, r.provider, r.event_id, r.body) for r in claim_inbox(session, limit)]
        session.commit()

    def attempt(row: tuple[int, str, str, Any]) -> tuple[int, bool, str]:
        row_id, provider, event_id, body = row
        try:
            response = http.post(
                url,
                json=body,
                headers={"Idempotency-Key": f"{provider}/{event_id}", "Tsunagu-Event-Id": event_id},
            )
        except httpx.HTTPError as exc:
            return row_id, False, f"{type(exc).__name__}: {str(exc)[:300]}"
        return row_id, 200 <= response.status_code < 300, f"webhook answered {response.status_code}"

    outcomes = _each(pool, attempt, rows)
    with rt.write_session() as session:
        for row_id, ok, error in outcomes:
            row = session.get(ReceivedNotification, row_id)
            if row is None or row.status != "pending":
                continue
            row.lease_until = None
            if ok:
                row.status, row.forwarded_at, row.last_error = "forwarded", naive_utcnow(), ""
            else:
                row.last_error = error
                if row.attempts >= rt.settings.mesh_max_attempts:
                    row.status = "dead"
                else:
                    row.next_attempt_at = naive_utcnow() + backoff(rt.settings, row.attempts)
        session.commit()
    return len(rows)


# -- access records → hub -----------------------------------------------------------------------


def forward_access_records(rt: NodeRuntime, limit: int = 100) -> int:
    """Send queued transparency-log records to the hub; a duplicate counts as sent."""
    with rt.write_session() as session:
        query = (
            select(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None), OutboxEvent.topic.startswith(ACCESS_PREFIX))
            .order_by(OutboxEvent.seq)
            .limit(limit)
        )
        rows = [(r.seq, r.key, r.data) for r in session.scalars(_lock(query, session))]
        done = []
        for seq, key, data in rows:
            try:
                rt.hub.call(
                    "POST",
                    "/mesh/hub/access-records",
                    {"record": data},
                    message_id=f"access-{key}"[:100],
                )
                done.append(seq)
            except MeshFault as exc:
                if exc.fault_type == "Client.DuplicateMessage":
                    done.append(seq)
                else:
                    log.warning("access record not sent: %s %s", exc.fault_type, exc.message)
                    break
            except httpx.HTTPError as exc:
                log.warning("hub unreachable for access records: %s", type(exc).__name__)
                break
        if done:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.seq.in_(done))
                .values(published_at=naive_utcnow())
            )
        session.commit()
    return len(rows)


def parse_subscription(data: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    try:
        service = str(data["service"])
        event_type = str(data["event_type"])
        purpose = str(data["purpose"])
    except KeyError as exc:
        raise ValidationProblem(f"{exc.args[0]} is required", field=str(exc.args[0])) from None
    filter = data.get("filter") or {}
    if not isinstance(filter, dict):
        raise ValidationProblem("filter must be an object", field="filter")
    return service, event_type, purpose, filter


def due_counts(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    out: dict[str, int] = {}
    for status, n in session.execute(
        select(Delivery.status, func.count()).group_by(Delivery.status)
    ):
        out[f"deliveries_{status}"] = int(n)
    for status, n in session.execute(
        select(ReceivedNotification.status, func.count()).group_by(ReceivedNotification.status)
    ):
        out[f"inbox_{status}"] = int(n)
    return out
