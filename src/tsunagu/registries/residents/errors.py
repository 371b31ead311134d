"""Errors of the resident registry; messages never repeat an individual number back."""

from __future__ import annotations

from tsunagu.kernel import Conflict, ValidationProblem


class UnknownAddress(ValidationProblem):
    """The address is not in the address registry, though that municipality's data is loaded."""

    slug = "unknown-address"
    title = "The address is not in the address registry"


class HistoryConflict(Conflict):
    """The change contradicts the resident's recorded history (dated earlier, after moving out)."""

    slug = "history-conflict"
    title = "The change conflicts with the resident's history"
