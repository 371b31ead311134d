"""Errors of the quality checks: files that cannot be read as tables, and why."""

from __future__ import annotations

from tsunagu.kernel import Problem


class UnreadableFile(Problem):
    """Not a CSV or XLSX file we can read: a broken zip, legacy .xls, binary data."""

    slug = "quality-unreadable-file"
    title = "The file cannot be read as a table"
    status = 422


class UnknownEncoding(Problem):
    """A text file in none of UTF-8, UTF-16, Shift_JIS/CP932, EUC-JP or ISO-2022-JP."""

    slug = "quality-unknown-encoding"
    title = "The file's character encoding is not known"
    status = 422


class MacroWorkbook(Problem):
    """A workbook with VBA macros (.xlsm, vbaProject.bin): never opened."""

    slug = "quality-macro-workbook"
    title = "The workbook contains macros"
    status = 422


class FileTooLarge(Problem):
    """Over ``quality_max_bytes`` (or a zip that would expand past it)."""

    slug = "quality-file-too-large"
    title = "The file is too large to check"
    status = 413
