"""Use cases of the resident registry: move in, move out, change address or name, record death.

Each change is validated completely before anything is written, then adds one version to the
resident's history and one event to the outbox, in the caller's transaction (the caller
commits). Topics: ``resident.person.moved_in|moved_out|address_changed|name_changed|deceased``,
keyed by the internal resident id, ``data`` = ``lg_code``, ``synthetic``, ``before``, ``after``
— never the individual number (:mod:`.privacy`).
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from tsunagu.db import record_events
from tsunagu.kernel import (
    Event,
    NotFound,
    ValidationProblem,
    is_valid_lg_code,
    naive_utcnow,
    parse_iso_date,
)

from .addresses import AddressInput, ResolvedAddress, resolve
from .errors import HistoryConflict
from .models import Resident, ResidentIndividualNumber, ResidentVersion
from .privacy import validate_individual_number

log = logging.getLogger("tsunagu.residents")

EARLIEST = date(1900, 1, 1)
SEXES = {"1": "男", "2": "女"}  # ISO 5218 (0 unknown and 9 not applicable are not recorded)
RELATIONSHIPS = ("head", "spouse", "child", "parent", "grandchild", "grandparent", "sibling",
                 "other_relative", "cohabitant")  # fmt: skip
STATUSES = ("resident", "moved_out", "deceased")
# Version fields that are the record itself (not bookkeeping), as events and the API show them.
RECORD_FIELDS = (
    "status", "family_name", "given_name", "family_name_kana", "given_name_kana", "birth_date",
    "sex", "household_id", "relationship", "address_lg_code", "machiaza_id", "blk_id", "rsdt_id",
    "rsdt2_id", "address_level", "address_text", "moved_in_on", "moved_from", "moved_out_on",
    "moved_to", "died_on",
)  # fmt: skip


def new_id() -> str:
    """An internal id: random, so it says nothing about the person or the order of registration."""
    return secrets.token_hex(8)


def fold_name(value: str) -> str:
    """A name for matching: NFKC (full/half width), no spaces."""
    return "".join(unicodedata.normalize("NFKC", value).split())


def fold_kana(value: str) -> str:
    """Kana for matching: NFKC, hiragana as katakana, no spaces."""
    folded = fold_name(value)
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in folded)


def relationship_label(relationship: str, sex: str) -> str:
    """続柄 as a 住民票 writes it."""
    by_sex = {"spouse": ("夫", "妻"), "parent": ("父", "母"), "grandparent": ("祖父", "祖母")}
    if relationship in by_sex:
        return by_sex[relationship][0 if sex == "1" else 1]
    return {"head": "世帯主", "child": "子", "grandchild": "孫", "sibling": "兄弟姉妹",
            "other_relative": "その他親族", "cohabitant": "同居人"}[relationship]  # fmt: skip


@dataclass(frozen=True)
class PersonName:
    """氏名 and フリガナ."""

    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str


@dataclass(frozen=True)
class NewResident:
    """A person moving in (転入) or born (出生) into a municipality."""

    name: PersonName
    birth_date: date
    sex: str
    individual_number: str
    address: AddressInput
    moved_in_on: date
    moved_from: str = ""  # 従前の住所; empty for a birth
    household_id: str | None = None  # None: a new household, headed by this person
    relationship: str = "head"


# -- validation ---------------------------------------------------------------------------------


def today() -> date:
    return naive_utcnow().date()


def check_date(value: date, field: str, *, not_before: date | None = None,
               not_before_what: str = "") -> date:  # fmt: skip
    """A date that is not in the future, not before 1900, and not before ``not_before``."""
    if value > today():
        raise ValidationProblem(f"{field} {value.isoformat()} is in the future", field=field)
    if value < EARLIEST:
        raise ValidationProblem(f"{field} {value.isoformat()} is before 1900", field=field)
    if not_before is not None and value < not_before:
        raise ValidationProblem(
            f"{field} {value.isoformat()} is before {not_before_what} {not_before.isoformat()}",
            field=field,
        )
    return value


def parse_date(value: str, field: str) -> date:
    """``YYYY-MM-DD`` or a ValidationProblem naming the field (0000-00-00 is not a date)."""
    return parse_iso_date(value, field)


# Characters no name is written with: controls, invisible format characters (zero-width space,
# bidirectional overrides that would make a name read otherwise than it is stored), private
# use, unassigned, and line or paragraph separators. Variation selectors (category Mn) stay:
# a name's 異体字 may be written with one (邊󠄄).
_NOT_IN_NAMES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})


def check_name(name: PersonName) -> PersonName:
    for field in ("family_name", "given_name", "family_name_kana", "given_name_kana"):
        value = getattr(name, field).strip()
        if (
            not value
            or len(value) > 100
            or any(unicodedata.category(c) in _NOT_IN_NAMES for c in value)
        ):
            raise ValidationProblem(f"{field} must be 1-100 printable characters", field=field)
    for field in ("family_name_kana", "given_name_kana"):
        if not all(0x30A0 <= ord(c) <= 0x30FF for c in fold_kana(getattr(name, field))):
            raise ValidationProblem(f"{field} must be written in kana", field=field)
    return PersonName(
        name.family_name.strip(), name.given_name.strip(),
        fold_kana(name.family_name_kana), fold_kana(name.given_name_kana),
    )  # fmt: skip


def check_lg_code(lg_code: str) -> str:
    if not is_valid_lg_code(lg_code):
        raise ValidationProblem(f"lg_code {lg_code!r} is not a valid 6-digit code", field="lg_code")
    return lg_code


def _check_placement(session: Session, lg_code: str, household_id: str | None,
                     relationship: str, on: date) -> str:  # fmt: skip
    """The household a person joins (a new one if None) after checking the relationship."""
    if relationship not in RELATIONSHIPS:
        raise ValidationProblem(f"relationship must be one of {', '.join(RELATIONSHIPS)}",
                                field="relationship")  # fmt: skip
    if household_id is None:
        if relationship != "head":
            raise ValidationProblem("a new household's first member is its head",
                                    field="relationship")  # fmt: skip
        return new_id()
    members = household_members(session, lg_code, household_id, on)
    if not members:
        raise NotFound(f"no household {household_id} in {lg_code} on {on.isoformat()}")
    if relationship == "head" and any(m.relationship == "head" for m in members):
        raise HistoryConflict(f"household {household_id} already has a head",
                              field="relationship")  # fmt: skip
    return household_id


# -- reading ------------------------------------------------------------------------------------


def valid_on(when: date | None) -> Any:
    """Versions in force on ``when`` (None: the current version)."""
    if when is None:
        return ResidentVersion.valid_to.is_(None)
    return (ResidentVersion.valid_from <= when) & (
        ResidentVersion.valid_to.is_(None) | (ResidentVersion.valid_to > when)
    )


def history(session: Session, lg_code: str, resident_id: str) -> list[ResidentVersion]:
    """Every version of a resident of ``lg_code``, oldest first (NotFound)."""
    rows = session.scalars(
        select(ResidentVersion)
        .where(ResidentVersion.resident_id == resident_id, ResidentVersion.lg_code == lg_code)
        .order_by(ResidentVersion.version)
    ).all()
    if not rows:
        raise NotFound(f"no resident {resident_id} in {lg_code}")
    return list(rows)


def as_of(session: Session, lg_code: str, resident_id: str,
          when: date | None = None) -> ResidentVersion:  # fmt: skip
    """The version of a resident in force on ``when`` (now if None) (NotFound)."""
    rows = history(session, lg_code, resident_id)
    if when is None:
        return rows[-1]
    before = [r for r in rows if r.valid_from <= when]
    if not before:
        raise NotFound(f"resident {resident_id} was not registered in {lg_code} on "
                       f"{when.isoformat()} (from {rows[0].valid_from.isoformat()})")  # fmt: skip
    return before[-1]


def household_members(session: Session, lg_code: str, household_id: str,
                      when: date | None = None) -> list[ResidentVersion]:  # fmt: skip
    """The residents of a household on ``when`` (now if None), head first, then by age."""
    rows = session.scalars(
        select(ResidentVersion).where(
            ResidentVersion.lg_code == lg_code, ResidentVersion.household_id == household_id,
            ResidentVersion.status == "resident", valid_on(when),
        )
    ).all()  # fmt: skip
    return sorted(rows, key=lambda v: (v.relationship != "head", v.birth_date, v.resident_id))


def search(
    session: Session, lg_code: str, *, name: str = "", kana: str = "", when: date | None = None,
    include_former: bool = False, limit: int = 50, offset: int = 0,
) -> tuple[int, list[ResidentVersion]]:  # fmt: skip
    """Residents of ``lg_code`` whose name (or kana) contains ``name`` (``kana``), paged."""
    query = select(ResidentVersion).where(ResidentVersion.lg_code == lg_code, valid_on(when))
    if not include_former:
        query = query.where(ResidentVersion.status == "resident")
    for column, key in ((ResidentVersion.name_key, fold_name(name)),
                        (ResidentVersion.kana_key, fold_kana(kana))):  # fmt: skip
        if key:
            escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(column.like(f"%{escaped}%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(ResidentVersion.kana_key, ResidentVersion.resident_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return total, list(rows)


def find_by_individual_number(session: Session, lg_code: str, number: str) -> ResidentVersion:
    """The current version of the resident of ``lg_code`` holding ``number`` (NotFound).

    The newest registration wins where a person moved out and back in.
    """
    validate_individual_number(number)
    row = session.scalars(
        select(ResidentVersion)
        .join(ResidentIndividualNumber,
              ResidentIndividualNumber.resident_id == ResidentVersion.resident_id)
        .where(ResidentIndividualNumber.individual_number == number,
               ResidentVersion.lg_code == lg_code, ResidentVersion.valid_to.is_(None))
        .order_by(ResidentVersion.valid_from.desc())
    ).first()  # fmt: skip
    if row is None:
        raise NotFound(f"no resident of {lg_code} has that individual number")
    return row


def record_dict(version: ResidentVersion) -> dict[str, Any]:
    """A version as JSON-ready data: the record, never the individual number."""
    out: dict[str, Any] = {
        "resident_id": version.resident_id, "lg_code": version.lg_code,
        "version": version.version, "change": version.change,
        "valid_from": version.valid_from, "valid_to": version.valid_to,
    }  # fmt: skip
    out.update({field: getattr(version, field) for field in RECORD_FIELDS})
    out["sex_label"] = SEXES.get(version.sex, "")
    out["relationship_label"] = relationship_label(version.relationship, version.sex)
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in out.items()}


# -- changes ------------------------------------------------------------------------------------


def _event(topic: str, version: ResidentVersion, synthetic: bool,
           before: ResidentVersion | None) -> Event:  # fmt: skip
    after = {f: v for f, v in record_dict(version).items() if f in RECORD_FIELDS}
    data: dict[str, Any] = {
        "lg_code": version.lg_code, "synthetic": synthetic,
        "valid_from": version.valid_from.isoformat(), "after": after,
    }  # fmt: skip
    if before is not None:
        old = record_dict(before)
        data["before"] = {f: old[f] for f in RECORD_FIELDS if old[f] != after[f]}
        data["after"] = {f: after[f] for f in data["before"]}
    return Event(topic=f"resident.person.{topic}", key=version.resident_id, data=data)


def move_in(session: Session, lg_code: str, person: NewResident, *,
            synthetic: bool = False) -> ResidentVersion:  # fmt: skip
    """Register a person moving in (転入) or born (出生) — a new resident and its first version."""
    check_lg_code(lg_code)
    name = check_name(person.name)
    if person.sex not in SEXES:
        raise ValidationProblem("sex must be 1 (male) or 2 (female), ISO 5218", field="sex")
    check_date(person.birth_date, "birth_date")
    check_date(person.moved_in_on, "moved_in_on", not_before=person.birth_date,
               not_before_what="the birth date")  # fmt: skip
    number = validate_individual_number(person.individual_number)
    if person.address.lg_code != lg_code:
        raise ValidationProblem(f"a resident of {lg_code} lives in {lg_code}",
                                field="address.lg_code")  # fmt: skip
    address = resolve(session, person.address)
    household = _check_placement(session, lg_code, person.household_id, person.relationship,
                                 person.moved_in_on)  # fmt: skip
    if _number_in_use(session, number):
        raise HistoryConflict(
            "that individual number belongs to a current resident; the person must move out first",
            field="individual_number",
        )
    resident = Resident(id=new_id(), lg_code=lg_code, synthetic=synthetic)
    session.add(resident)
    session.flush()
    session.add(ResidentIndividualNumber(resident_id=resident.id, individual_number=number))
    version = ResidentVersion(
        resident_id=resident.id, version=1, lg_code=lg_code, status="resident",
        change="moved_in" if person.moved_from else "born", valid_from=person.moved_in_on,
        **_name_fields(name), birth_date=person.birth_date, sex=person.sex,
        household_id=household, relationship=person.relationship, **address.fields(),
        moved_in_on=person.moved_in_on, moved_from=person.moved_from.strip(),
    )  # fmt: skip
    session.add(version)
    session.flush()
    record_events(session, [_event("moved_in", version, synthetic, None)])
    log.info("resident moved in", extra={"resident_id": resident.id, "lg_code": lg_code})
    return version


def _number_in_use(session: Session, number: str) -> bool:
    current = (
        select(ResidentVersion.id)
        .join(ResidentIndividualNumber,
              ResidentIndividualNumber.resident_id == ResidentVersion.resident_id)
        .where(ResidentIndividualNumber.individual_number == number,
               ResidentVersion.valid_to.is_(None), ResidentVersion.status == "resident")
    )  # fmt: skip
    return bool(session.scalar(select(exists(current))))


def _name_fields(name: PersonName) -> dict[str, str]:
    return {"family_name": name.family_name, "given_name": name.given_name,
            "family_name_kana": name.family_name_kana, "given_name_kana": name.given_name_kana,
            "name_key": fold_name(name.family_name + name.given_name),
            "kana_key": fold_kana(name.family_name_kana + name.given_name_kana)}  # fmt: skip


def _current(session: Session, lg_code: str, resident_id: str, on: date,
             field: str) -> ResidentVersion:  # fmt: skip
    """The current version, if a change dated ``on`` may follow it (HistoryConflict)."""
    check_lg_code(lg_code)
    current = history(session, lg_code, resident_id)[-1]
    if current.status != "resident":
        raise HistoryConflict(f"resident {resident_id} is no longer a resident ({current.status} "
                              f"on {current.valid_from.isoformat()})")  # fmt: skip
    check_date(on, field, not_before=current.birth_date, not_before_what="the birth date")
    if on < current.valid_from:
        raise HistoryConflict(
            f"{field} {on.isoformat()} is before the resident's latest recorded change "
            f"({current.change} on {current.valid_from.isoformat()})", field=field,
        )  # fmt: skip
    return current


def _supersede(session: Session, current: ResidentVersion, topic: str, change: str, on: date,
               **changes: Any) -> ResidentVersion:  # fmt: skip
    """Close ``current`` on ``on`` and add the next version with ``changes``; record the event."""
    fields = {c.key: getattr(current, c.key) for c in ResidentVersion.__table__.columns
              if c.key not in ("id", "version", "valid_from", "valid_to", "recorded_at",
                               "change")}  # fmt: skip
    fields.update(changes)
    current.valid_to = on
    version = ResidentVersion(version=current.version + 1, change=change, valid_from=on, **fields)
    session.add(version)
    session.flush()
    synthetic = bool(session.scalar(select(Resident.synthetic).where(
        Resident.id == current.resident_id)))  # fmt: skip
    record_events(session, [_event(topic, version, synthetic, current)])
    log.info("resident %s", change, extra={"resident_id": current.resident_id,
                                          "lg_code": current.lg_code})  # fmt: skip
    return version


def move_out(session: Session, lg_code: str, resident_id: str, on: date,
             moved_to: str) -> ResidentVersion:  # fmt: skip
    """Record a move out of the municipality (転出) to ``moved_to``."""
    current = _current(session, lg_code, resident_id, on, "moved_out_on")
    if not moved_to.strip():
        raise ValidationProblem("moved_to (the new address) is required", field="moved_to")
    return _supersede(session, current, "moved_out", "moved_out", on, status="moved_out",
                      moved_out_on=on, moved_to=moved_to.strip())  # fmt: skip


def change_address(session: Session, lg_code: str, resident_id: str, on: date,
                   address: AddressInput, *, household_id: str | None = None,
                   relationship: str | None = None) -> ResidentVersion:  # fmt: skip
    """Record a move within the municipality (転居), optionally into another household."""
    current = _current(session, lg_code, resident_id, on, "changed_on")
    if address.lg_code != lg_code:
        raise ValidationProblem(f"a move to another municipality is a move out of {lg_code}",
                                field="address.lg_code")  # fmt: skip
    resolved: ResolvedAddress = resolve(session, address)
    household: dict[str, Any] = {}
    if household_id is not None or relationship is not None:
        joined = _check_placement(session, lg_code, household_id, relationship or "head", on)
        household = {"household_id": joined, "relationship": relationship or "head"}
    unchanged = all(getattr(current, f) == v for f, v in resolved.fields().items())
    if unchanged and not household:
        raise ValidationProblem("the new address is the current address", field="address")
    return _supersede(session, current, "address_changed", "address_changed", on,
                      **resolved.fields(), **household)  # fmt: skip


def change_name(session: Session, lg_code: str, resident_id: str, on: date,
                name: PersonName) -> ResidentVersion:  # fmt: skip
    """Record a change of name (氏名の変更: marriage, divorce, adoption, court permission)."""
    current = _current(session, lg_code, resident_id, on, "changed_on")
    fields = _name_fields(check_name(name))
    if all(getattr(current, f) == v for f, v in fields.items()):
        raise ValidationProblem("the new name is the current name", field="family_name")
    return _supersede(session, current, "name_changed", "name_changed", on, **fields)


def record_death(session: Session, lg_code: str, resident_id: str,
                 on: date) -> ResidentVersion:  # fmt: skip
    """Record a resident's death (死亡): the record stays as a 除票."""
    current = _current(session, lg_code, resident_id, on, "died_on")
    return _supersede(session, current, "deceased", "deceased", on, status="deceased", died_on=on)


