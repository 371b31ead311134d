"""Deterministic synthetic catalog built from real names and real data terms.

Municipalities (and one organization each) come from the Address Base Registry's
``mt_city_all.csv.zip``; title/description terms are harvested from the titles and tags of the
Tokyo Metropolitan Government CKAN dump and from data.go.jp's tag list; formats and licence shares
follow data.go.jp's format/licence counts. Only the combinations are synthetic.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from pathlib import Path

GENERATOR_VERSION = 1
SEED = 20261126

STANDARDS = Path(__file__).resolve().parents[2] / "shared" / "standards"
MT_CITY = STANDARDS / "abr-data" / "mt_city_all.csv.zip"
DUMPS = STANDARDS / "jp-catalog-dumps"
TOKYO = DUMPS / "tokyo-metro-ckan-package_show" / "tokyo_package_show.jsonl.gz"
DGJ = STANDARDS / "jp-catalog-dumps" / "data-go-jp-resources-2022"

# Terms the benchmark queries rely on; added (with a modest weight) only if the harvest missed them.
REQUIRED_TERMS = (
    "人口", "世帯", "税", "バス", "保育所", "避難所", "介護保険", "人口統計", "保育園",
)  # fmt: skip
# data.go.jp licence shares (CC-BY 241k, 政府標準利用規約 104k, blank 3k) mapped to our ids, with
# a small tail of the other licences the catalog knows.
LICENCE_WEIGHTS = (
    ("cc-by-4.0", 690),
    ("gov-std-2.0", 280),
    ("pdl-1.0", 15),
    ("cc-zero", 6),
    ("cc-by-nd-4.0", 3),
    ("notspecified", 6),
)
YEARS = [f"平成{n}年度" for n in range(20, 31)] + [f"令和{n}年度" for n in range(1, 8)]
YEARS += [f"{y}年" for y in range(2010, 2026)]
KINDS = ("一覧", "統計", "集計表", "状況", "推移", "調査結果", "データ", "台帳", "マップ", "報告書")
SEPARATORS = ("", "", "", "の", "_", "　", " ", "・")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff々"
_SPLIT = re.compile(rf"[^{_CJK}]+|[のとや及び等にをがはで]")


@dataclass(frozen=True)
class Municipality:
    lg_code: str
    short: str  # 市区町村 (+ 区): what a title says
    full: str  # 都道府県 郡 市区町村 区


@dataclass(frozen=True)
class Vocabulary:
    municipalities: list[Municipality]
    terms: list[str]
    term_cum: list[float]
    tags: list[str]
    tag_cum: list[float]
    formats: list[str]
    format_cum: list[float]
    licences: list[str]
    licence_cum: list[float]
    stats: dict[str, int]


def _municipalities() -> list[Municipality]:
    with zipfile.ZipFile(MT_CITY) as zf, zf.open("mt_city_all.csv") as fh:
        rows = list(csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8-sig")))
    out = []
    for r in rows:
        if r["ablt_date"]:
            continue
        short = r["city"] + r["ward"]
        full = r["pref"] + r["county"] + r["city"] + r["ward"]
        out.append(Municipality(r["lg_code"], short or r["pref"], full))
    return out


def _counts_csv(path: Path) -> Counter[str]:
    with path.open(encoding="utf-8-sig") as fh:
        return Counter({r["name"]: int(r["count"]) for r in csv.DictReader(fh)})


def _is_japanese(term: str) -> bool:
    return bool(re.fullmatch(rf"[{_CJK}ー]+", term))


def load_vocabulary() -> Vocabulary:
    title_terms: Counter[str] = Counter()
    tokyo_tags: Counter[str] = Counter()
    with gzip.open(TOKYO, "rt", encoding="utf-8") as fh:
        for line in fh:
            result = json.loads(line)["result"]
            for piece in _SPLIT.split(result.get("title") or ""):
                if 2 <= len(piece) <= 6:
                    title_terms[piece] += 1
            for tag in result.get("tags") or []:
                tokyo_tags[tag["name"]] += 1
    dgj_tags = _counts_csv(DGJ / "data_go_jp_tag.csv")
    tag_terms: Counter[str] = Counter()
    for name, n in dgj_tags.items():
        for piece in re.split(r"[_\s]+", name):
            if 2 <= len(piece) <= 8 and _is_japanese(piece):
                tag_terms[piece] += n
    # Title/description terms: Tokyo title pieces seen at least 3 times plus data.go.jp tag words.
    terms: Counter[str] = Counter()
    for t, n in title_terms.items():
        # Pieces starting with hiragana are mostly split-off grammar (よる, おける), not terms.
        if n >= 3 and not ("\u3040" <= t[0] <= "\u309f"):
            terms[t] += n
    for t, n in tag_terms.items():
        if n >= 20:
            terms[t] += max(1, n // 200)
    added = [t for t in REQUIRED_TERMS if t not in terms]
    for t in added:
        terms[t] = 20
    term_list = sorted(terms)
    term_w = [terms[t] ** 0.5 for t in term_list]
    # Tags: data.go.jp Japanese tags (whole) and Tokyo's own tags.
    tags: Counter[str] = Counter()
    for name, n in dgj_tags.items():
        if _is_japanese(name.replace("_", "")) and n >= 20 and len(name) <= 20:
            tags[name] += n
    for name, n in tokyo_tags.items():
        tags[name] += n * 100
    tag_list = sorted(tags)
    tag_w = [tags[t] ** 0.5 for t in tag_list]
    fmt = _counts_csv(DGJ / "data_go_jp_format.csv")
    fmt_list = sorted(f.upper() for f in fmt if f)
    fmt_w = [float(max(fmt.get(f, 0), fmt.get(f.lower(), 0))) for f in fmt_list]
    return Vocabulary(
        municipalities=_municipalities(),
        terms=term_list,
        term_cum=list(accumulate(term_w)),
        tags=tag_list,
        tag_cum=list(accumulate(tag_w)),
        formats=fmt_list,
        format_cum=list(accumulate(fmt_w)),
        licences=[lid for lid, _ in LICENCE_WEIGHTS],
        licence_cum=list(accumulate(float(w) for _, w in LICENCE_WEIGHTS)),
        stats={
            "tokyo_title_pieces": len(title_terms),
            "dgj_tags": len(dgj_tags),
            "terms": len(term_list),
            "terms_added": len(added),
            "tags": len(tag_list),
            "formats": len(fmt_list),
        },
    )


@dataclass(frozen=True)
class SyntheticDataset:
    pk: int
    muni: int  # index into Vocabulary.municipalities (= organization index)
    title: str
    notes: str
    tags: tuple[str, ...]
    formats: tuple[str, ...]
    licence: str
    modified: datetime


EPOCH = datetime(2014, 1, 1)  # noqa: DTZ001 - naive UTC like the schema


def generate(vocab: Vocabulary, size: int, seed: int = SEED) -> Iterator[SyntheticDataset]:
    """``size`` datasets, the same for the same (seed, size, GENERATOR_VERSION)."""
    rng = random.Random(seed)
    n_muni = len(vocab.municipalities)
    choices = rng.choices
    for pk in range(1, size + 1):
        m = rng.randrange(n_muni)
        muni = vocab.municipalities[m]
        t = choices(vocab.terms, cum_weights=vocab.term_cum, k=6)
        sep = SEPARATORS[rng.randrange(len(SEPARATORS))]
        kind = KINDS[rng.randrange(len(KINDS))]
        head = t[0] + (t[1] if rng.random() < 0.4 else "")
        if rng.random() < 0.6:
            title = f"{muni.short}{sep}{head}{kind}"
        else:
            title = f"{head}{kind}{sep}{muni.short}"
        if rng.random() < 0.5:
            title += "（" + YEARS[rng.randrange(len(YEARS))] + "）"
        notes = (
            f"{muni.full}が公開する{t[0]}に関する{kind}です。"
            f"{t[2]}、{t[3]}及び{t[4]}の{KINDS[rng.randrange(len(KINDS))]}を含みます。"
            f"{t[5]}の担当課が{YEARS[rng.randrange(len(YEARS))]}に更新しました。"
        )
        n_tags = rng.randint(1, 4)
        tags = tuple(sorted(set(choices(vocab.tags, cum_weights=vocab.tag_cum, k=n_tags))))
        formats = tuple(
            sorted(set(choices(vocab.formats, cum_weights=vocab.format_cum, k=rng.randint(1, 2))))
        )
        licence = choices(vocab.licences, cum_weights=vocab.licence_cum)[0]
        modified = EPOCH + timedelta(seconds=rng.randrange(11 * 365 * 86400))
        yield SyntheticDataset(pk, m, title, notes, tags, formats, licence, modified)
