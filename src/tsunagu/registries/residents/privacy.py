"""Privacy rules of the resident registry: the individual number and the hooks the mesh fills.

The individual number (個人番号, マイナンバー, 番号法) is validated here and written only to
``resident_individual_number``. It never appears in an exception message, a log line, an event,
a URL or an API response: problems say *what* is wrong with it, never what it was.
"""

from __future__ import annotations

from typing import Protocol

from tsunagu.kernel import ValidationProblem, is_valid_individual_number


def validate_individual_number(value: str, field: str = "individual_number") -> str:
    """Return ``value`` if it is 12 digits with a correct check digit (番号法施行規則 第5条)."""
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        raise ValidationProblem(f"{field} must be 12 ASCII digits", field=field)
    if not is_valid_individual_number(value):
        raise ValidationProblem(f"{field} has a wrong check digit", field=field)
    return value


class Pseudonymizer(Protocol):
    """How another organization will know a resident: 情報提供用個人識別符号-like pseudonyms.

    The hub's pseudonym service (the mesh) will implement this; until then residents are shown
    only to their own municipality, which knows them by the internal id.
    """

    def pseudonym(self, resident_id: str, organization: str) -> str: ...


class OwnMunicipality:
    """The pseudonymizer for the resident's own municipality: the internal id, unchanged."""

    def pseudonym(self, resident_id: str, organization: str) -> str:
        return resident_id
