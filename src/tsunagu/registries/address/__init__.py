"""Address base registry (アドレス・ベース・レジストリ, ABR): tables, import, lookups, postal codes.

Public API for other contexts (the geocoder reads through ``iter_*``; rows are plain dicts keyed
by ABR column names, with ``rep_lat``/``rep_lon`` where a position is known;
``resolve_machiaza`` finds the 町字 of an address written after its municipality).
"""

from .csvfile import RowError
from .errors import AddressImportError
from .importer import FileReport, import_files
from .reading import (
    has_address_data,
    iter_blocks,
    iter_municipalities,
    iter_parcels,
    iter_prefectures,
    iter_residences,
    iter_towns,
    valid_on,
)
from .resolve import resolve_machiaza

__all__ = [
    "AddressImportError",
    "FileReport",
    "RowError",
    "has_address_data",
    "import_files",
    "iter_blocks",
    "iter_municipalities",
    "iter_parcels",
    "iter_prefectures",
    "iter_residences",
    "iter_towns",
    "resolve_machiaza",
    "valid_on",
]
