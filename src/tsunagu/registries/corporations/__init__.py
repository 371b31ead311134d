"""Corporate registry (法人番号): NTA and gBizINFO imports, history, lookups and change events.

Public API for other contexts: :func:`import_file`, :func:`as_of`, :func:`history`,
:func:`search_by_name`, :func:`diff`, :func:`link_addresses`. Events:
``corporation.record.<new|renamed|moved|closed|revived|merged|merger_invalidated|struck_off|
deleted|corrected>`` keyed by the 13-digit corporate number, with ``before`` and ``after``.
"""

from .importer import ImportProblem, ImportReport, import_file, import_many
from .linkage import link_addresses
from .normalize import lg_code, name_key
from .services import as_of, diff, history, record_dict, search_by_name

__all__ = [
    "ImportProblem",
    "ImportReport",
    "as_of",
    "diff",
    "history",
    "import_file",
    "import_many",
    "lg_code",
    "link_addresses",
    "name_key",
    "record_dict",
    "search_by_name",
]
