"""The migrations build exactly the schema the models describe, and run both ways."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect

from tsunagu.app import all_metadata
from tsunagu.db import current_revision, head_revision
from tsunagu.db.migrate import alembic_config, migrate_connection


def _include(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    return not (type_ == "table" and name and name.startswith(("dataset_fts", "dataset_search")))


def test_models_and_migrations_agree(connection: Connection) -> None:
    context = MigrationContext.configure(
        connection, opts={"include_object": _include, "compare_type": True}
    )
    assert compare_metadata(context, all_metadata()) == []


def test_database_is_at_every_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()


def test_downgrade_to_base_and_upgrade_again(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "base")
    assert "dataset" not in inspect(connection).get_table_names()
    migrate_connection(connection)
    assert {"dataset", "event_outbox"} <= set(inspect(connection).get_table_names())
