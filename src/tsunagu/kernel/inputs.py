"""The base of every request body: what all input must satisfy, whatever the model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator


def nul_path(value: Any) -> str | None:
    """Where the first NUL character (U+0000) in ``value`` is — ``key``, ``a.b``, ``a[2]`` —
    in a string, a key or any object or list nested in it; None if it holds none.

    A loop over a stack, not recursion: a body nested as deep as the JSON parser allows must not
    exhaust the interpreter's stack here.
    """
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path or "the value"
        elif isinstance(item, dict):
            for key, inner in reversed(list(item.items())):
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and "\x00" in key:
                    return where.replace("\x00", "\\0")
                stack.append((inner, where))
        elif isinstance(item, list | tuple):
            stack.extend((inner, f"{path}[{i}]") for i, inner in reversed(list(enumerate(item))))
    return None


class InputModel(BaseModel):
    """A request body. PostgreSQL's text cannot hold NUL (the statement fails: a 500) and SQLite
    stores it, so a NUL anywhere in the input, nested objects and lists included, is refused
    as a validation error that names where it is (422 problem+json, or the CKAN API's error)."""

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        where = nul_path(data)
        if where is not None:
            where = where if len(where) <= 200 else where[:200] + "…"
            raise ValueError(f"{where} contains a NUL character")
        return data
