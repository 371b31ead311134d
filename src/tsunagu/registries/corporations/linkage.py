"""Linking corporations' seats to the address registry (アドレス・ベース・レジストリ).

Every row gets its 団体コード (``lg_code``) at import, from the NTA's prefecture and city codes.
The town (町字, ``machiaza_id``) needs the address registry: this step looks for a resolver in
:mod:`tsunagu.registries.address`'s public API — a function
``resolve_machiaza(session, lg_code, text) -> str | None`` — and does nothing when the package
or the function is not there (the registries are built independently).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import CorporationRecord

Resolver = Callable[[Session, str, str], "str | None"]


def address_resolver() -> Resolver | None:
    """The address registry's town resolver, if that registry is installed."""
    try:
        address: Any = importlib.import_module("tsunagu.registries.address")
    except ImportError:
        return None
    resolver = getattr(address, "resolve_machiaza", None)
    return resolver if callable(resolver) else None


def link_addresses(session: Session, resolver: Resolver | None = None) -> int:
    """Fill ``machiaza_id`` of current rows that have none; returns how many were linked."""
    resolver = resolver or address_resolver()
    if resolver is None:
        return 0
    linked = 0
    rows = session.execute(
        select(CorporationRecord.id, CorporationRecord.lg_code, CorporationRecord.street_number)
        .where(CorporationRecord.current.is_(True), CorporationRecord.machiaza_id.is_(None),
               CorporationRecord.lg_code.is_not(None))
    ).all()  # fmt: skip
    for row_id, lg_code, street in rows:
        machiaza = resolver(session, str(lg_code), str(street))
        if machiaza:
            session.execute(
                update(CorporationRecord).where(CorporationRecord.id == row_id)
                .values(machiaza_id=machiaza[:7])
            )  # fmt: skip
            linked += 1
    return linked
