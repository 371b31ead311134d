"""The docs cover every setting, CLI command, make target and route (as Datasette's test_docs)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tsunagu.cli import main
from tsunagu.kernel import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def all_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"`TSUNAGU_{name.upper()}`" in (DOCS / "configuration.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "tsunagu") -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += _commands(command, path)
        else:
            found.append(path)
    return found


@pytest.mark.parametrize("command", sorted(_commands(main)))
def test_every_cli_command_is_documented(command: str) -> None:
    assert f"`{command}" in (DOCS / "cli.md").read_text(encoding="utf-8")


def test_every_make_target_is_documented() -> None:
    targets = re.findall(r"^([a-z-]+):.*## ", (ROOT / "Makefile").read_text(), re.MULTILINE)
    setup = (DOCS / "setup.md").read_text(encoding="utf-8")
    assert targets
    for target in targets:
        assert f"make {target}" in setup, target


def test_every_route_is_documented(app: FastAPI) -> None:
    text = all_docs()
    missing = [
        route.path for route in app.routes if isinstance(route, APIRoute) and route.path not in text
    ]
    assert missing == []


def test_readme_starts_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    code = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert [line.split("#")[0].strip() for line in code] == ["make run", "make test"]