def record_access(session: Session, *, organization: str, lg_code: str, action: str,
                  resident_ids: list[str]) -> None:  # fmt: skip
    """The access hook: who read which residents, as an outbox event ``resident.access.read``.

    Registries may not import the ledger (layers), so the mesh will forward these events to
    the transparency log (``tsunagu.ledger.append_access_record``). The event holds internal
    ids and the organization only: no names, no search terms, no individual number.
    """
    key = resident_ids[0] if len(resident_ids) == 1 else lg_code
    data = {"organization": organization, "lg_code": lg_code, "action": action,
            "resident_ids": resident_ids}  # fmt: skip
    record_events(session, [Event(topic="resident.access.read", key=key, data=data)])


def count_synthetic(session: Session, lg_code: str) -> int:
    """How many synthetic residents ``lg_code`` has (the seed generates only into none)."""
    query = select(func.count()).where(Resident.lg_code == lg_code, Resident.synthetic.is_(True))
    return int(session.scalar(query) or 0)


def current_numbers(session: Session, lg_code: str, after: str = "",
                    limit: int = 1000) -> list[tuple[str, str]]:  # fmt: skip
    """(resident id, individual number) of current residents, by id, for the municipality's own
    use — linking its residents with the hub's pseudonym service. Never sent anywhere as is."""
    query = (
        select(ResidentIndividualNumber.resident_id, ResidentIndividualNumber.individual_number)
        .join(ResidentVersion, ResidentVersion.resident_id == ResidentIndividualNumber.resident_id)
        .where(ResidentVersion.lg_code == lg_code, ResidentVersion.valid_to.is_(None),
               ResidentVersion.status == "resident",
               ResidentIndividualNumber.resident_id > after)
        .order_by(ResidentIndividualNumber.resident_id)
        .limit(limit)
    )  # fmt: skip
    return [(str(r), str(n)) for r, n in session.execute(query)]
