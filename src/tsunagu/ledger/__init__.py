"""The transparency log: an append-only Merkle tree (RFC 9162) served as C2SP tlog tiles.

Public API for other contexts: append access records (the mesh), read a person's records (the
portal), and the proof and note primitives for offline verification.
"""

from .models import AccessRecord
from .records import AccessRecordIn, Organization
from .services import (
    append_access_record,
    append_access_records,
    append_entries,
    records_for_person,
)

__all__ = [
    "AccessRecord",
    "AccessRecordIn",
    "Organization",
    "append_access_record",
    "append_access_records",
    "append_entries",
    "records_for_person",
]
