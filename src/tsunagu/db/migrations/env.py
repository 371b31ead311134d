"""Alembic environment: uses the connection handed in by tsunagu.db.migrate, or the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

config = context.config
# The composition root (or the autogenerate helper) hands in the full metadata; running the
# frozen migrations needs none, which keeps this package free of imports from the contexts.
target_metadata = config.attributes.get("target_metadata")


def _include(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # The full-text index tables are dialect-specific and managed by hand in the migrations.
    return not (type_ == "table" and name and name.startswith(("dataset_fts", "dataset_search")))


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        include_object=_include,
        render_as_batch=True,  # SQLite needs batch mode for ALTER TABLE
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
