"""Fixtures of the address registry tests: the real ABR files and modified copies of them."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import SHARED

ABR = SHARED / "abr-data"


def read_csv(path: Path) -> tuple[str, str, tuple[int, ...]]:
    """(member name, CSV text, zip date) of a one-CSV zip."""
    with zipfile.ZipFile(path) as archive:
        info = archive.infolist()[0]
        return info.filename, archive.read(info).decode("utf-8-sig"), info.date_time


def write_zip(path: Path, member: str, text: str, when: date, bom: bool = False) -> Path:
    """A zip holding one CSV named ``member`` dated ``when`` (the publisher's file date)."""
    info = zipfile.ZipInfo(member, date_time=(when.year, when.month, when.day, 12, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    data = ("\ufeff" if bom else "") + text
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(info, data.encode("utf-8"))
    return path


MakeZip = Callable[..., Path]


@pytest.fixture
def make_zip(tmp_path: Path) -> MakeZip:
    """Write a modified ABR file: ``make_zip(name, member, lines, when)``."""

    def make(name: str, member: str, lines: list[str], when: date, bom: bool = False) -> Path:
        return write_zip(tmp_path / name, member, "\r\n".join(lines) + "\r\n", when, bom)

    return make


def slice_lines(path: Path, keep: Callable[[str], bool]) -> list[str]:
    """Header and the lines of an ABR zip for which ``keep`` is true."""
    _, text, _ = read_csv(path)
    header, *rows = text.splitlines()
    return [header, *(r for r in rows if keep(r))]


def corrupt_middle(path: Path, target: Path) -> Path:
    """A copy whose compressed data is damaged halfway (the zip directory stays readable)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    for i in range(middle, middle + 64):
        data[i] ^= 0xFF
    target.write_bytes(bytes(data))
    return target
