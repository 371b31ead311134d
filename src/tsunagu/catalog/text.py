"""Text normalization and tokenization for Japanese full-text search.

Why by hand: Japanese has no spaces between words, so whitespace tokenizers (CKAN's Solr
default, SQLite's unicode61, PostgreSQL's parser) see a whole sentence as one token, and trigram
indexes cannot find 1- and 2-character words (人口, 税, バス; ckan#7413). Morphological analyzers
(MeCab, Sudachi) need dictionaries and still miss new compounds. We index every CJK/kana run as
character unigrams and bigrams and search a term as the AND of its bigrams (or its unigram).
The same token strings feed SQLite FTS5 and PostgreSQL tsvector, so both return the same hits.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

MAX_QUERY_CHARS = 200
MAX_QUERY_TOKENS = 40


def normalize(text: str) -> str:
    """NFKC (full/half width), case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana (incl. ー)
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= code <= 0x3FFFF  # extensions B and later
        or ch == "々"
    )


def _is_word(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN"


def runs(text: str) -> Iterator[tuple[bool, str]]:
    """Split normalized text into (is_cjk, run) pieces; everything else separates."""
    current: list[str] = []
    current_cjk = False
    for ch in text:
        if _is_cjk(ch):
            kind: bool | None = True
        elif _is_word(ch):
            kind = False
        else:
            kind = None
        if current and (kind is None or kind != current_cjk):
            yield current_cjk, "".join(current)
            current = []
        if kind is not None:
            current_cjk = kind
            current.append(ch)
    if current:
        yield current_cjk, "".join(current)


def index_tokens(text: str) -> list[str]:
    """Tokens to index for a field: CJK unigrams and bigrams, and whole non-CJK words."""
    tokens: list[str] = []
    for is_cjk, run in runs(normalize(text)):
        if is_cjk:
            tokens.extend(run)
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run)
    return tokens


def query_tokens(query: str) -> list[str]:
    """Tokens that must all match for ``query``: unigram for 1 CJK char, bigrams for longer runs.

    Any syntax characters (quotes, ``*``, parentheses, operators) are separators here, so user
    input never reaches the FTS query language as syntax.
    """
    tokens: list[str] = []
    for is_cjk, run in runs(normalize(query)):
        if is_cjk and len(run) >= 2:
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run)
    seen: set[str] = set()
    unique = [t for t in tokens if not (t in seen or seen.add(t))]  # type: ignore[func-returns-value]
    return unique


def sort_key(text: str) -> str:
    """A collation-free sort key that orders the same on SQLite and PostgreSQL."""
    return normalize(text)[:500]
