"""A node's services and access rules (deny by default), and the persons it knows by pseudonym."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from sqlalchemy import Connection, Table, and_, bindparam, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tsunagu.db.driver import DriverStatement
from tsunagu.kernel import Conflict, NotFound, ValidationProblem, is_valid_individual_number
from tsunagu.trust.ca import MemberId

from .models import AccessRule, AccessVersion, GroupMember, MeshService, Person, get_row

T = TypeVar("T")
BACKENDS = ("url", "address", "corporation", "resident")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_GROUP = re.compile(r"^group:[a-z0-9][a-z0-9._-]{0,57}\Z")
# A data item (name, birth_date, 受給状況): no spaces, control characters or commas (a request
# names items in a comma-separated list).
_ITEM = re.compile(r"^[^\s,\x00-\x1f\x7f]{1,64}\Z")
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]*)*\Z")  # a topic or its prefix: bench.
_PURPOSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}\Z")
# A unit of the laws registry: {e-Gov 法令ID}/article/{n}[/paragraph/{n}[/item/{n}]].
_LEGAL_BASIS = re.compile(
    r"^[0-9]{3}[A-Z]{2}[0-9A-Z]{10}/article/[0-9]+(_[0-9]+)*"
    r"(/paragraph/[0-9]+(/item/[0-9]+(_[0-9]+)*)?)?\Z"
)
DEFAULT_ITEMS = {
    "resident": ["name", "address", "birth_date", "sex"],
    "address": ["address"],
    "corporation": ["corporation"],
}


def valid_code(value: str) -> bool:
    """A subsystem or service code: 1-64 of A-Z a-z 0-9 . _ - (ASCII, so a header can hold it)."""
    return _CODE.fullmatch(value) is not None


def valid_purpose(value: str) -> bool:
    """A purpose as access rules name them: 1-100 of A-Z a-z 0-9 . _ : -."""
    return _PURPOSE.fullmatch(value) is not None


def _insert(session: Session, row: T, conflict: str) -> T:
    """Add ``row`` in a savepoint; a unique key it repeats is a Conflict saying ``conflict``
    (the caller's transaction goes on)."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(conflict) from None
    return row


def check_legal_basis(value: str, known_unit: Any = None) -> str:
    """A law unit address; with ``known_unit(law_id, path)`` it must exist in the registry."""
    if not _LEGAL_BASIS.match(value):
        raise ValidationProblem(
            "legal_basis is a unit of the laws registry: {law id}/article/{n}"
            "[/paragraph/{n}[/item/{n}]], e.g. 415AC0000000057/article/69/paragraph/2/item/3",
            field="legal_basis",
        )
    law_id, path = value.split("/", 1)
    if known_unit is not None and not known_unit(law_id, path):
        raise ValidationProblem(
            f"{value} is not a unit of a law in the laws registry", field="legal_basis"
        )
    return value


def declare_service(
    session: Session,
    *,
    subsystem: str,
    code: str,
    title: str,
    backend: str,
    backend_url: str = "",
    personal_data: bool | None = None,
    data_items: Sequence[str] | None = None,
    event_types: Sequence[str] = (),
    description: str = "",
    openapi: dict[str, Any] | None = None,
) -> MeshService:
    if not _CODE.match(subsystem):
        raise ValidationProblem("subsystem is 1-64 of A-Z a-z 0-9 . _ -", field="subsystem")
    if not _CODE.match(code):
        raise ValidationProblem("service code is 1-64 of A-Z a-z 0-9 . _ -", field="code")
    if backend not in BACKENDS:
        raise ValidationProblem(f"backend is one of {', '.join(BACKENDS)}", field="backend")
    if backend == "url" and not _http_url(backend_url):
        raise ValidationProblem(
            "a url backend needs backend_url http(s)://host[:port][/path]", field="backend_url"
        )
    if not title.strip():
        raise ValidationProblem("title is required", field="title")
    items = list(data_items) if data_items is not None else DEFAULT_ITEMS.get(backend, [])
    if not all(_ITEM.match(item) for item in items):
        raise ValidationProblem(
            "a data item is 1-64 characters, no spaces or commas", field="data_items"
        )
    if not all(0 < len(t) <= 200 and _EVENT_TYPE.match(t) for t in event_types):
        raise ValidationProblem(
            "an event type is a topic or its prefix (resident.moved, resident.)",
            field="event_types",
        )
    row = MeshService(
        subsystem=subsystem,
        code=code,
        title=title.strip()[:300],
        backend=backend,
        backend_url=backend_url,
        description=description,
        personal_data=backend == "resident" if personal_data is None else personal_data,
        data_items=items,
        event_types=list(event_types),
        openapi=openapi,
    )
    return _insert(session, row, f"service {subsystem}/{code} exists")


def _http_url(value: str) -> bool:
    """An http(s) URL with a host, no credentials and no fragment (the backend of a service)."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # ValueError if not a number in range
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.username is None
        and not parts.fragment
        and not any(c.isspace() or ord(c) < 32 for c in value)
    )


def services(session: Session) -> list[MeshService]:
    return list(session.scalars(select(MeshService).order_by(MeshService.id)))


def find_service(session: Session, subsystem: str, code: str) -> MeshService | None:
    return session.scalar(
        select(MeshService).where(MeshService.subsystem == subsystem, MeshService.code == code)
    )


def get_service(session: Session, service_id: int) -> MeshService:
    row = get_row(session, MeshService, service_id)
    if row is None:
        raise NotFound(f"no service {service_id}")
    return row


def delete_service(session: Session, service_id: int) -> None:
    session.delete(get_service(session, service_id))
    session.flush()


def check_client(client: str) -> str:
    if _GROUP.match(client):
        return client
    try:
        MemberId.parse(client)
    except Exception as exc:
        raise ValidationProblem(
            f"client is a member id or group:NAME ({exc})", field="client"
        ) from None
    return client


def add_rule(
    session: Session,
    service_id: int,
    client: str,
    purposes: Sequence[str],
    legal_basis: str,
    *,
    allow_subscribe: bool = False,
    known_law: Any = None,
) -> AccessRule:
    get_service(session, service_id)
    check_client(client)
    if not purposes:
        raise ValidationProblem("at least one purpose is required", field="purposes")
    for purpose in purposes:
        if not _PURPOSE.match(purpose):
            raise ValidationProblem(
                f"purpose {purpose!r} is 1-100 of A-Z a-z 0-9 . _ : -", field="purposes"
            )
    rule = AccessRule(
        service_id=service_id,
        client=client,
        purposes=list(purposes),
        legal_basis=check_legal_basis(legal_basis, known_law),
        allow_subscribe=allow_subscribe,
    )
    return _insert(session, rule, f"a rule for {client} on service {service_id} exists")


def rules(session: Session, service_id: int | None = None) -> list[AccessRule]:
    query = select(AccessRule).order_by(AccessRule.id)
    if service_id is not None:
        query = query.where(AccessRule.service_id == service_id)
    return list(session.scalars(query))


def delete_rule(session: Session, rule_id: int) -> None:
    rule = get_row(session, AccessRule, rule_id)
    if rule is None:
        raise NotFound(f"no access rule {rule_id}")
    session.delete(rule)
    session.flush()


def add_group_member(session: Session, group: str, member: str) -> GroupMember:
    if not _GROUP.match(f"group:{group}"):
        raise ValidationProblem("group is 1-58 of a-z 0-9 . _ -", field="group")
    MemberId.parse(member)
    row = GroupMember(group=group, member=member)
    return _insert(session, row, f"{member} is in group:{group} already")


_SERVICE_TABLE = cast(Table, MeshService.__table__)
_RULE_TABLE = cast(Table, AccessRule.__table__)
_GROUP_TABLE = cast(Table, GroupMember.__table__)
# Built once (bound parameters): on the provider's per-request path, constructing a statement
# costs more CPU than running it, and the ORM's version of these queries several times more.
_SERVICE_BY_CODE = select(_SERVICE_TABLE).where(
    _SERVICE_TABLE.c.subsystem == bindparam("subsystem"), _SERVICE_TABLE.c.code == bindparam("code")
)
_GROUPS_OF = select(_GROUP_TABLE.c.group).where(
    _GROUP_TABLE.c.member.in_(bindparam("members", expanding=True))
)
_RULES_FOR = select(_RULE_TABLE).where(
    _RULE_TABLE.c.service_id == bindparam("service_id"),
    _RULE_TABLE.c.client.in_(bindparam("clients", expanding=True)),
)


def _rule_for(connection: Connection, service_id: int, client: str) -> AccessRule | None:
    """The rule letting ``client`` (member/subsystem) call the service, or None (deny).

    The most specific rule wins: subsystem, then member, then a group the client is in. The
    rule comes back as a transient (detached) object, read-only for the caller.
    """
    member = "/".join(client.split("/")[:3])
    groups = connection.execute(_GROUPS_OF, {"members": [client, member]}).scalars()
    clients = [client, member, *(f"group:{g}" for g in groups)]
    candidates = connection.execute(
        _RULES_FOR, {"service_id": service_id, "clients": clients}
    ).all()
    for wanted in (client, member):
        for row in candidates:
            if row.client == wanted:
                return AccessRule(**row._asdict())
    return AccessRule(**candidates[0]._asdict()) if candidates else None


def matching_rule(
    session: Session, service: MeshService | ServiceView, client: str
) -> AccessRule | None:
    """The rule letting ``client`` call ``service``, or None (deny): see :func:`_rule_for`."""
    return _rule_for(session.connection(), service.id, client)


_SERVICE_COLUMNS = (
    "id",
    "subsystem",
    "code",
    "title",
    "backend",
    "backend_url",
    "personal_data",
    "data_items",
)
_RULE_COLUMNS = ("id", "client", "purposes", "legal_basis", "allow_subscribe")
_VERSION_TABLE = cast(Table, AccessVersion.__table__)
# The access configuration's version (migration 0024: raised by trigger on every change).
ACCESS_VERSION = select(_VERSION_TABLE.c.version).where(_VERSION_TABLE.c.id == 1).scalar_subquery()
# The provider's per-request check in one statement (three before: service, groups, rules): the
# service and every rule that could apply to the client — its subsystem's, its member's, and
# those of the groups its member or subsystem is in — and the access version.
_ACCESS = (
    select(
        *(_SERVICE_TABLE.c[name] for name in _SERVICE_COLUMNS),
        *(_RULE_TABLE.c[name].label(f"rule_{name}") for name in _RULE_COLUMNS),
        ACCESS_VERSION.label("access_version"),
    )
    .select_from(
        _SERVICE_TABLE.outerjoin(
            _RULE_TABLE,
            and_(
                _RULE_TABLE.c.service_id == _SERVICE_TABLE.c.id,
                # no expanding IN lists: those are compiled again on every execution
                or_(
                    _RULE_TABLE.c.client == bindparam("client"),
                    _RULE_TABLE.c.client == bindparam("member"),
                    _RULE_TABLE.c.client.in_(
                        select(literal("group:") + _GROUP_TABLE.c.group).where(
                            or_(
                                _GROUP_TABLE.c.member == bindparam("client"),
                                _GROUP_TABLE.c.member == bindparam("member"),
                            )
                        )
                    ),
                ),
            ),
        )
    )
    .where(
        _SERVICE_TABLE.c.subsystem == bindparam("subsystem"),
        _SERVICE_TABLE.c.code == bindparam("code"),
    )
    .order_by(_RULE_TABLE.c.id)
)
_ACCESS_ON_DRIVER = DriverStatement(_SERVICE_TABLE, _ACCESS)  # run per message (db.driver)


_RULE_AT = len(_SERVICE_COLUMNS)  # in a row of _ACCESS, where the rule's columns begin


@dataclass(frozen=True, slots=True)
class ServiceView:
    """What the request path needs of a service (read-only; not an ORM object, whose
    construction cost as much CPU as the query that found it)."""

    id: int
    subsystem: str
    code: str
    title: str
    backend: str
    backend_url: str
    personal_data: bool
    data_items: list[str]


@dataclass(frozen=True, slots=True)
class RuleView:
    """An access rule, read-only (see :class:`ServiceView`)."""

    id: int
    service_id: int
    client: str
    purposes: list[str]
    legal_basis: str
    allow_subscribe: bool


def access_of(
    connection: Connection, subsystem: str, code: str, client: str
) -> tuple[int | None, ServiceView | None, RuleView | None]:
    """The access version, the service ``subsystem/code`` and the rule letting ``client`` call
    it (rule None: deny; all None: no such service); the provider's per-request check (through
    :class:`AccessCache`), the same choice as :func:`_rule_for` in one statement."""
    member = "/".join(client.split("/")[:3])
    params = {"subsystem": subsystem, "code": code, "client": client, "member": member}
    rows = _ACCESS_ON_DRIVER.rows(connection, params)
    if not rows:
        return None, None, None
    version = rows[0][-1]
    service = ServiceView(*rows[0][:_RULE_AT])
    # The rule's columns (id, client, purposes, legal basis, subscribe); NULL: no rule matched.
    candidates = [row[_RULE_AT:-1] for row in rows if row[_RULE_AT] is not None]
    chosen = next(
        (rule for wanted in (client, member) for rule in candidates if rule[1] == wanted),
        candidates[0] if candidates else None,
    )
    if chosen is None:
        return version, service, None
    rule_id, rule_client, purposes, legal_basis, allow_subscribe = chosen
    return (
        version,
        service,
        RuleView(rule_id, service.id, rule_client, purposes, legal_basis, allow_subscribe),
    )


class AccessCache:
    """A node process's access decisions, each kept with the access version it was read under.

    The provider needs the service and the client's rule for every message; reading them is a
    statement per message (and on PostgreSQL a wait for the server in the writer thread). Here
    a decision read once is used again for the same (service, client), and the statement that
    writes the message's log row reads the current version back (``RETURNING``,
    :data:`ACCESS_VERSION`): when it differs from the decision's, something changed the
    services, rules or groups meanwhile — in any process; database triggers raise the version
    (migration 0024) — and the caller decides again from a fresh read in the same transaction.
    So a revoked rule refuses the next message that reaches the database after the revocation's
    commit, as without the cache. Measured side by side: docs/benchmarks.md, service mesh (11).
    """

    LIMIT = 10_000  # (service, client) pairs; all are dropped when full

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], tuple[int, ServiceView, RuleView | None]] = {}

    def lookup(
        self, connection: Connection, subsystem: str, code: str, client: str
    ) -> tuple[int | None, ServiceView | None, RuleView | None, bool]:
        """(version, service, rule, cached): the kept decision, or a fresh read (kept)."""
        hit = self._entries.get((subsystem, code, client))
        if hit is not None:
            return (*hit, True)
        return (*self.read(connection, subsystem, code, client), False)

    def read(
        self, connection: Connection, subsystem: str, code: str, client: str
    ) -> tuple[int | None, ServiceView | None, RuleView | None]:
        """Read the decision now and keep it (an unknown service is not kept).

        A job of the message-log writer may run twice (mesh.writer); keeping what it read is
        harmless either way: the version says whether it is still current."""
        key = (subsystem, code, client)
        version, service, rule = access_of(connection, subsystem, code, client)
        if version is None or service is None:
            self._entries.pop(key, None)
        else:
            if len(self._entries) >= self.LIMIT:
                self._entries.clear()
            self._entries[key] = (version, service, rule)
        return version, service, rule


# -- persons ------------------------------------------------------------------------------------


def link_of(key: bytes, individual_number: str) -> str:
    """HMAC-SHA256(linking key, individual number): what a holder sends the hub, not the number."""
    if not is_valid_individual_number(individual_number):
        raise ValidationProblem(
            "not an individual number (12 digits, check digit)", field="individual_number"
        )
    return hmac.new(key, individual_number.encode("ascii"), hashlib.sha256).hexdigest()


def remember_persons(session: Session, pairs: Sequence[tuple[str, str]]) -> int:
    """Store (pseudonym, local id) pairs; existing ones are kept."""
    known = set(
        session.scalars(select(Person.pseudonym).where(Person.pseudonym.in_([p for p, _ in pairs])))
    )
    new = [Person(pseudonym=p, local_id=i) for p, i in pairs if p not in known]
    session.add_all(new)
    session.flush()
    return len(new)


def local_id(session: Session, pseudonym: str) -> str | None:
    row = session.get(Person, pseudonym)
    return row.local_id if row else None


def pseudonym_of(session: Session, local: str) -> str | None:
    return session.scalar(select(Person.pseudonym).where(Person.local_id == local))
