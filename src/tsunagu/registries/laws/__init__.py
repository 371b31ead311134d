"""Laws registry (法令): e-Gov 法令API v2 JSON and 法令標準XML, revisions, addressable units.

Public API: :func:`import_law_file`, :func:`revision_as_of`, :func:`unit_path`,
:func:`get_unit`, :func:`search`. Mesh access rules cite a unit as
``{law_id}/article/{n}[/paragraph/{n}[/item/{n}]]``. Events: ``law.revision.added``,
``law.revision.body_changed``.
"""

from .importer import LawImportProblem, LawImportReport, import_law_file
from .services import citation, get_law, get_unit, revision_as_of, search, unit_path

__all__ = [
    "LawImportProblem",
    "LawImportReport",
    "citation",
    "get_law",
    "get_unit",
    "import_law_file",
    "revision_as_of",
    "search",
    "unit_path",
]
