"""Personal-data access records (番号法23条 records, as in Estonia's Data Tracker) and their
salted commitments, which are what the public log holds.

The public entry is ``tsunagu/access-record/v1 <base64 SHA-256(salt || record)>``: it proves the
record existed at its position without telling anyone who was looked up, by whom, or why.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from tsunagu.kernel import (
    InputModel,
    ValidationProblem,
    is_valid_corporate_number,
    is_valid_individual_number,
)

from .note import b64

ENTRY_PREFIX = b"tsunagu/access-record/v1 "
SALT_BYTES = 16
_TWELVE_DIGITS = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


class Organization(InputModel):
    """An organization by its member id (``JP/GOV/{法人番号}[/sub]``) and its name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=120)
    name: str = Field(min_length=1, max_length=200)

    @field_validator("id")
    @classmethod
    def _member_id(cls, value: str) -> str:
        parts = value.split("/")
        if len(parts) < 3 or parts[0] != "JP" or parts[1] not in {"GOV", "MUN", "COM", "NPO"}:
            raise ValueError("member id is JP/{GOV|MUN|COM|NPO}/{corporate number}[/{subsystem}]")
        if not is_valid_corporate_number(parts[2]):
            raise ValueError(f"{parts[2]!r} is not a valid corporate number (法人番号)")
        return value


class AccessRecordIn(InputModel):
    """Who accessed whose data, which items, why, under which law, in which case and message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accessed_at: datetime
    requester: Organization  # 照会機関
    provider: Organization  # 提供機関
    pseudonym: str = Field(min_length=1, max_length=200)  # the provider's 情報提供用個人識別符号
    data_items: tuple[str, ...] = Field(min_length=1, max_length=100)
    purpose: str = Field(min_length=1, max_length=500)
    legal_basis: str = Field(min_length=1, max_length=200)  # law article id, e.g. 325AC...#Art19
    case_id: str = Field(min_length=1, max_length=200)
    message_id: str = Field(min_length=1, max_length=200)
    hidden_until: datetime | None = None  # investigations: shown to the person after this

    @field_validator("accessed_at", "hidden_until")
    @classmethod
    def _naive_utc(cls, value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value  # naive datetimes are UTC throughout tsunagu
        return value.astimezone(UTC).replace(tzinfo=None)


def _no_individual_number(record: AccessRecordIn) -> None:
    """Refuse any field carrying a 12-digit number that passes the My Number check digit."""
    for name, value in record.model_dump(mode="json").items():
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            if not isinstance(text, str):
                continue
            for match in _TWELVE_DIGITS.finditer(text.replace("-", "").replace(" ", "")):
                if is_valid_individual_number(match.group()):
                    raise ValidationProblem(
                        "an access record must never hold an individual number (個人番号); "
                        "use the provider's pseudonym",
                        field=name,
                    )


def canonical(record: AccessRecordIn) -> str:
    """The committed form: JSON, sorted keys, no spaces, UTF-8 text as is."""
    _no_individual_number(record)
    body: dict[str, Any] = record.model_dump(mode="json")
    body["v"] = 1
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def commitment_entry(salt: bytes, record_json: str) -> bytes:
    """The public log entry for a record: a salted SHA-256 commitment."""
    digest = hashlib.sha256(salt + record_json.encode("utf-8")).digest()
    return ENTRY_PREFIX + b64(digest).encode("ascii")
