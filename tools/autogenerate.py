"""Developer helper: write a new Alembic revision by comparing the models to the migrations.

Usage: .venv/bin/python tools/autogenerate.py "message"
"""

import sys
import tempfile

from alembic import command

from tsunagu.app import all_metadata
from tsunagu.db import make_engine
from tsunagu.db.migrate import alembic_config

with tempfile.TemporaryDirectory() as tmp:
    engine = make_engine(f"sqlite:///{tmp}/autogen.sqlite3")
    with engine.begin() as connection:
        config = alembic_config(connection)
        command.upgrade(config, "head")
        config.attributes["target_metadata"] = all_metadata()
        command.revision(config, message=sys.argv[1], autogenerate=True)
