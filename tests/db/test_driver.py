"""DriverStatement writes exactly the rows Core writes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from tsunagu.db.driver import DriverStatement
from tsunagu.mesh.models import MessageRecord

TABLE = cast(Table, MessageRecord.__table__)
KEYS = [c.key for c in TABLE.c if c.key != "id" and not c.key.startswith("batch_")]
ROW = {
    "side": "provider",
    "client": "JP/GOV/7000012050002/tax",
    "service": "JP/MUN/6000020302015/residents/basic4",
    "purpose": "課税のため",  # non-ASCII text
    "request_signature": "eyJhbGciOiJFUzI1NiJ9..c2ln",
    "duration_ms": 12.5,
    "created_at": datetime(2026, 11, 26, 22, 30, 1, 123456, tzinfo=UTC).replace(tzinfo=None),
}


def _row(connection: Connection, record_id: int) -> dict[str, Any]:
    found = connection.execute(select(TABLE).where(TABLE.c.id == record_id)).one()
    return {k: v for k, v in found._mapping.items() if k != "id"}


def test_an_insert_and_an_update_store_what_core_stores(connection: Connection) -> None:
    driver = DriverStatement(TABLE, insert(TABLE).returning(TABLE.c.id), KEYS)
    cursor = driver.execute(connection, {**ROW, "message_id": "driver"})
    ours = int(cursor.fetchone()[0])
    cursor.close()
    theirs = connection.execute(
        insert(TABLE).returning(TABLE.c.id), {**ROW, "message_id": "core"}
    ).scalar_one()
    mine, core = _row(connection, ours), _row(connection, theirs)
    assert mine.pop("message_id") == "driver" and core.pop("message_id") == "core"
    assert mine == core
    assert mine["created_at"] == ROW["created_at"] and mine["method"] == "GET"  # a default
    assert mine["status"] == 0 and mine["batch_path"] is None  # JSON left out: NULL

    finish = update(TABLE).where(TABLE.c.id == bindparam("record_id"), TABLE.c.batch_id.is_(None))
    done = {"status": 200, "response_digest": "ZGlnZXN0", "duration_ms": 3.25}
    DriverStatement(TABLE, finish).execute(connection, {"record_id": ours, **done}).close()
    connection.execute(finish, {"record_id": theirs, **done})
    mine, core = _row(connection, ours), _row(connection, theirs)
    assert mine.pop("message_id") != core.pop("message_id")
    assert mine == core and mine["status"] == 200 and mine["duration_ms"] == 3.25


def test_a_constraint_violation_is_sqlalchemys_integrity_error(connection: Connection) -> None:
    driver = DriverStatement(TABLE, insert(TABLE).returning(TABLE.c.id), KEYS)
    driver.execute(connection, {**ROW, "message_id": "once"}).close()
    savepoint = connection.begin_nested()
    with pytest.raises(IntegrityError):  # (side, client, message_id) is unique: a replay
        driver.execute(connection, {**ROW, "message_id": "once"})
    savepoint.rollback()
    assert connection.execute(select(TABLE.c.id).where(TABLE.c.message_id == "once")).all()


def test_a_select_reads_what_core_reads(connection: Connection) -> None:
    """JSON and booleans through their result processors, a literal's own value, and one
    parameter used twice (positional on SQLite, named on PostgreSQL)."""
    from sqlalchemy import literal, or_

    from tsunagu.mesh.models import MeshService

    services = cast(Table, MeshService.__table__)
    connection.execute(
        insert(services),
        [
            {"subsystem": "residents", "code": "basic4", "title": "基本4情報",
             "backend": "resident", "personal_data": True, "data_items": ["name", "address"]},
            {"subsystem": "open", "code": "basic4", "title": "公開", "backend": "url",
             "personal_data": False, "data_items": []},
        ],
    )  # fmt: skip
    query = (
        select(
            services.c.subsystem,
            services.c.personal_data,
            services.c.data_items,
            (literal("svc:") + services.c.code).label("name"),
        )
        .where(or_(services.c.code == bindparam("code"), services.c.title == bindparam("code")))
        .order_by(services.c.subsystem)
    )
    driver = DriverStatement(services, query)
    for code in ("basic4", "公開", "none"):
        ours = driver.rows(connection, {"code": code})
        theirs = [tuple(row) for row in connection.execute(query, {"code": code})]
        assert ours == theirs
    assert driver.rows(connection, {"code": "basic4"}) == [
        ("open", False, [], "svc:basic4"),
        ("residents", True, ["name", "address"], "svc:basic4"),
    ]


def test_rows_sent_together_store_what_core_stores(connection: Connection) -> None:
    plain = DriverStatement(TABLE, insert(TABLE), KEYS)
    plain.execute_many(connection, [{**ROW, "message_id": f"many-{i}"} for i in range(3)])
    connection.execute(insert(TABLE), [{**ROW, "message_id": "core"}])
    ids: dict[str, int] = dict(connection.execute(select(TABLE.c.message_id, TABLE.c.id)).all())
    core = _row(connection, ids.pop("core"))
    assert sorted(ids) == ["many-0", "many-1", "many-2"]
    for message_id, record_id in ids.items():
        mine = _row(connection, record_id)
        assert mine.pop("message_id") == message_id
        assert mine == {k: v for k, v in core.items() if k != "message_id"}

    finish = update(TABLE).where(TABLE.c.id == bindparam("record_id"), TABLE.c.batch_id.is_(None))
    done = [
        {"record_id": ids["many-0"], "status": 200},
        {"record_id": ids["many-2"], "status": 503},
    ]
    DriverStatement(TABLE, finish).execute_many(connection, done)
    statuses = {m: _row(connection, i)["status"] for m, i in ids.items()}
    assert statuses == {"many-0": 200, "many-1": 0, "many-2": 503}
    DriverStatement(TABLE, finish).execute_many(connection, [])  # nothing to send: no error


def test_one_violation_among_rows_sent_together_is_integrity_error(connection: Connection) -> None:
    plain = DriverStatement(TABLE, insert(TABLE), KEYS)
    savepoint = connection.begin_nested()
    with pytest.raises(IntegrityError):
        plain.execute_many(connection, [{**ROW, "message_id": m} for m in ("p", "q", "p")])
    savepoint.rollback()  # the caller's way back: none of the three stays
    left = select(TABLE.c.id).where(TABLE.c.message_id.in_(["p", "q"]))
    assert not connection.execute(left).all()
