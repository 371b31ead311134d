"""Errors of the address registry, rendered as problem+json by the API."""

from __future__ import annotations

from tsunagu.kernel import Problem


class AddressImportError(Problem):
    """A file could not be imported at all (unreadable zip, wrong header); nothing was written."""

    slug = "address-import-error"
    title = "The address file cannot be imported"
    status = 422
