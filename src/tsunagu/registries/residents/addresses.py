"""Residents' addresses, checked against the address registry through its public read API.

An address names the registry's keys (``lg_code``, ``machiaza_id``, and for 住居表示 areas
``blk_id``, ``rsdt_id``, ``rsdt2_id``) plus ``detail`` (番地, building, room) that the registry
does not hold. Where the registry has the municipality's towns (or residences) loaded, the keys
must exist there and the address text is written from the registry's names; where it has
nothing for the municipality, the caller's text is kept and the address is ``unverified``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tsunagu.kernel import ValidationProblem
from tsunagu.registries.address import iter_residences, iter_towns

from .errors import UnknownAddress

TOWN_PARTS = ("pref", "county", "city", "ward", "oaza_cho", "chome", "koaza")


@dataclass(frozen=True)
class AddressInput:
    """An address as a caller gives it: registry keys, and the rest as free text."""

    lg_code: str
    machiaza_id: str | None = None
    blk_id: str | None = None
    rsdt_id: str | None = None
    rsdt2_id: str | None = None
    detail: str = ""  # 番地, 方書 (building, room) — what the registry does not hold
    text: str = ""  # the whole address, used only where the registry has nothing to check


@dataclass(frozen=True)
class ResolvedAddress:
    """An address as stored on a resident's version."""

    lg_code: str
    machiaza_id: str | None
    blk_id: str | None
    rsdt_id: str | None
    rsdt2_id: str | None
    level: str  # residence | town | unverified
    text: str

    def fields(self) -> dict[str, Any]:
        return {"address_lg_code": self.lg_code, "machiaza_id": self.machiaza_id,
                "blk_id": self.blk_id, "rsdt_id": self.rsdt_id, "rsdt2_id": self.rsdt2_id,
                "address_level": self.level, "address_text": self.text}  # fmt: skip


def town_text(town: Mapping[str, Any]) -> str:
    """都道府県 to 小字 of a town row, as written on a 住民票."""
    return "".join(str(town.get(part) or "") for part in TOWN_PARTS)


def residence_text(town: Mapping[str, Any], rsdt: Mapping[str, Any]) -> str:
    """A 住居表示 address: the town, then ``{街区符号}番{住居番号}号`` (and ``-{住居番号2}``)."""
    number = f"{rsdt['blk_num']}番{rsdt['rsdt_num']}号"
    if rsdt.get("rsdt_num2"):
        number += f"-{rsdt['rsdt_num2']}"
    return town_text(town) + number


def resolve(session: Session, given: AddressInput) -> ResolvedAddress:
    """Check ``given`` against the registry and write its text (UnknownAddress, Validation)."""
    detail = given.detail.strip()
    towns = {t["machiaza_id"]: t for t in iter_towns(session, [given.lg_code])}
    if not towns:
        text = given.text.strip()
        if not text:
            raise ValidationProblem(
                f"the address registry has no towns of {given.lg_code}; give the address text",
                field="address.text",
            )
        return ResolvedAddress(given.lg_code, given.machiaza_id, given.blk_id, given.rsdt_id,
                               given.rsdt2_id, "unverified", text)  # fmt: skip
    if not given.machiaza_id:
        raise ValidationProblem("address.machiaza_id is required", field="address.machiaza_id")
    town = towns.get(given.machiaza_id)
    if town is None:
        raise UnknownAddress(
            f"town {given.machiaza_id} is not in the address registry for {given.lg_code}",
            field="address.machiaza_id",
        )
    if given.blk_id is None and given.rsdt_id is None:
        return ResolvedAddress(given.lg_code, given.machiaza_id, None, None, None, "town",
                               town_text(town) + detail)  # fmt: skip
    if not (given.blk_id and given.rsdt_id):
        raise ValidationProblem(
            "a residence needs both blk_id and rsdt_id", field="address.rsdt_id"
        )
    rsdt, any_loaded = _find_residence(session, given)
    if rsdt is None:
        if any_loaded:
            raise UnknownAddress(
                f"residence {given.machiaza_id}-{given.blk_id}-{given.rsdt_id} is not in the "
                f"address registry for {given.lg_code}",
                field="address.rsdt_id",
            )
        # The residences of the municipality are not loaded: the town is all we can check.
        return ResolvedAddress(given.lg_code, given.machiaza_id, given.blk_id, given.rsdt_id,
                               given.rsdt2_id, "town", town_text(town) + detail)  # fmt: skip
    return ResolvedAddress(given.lg_code, given.machiaza_id, given.blk_id, given.rsdt_id,
                           given.rsdt2_id or None, "residence",
                           residence_text(town, rsdt) + detail)  # fmt: skip


def _find_residence(session: Session, given: AddressInput) -> tuple[dict[str, Any] | None, bool]:
    """The residence row of ``given`` (or None) and whether any residence of its area is loaded.

    The public read API streams a municipality in key order; we stop once past the town.
    """
    wanted = (given.machiaza_id, given.blk_id, given.rsdt_id, given.rsdt2_id or None)
    rows = iter_residences(session, [given.lg_code])
    try:
        return _scan(rows, wanted)
    finally:
        # Stopping early must close the stream (PostgreSQL's server-side cursor) now.
        close = getattr(rows, "close", None)
        if close is not None:
            close()


def _scan(
    rows: Iterator[dict[str, Any]], wanted: tuple[str | None, ...]
) -> tuple[dict[str, Any] | None, bool]:
    seen = False
    for row in rows:
        seen = True
        if row["machiaza_id"] > (wanted[0] or ""):
            break
        if (row["machiaza_id"], row["blk_id"], row["rsdt_id"], row["rsdt2_id"]) == wanted:
            return row, True
    return None, seen


def towns_by_id(session: Session, lg_code: str) -> dict[str, dict[str, Any]]:
    """The towns of a municipality by machiaza_id (for the generator)."""
    return {t["machiaza_id"]: t for t in iter_towns(session, [lg_code])}


def residences(session: Session, lg_code: str) -> Iterable[dict[str, Any]]:
    """The 住居表示 residences of a municipality (for the generator)."""
    return iter_residences(session, [lg_code])
