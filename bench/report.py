"""docs/benchmarks.md is shared: each benchmark replaces only its own ``## `` section."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(heading: str, text: str, doc_path: Path = DOC) -> None:
    """Replace the section that starts with ``heading`` (or append it) with ``text``.

    ``text`` starts with the heading line itself; the section ends at the next ``## ``.
    """
    doc = doc_path.read_text(encoding="utf-8") if doc_path.exists() else "# Benchmarks\n"
    if heading in doc:
        head, _, rest = doc.partition(heading)
        tail = rest.split("\n## ", 1)
        doc = head + text.rstrip("\n") + "\n" + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    doc_path.write_text(doc.rstrip("\n") + "\n", encoding="utf-8")
