"""Resident registry (住民基本台帳), synthetic people only: residents per municipality, history.

Public API for other contexts: the services (:func:`move_in`, :func:`move_out`,
:func:`change_address`, :func:`change_name`, :func:`record_death`), the reads (:func:`as_of`,
:func:`history`, :func:`household_members`, :func:`search`, :func:`find_by_individual_number`)
and :func:`generate` (synthetic residents). Events: ``resident.person.moved_in|moved_out|
address_changed|name_changed|deceased`` keyed by the internal resident id with ``before`` and
``after``, and ``resident.access.read`` for every API read. Never the individual number.
"""

from .addresses import AddressInput, ResolvedAddress
from .errors import HistoryConflict, UnknownAddress
from .generator import REFERENCE_DATE, GenerationReport, generate
from .privacy import OwnMunicipality, Pseudonymizer, validate_individual_number
from .services import (
    NewResident,
    PersonName,
    as_of,
    change_address,
    change_name,
    count_synthetic,
    current_numbers,
    find_by_individual_number,
    history,
    household_members,
    move_in,
    move_out,
    record_access,
    record_death,
    record_dict,
    search,
)

__all__ = [
    "REFERENCE_DATE",
    "AddressInput",
    "GenerationReport",
    "HistoryConflict",
    "NewResident",
    "OwnMunicipality",
    "PersonName",
    "Pseudonymizer",
    "ResolvedAddress",
    "UnknownAddress",
    "as_of",
    "change_address",
    "change_name",
    "count_synthetic",
    "current_numbers",
    "find_by_individual_number",
    "generate",
    "history",
    "household_members",
    "move_in",
    "move_out",
    "record_access",
    "record_death",
    "record_dict",
    "search",
    "validate_individual_number",
]
