"""The base of every request body: what all input must satisfy, whatever the model."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, model_validator

# NUL, which PostgreSQL's text cannot hold, and lone surrogates (JSON's "\ud800"), which are
# no Unicode text and cannot be encoded as UTF-8 for either database or any answer.
_UNFIT = re.compile("[\x00\ud800-\udfff]")
_WHAT = {True: "a NUL character", False: "an unpaired surrogate (not Unicode text)"}


def unfit_text(value: Any) -> tuple[str, str] | None:
    """Where the first NUL or lone surrogate in ``value`` is — ``key``, ``a.b``, ``a[2]`` — in
    a string, a key or any object or list nested in it, and which of the two; None if none.

    A loop over a stack, not recursion: a body nested as deep as the JSON parser allows must not
    exhaust the interpreter's stack here.
    """
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            found = _UNFIT.search(item)
            if found:
                return path or "the value", _WHAT[found.group() == "\x00"]
        elif isinstance(item, dict):
            for key, inner in reversed(list(item.items())):
                where = f"{path}.{key}" if path else str(key)
                found = _UNFIT.search(key) if isinstance(key, str) else None
                if found:
                    return _UNFIT.sub("?", where), _WHAT[found.group() == "\x00"]
                stack.append((inner, where))
        elif isinstance(item, list | tuple):
            stack.extend((inner, f"{path}[{i}]") for i, inner in reversed(list(enumerate(item))))
    return None


def unfit_text_error(value: Any) -> tuple[str, str] | None:
    """(top-level field, message) for :func:`unfit_text`'s finding in ``value``, else None."""
    found = unfit_text(value)
    if found is None:
        return None
    where, what = found
    field = re.split(r"[.\[]", where, maxsplit=1)[0]
    return field, f"{where if len(where) <= 200 else where[:200] + '…'} contains {what}"


class InputModel(BaseModel):
    """A request body. PostgreSQL's text cannot hold NUL (the statement fails: a 500) and SQLite
    stores it; a lone surrogate fails to encode wherever it goes (a 500, or an answer cut off
    mid-stream). So either, anywhere in the input, nested objects and lists included, is
    refused as a validation error that names where it is (422 problem+json, or the CKAN API's
    error)."""

    @model_validator(mode="before")
    @classmethod
    def _fit_text(cls, data: Any) -> Any:
        found = unfit_text_error(data)
        if found is not None:
            raise ValueError(found[1])
        return data
