"""Drive an installed abr-geocoder (npm ``@digital-go-jp/abr-geocoder``) on our local ABR files.

``make abrg`` installs it into ``var/abrg`` (see bench/abrg-npm/package.json); ``TSUNAGU_ABRG`` or
``--abrg`` point elsewhere. Nothing of abr-geocoder is copied here: this module splits our zips the
way its catalog publishes them, hands them to its own CSV loader (bench/abrg_import.js), runs its
CLI on a file of addresses and measures it as a child process.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tsunagu.registries.address.geocoder import read_abr_csv
from tsunagu.registries.address.geocoder.source import dataset_kind

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "@digital-go-jp/abr-geocoder"
DEFAULT_HOME = Path(os.environ.get("TSUNAGU_ABRG", ROOT / "var" / "abrg"))
IMPORT_SCRIPT = ROOT / "bench" / "abrg_import.js"
NODE = shutil.which("node")


def find_package(home: Path) -> tuple[Path | None, str]:
    """The installed package directory under ``home``, or None and why it cannot be used."""
    if NODE is None:
        return None, "node is not on PATH"
    home = home.resolve()
    package = home / "node_modules" / PACKAGE
    if not (package / "build" / "interface" / "cli" / "cli.js").is_file():
        return None, f"{PACKAGE} is not installed in {home} (run `make abrg`)"
    if not list((home / "node_modules" / "better-sqlite3" / "build").rglob("better_sqlite3.node")):
        return None, f"better-sqlite3 in {home} has no native build (see `make abrg`)"
    return package, ""


def node_version() -> str:
    done = subprocess.run(  # noqa: S603 -- fixed arguments
        [str(NODE), "--version"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def version(package: Path) -> str:
    data = json.loads((package / "package.json").read_text(encoding="utf-8"))
    return str(data["version"])


# tsunagu's dataset names (bench reads files with tsunagu's reader) → abr-geocoder's file names
_ABRG_NAMES = {
    "pref": "pref",
    "pref_pos": "pref_pos",
    "city": "city",
    "city_pos": "city_pos",
    "town": "town",
    "town_pos": "town_pos",
    "blk": "rsdtdsp_blk",
    "blk_pos": "rsdtdsp_blk_pos",
    "rsdt": "rsdtdsp_rsdt",
    "rsdt_pos": "rsdtdsp_rsdt_pos",
    "parcel": "parcel",
    "parcel_pos": "parcel_pos",
}


def _is_2022(row: dict[str, object]) -> bool:
    return "chome_number" in row and "machiaza_dist" not in row


def split_for_abrg(files: Iterable[Path], out_dir: Path, old_towns: str = "") -> list[Path]:
    """Our zips re-cut per prefecture (市区町村) or per municipality (the rest), like its catalog.

    abr-geocoder's loader keys a whole file by its first row (``rows[0].lg_code``) and picks the
    SQLite file for 住居表示/地番 by the file name's code, because its catalog publishes one file
    per municipality. Ours are national or per prefecture, so loaded as they are every
    municipality lands under the first one. The rows are copied as tsunagu's reader sees them
    (values trimmed of surrounding spaces), with two changes that mirror what tsunagu's
    FileAddressSource does: the 2022 town masters get today's English
    headers (same order, empty machiaza_dist; abr-geocoder reads only today's schema), and a
    municipality that has today's town master is not also loaded from the 2022 one. Of the 2022
    rows only those whose lg_code starts with ``old_towns`` are kept (all if it is empty).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = sorted(p for p in files if dataset_kind(p))
    covered: set[str] = set()
    for path in paths:
        if dataset_kind(path) == "town":
            rows = read_abr_csv(path)
            first = next(rows, None)
            if first is not None and not _is_2022(first):
                covered.update(str(r["lg_code"]) for r in itertools.chain([first], rows))
    out: list[Path] = []
    for path in paths:
        kind = str(dataset_kind(path))
        groups: dict[str, list[dict[str, object]]] = {}
        for row in read_abr_csv(path):
            code = str(row["lg_code"])
            old = kind == "town" and _is_2022(row)
            if old and (code in covered or not code.startswith(old_towns)):
                continue
            if kind in ("pref", "pref_pos"):
                scope = "all"
            elif kind in ("city", "city_pos"):
                scope = f"pref{code[:2]}"
            else:
                scope = f"city{code}"
            groups.setdefault(scope, []).append(row)
        for scope, rows in groups.items():
            header = list(rows[0])
            if kind == "town" and "machiaza_dist" not in header:
                header.insert(header.index("koaza_roma") + 1, "machiaza_dist")
            name = f"mt_{_ABRG_NAMES[kind]}_{scope}.csv"
            buffer = io.StringIO(newline="")
            writer = csv.writer(buffer, lineterminator="\r\n")
            writer.writerow(header)
            writer.writerows([row.get(h) or "" for h in header] for row in rows)
            target = out_dir / f"{name}.zip"
            if target.exists():
                raise ValueError(f"two input files both give {name}")
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(name, buffer.getvalue())
            out.append(target)
    return out


def kyoto_positions(test_data: Path, out_dir: Path) -> list[Path]:
    """town_pos files for 京都市's 町字 from abr-geocoder's own e2e expectations.

    abr-geocoder 2.2.0 crashes (``kyoto-street-transform.js:104``, "Cannot read properties of
    undefined (reading 'includes')") on an address its earlier steps leave unresolved, such as
    板橋区舟渡三丁目14-9, when its 京都市 street trie is empty; that trie takes only 京都市
    (261xxx) 町字 with a representative point. Our data has 京都市's 町字 (2022) but no
    positions for them; the expects.json files of its e2e tests (shared/standards/abr-geocoder/)
    carry the machiaza-level lat/lon it returned from the Digital Agency's data, which fill the
    trie.
    """
    positions: dict[tuple[str, str], tuple[float, float]] = {}
    for path in sorted(test_data.glob("*/expects.json")):
        for item in json.loads(path.read_text(encoding="utf-8")):
            result = item.get("result", item)
            lg, machiaza = result.get("lg_code"), result.get("machiaza_id")
            level = result.get("coordinate_level")
            kyoto = bool(lg) and str(lg).startswith("261") and bool(machiaza)
            if kyoto and level in ("machiaza", "machiaza_detail") and result.get("lat") is not None:
                positions.setdefault((lg, machiaza), (result["lat"], result["lon"]))
    if not positions:
        raise ValueError(f"no 京都市 positions in {test_data}")
    out: list[Path] = []
    for code in sorted({lg for lg, _ in positions}):
        name = f"mt_town_pos_city{code}.csv"  # one file per municipality, as split_for_abrg
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(
            ["lg_code", "machiaza_id", "rsdt_addr_flg", "rep_lon", "rep_lat", "rep_srid"]
        )
        for (lg, machiaza), (lat, lon) in sorted(positions.items()):
            if lg == code:
                writer.writerow([lg, machiaza, "0", lon, lat, "EPSG:4326"])
        target = out_dir / f"{name}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name, buffer.getvalue())
        out.append(target)
    return out


def load(package: Path, abrg_dir: Path, files: Sequence[Path]) -> float:
    """Load ``files`` (already split) into a fresh abr-geocoder data dir; the seconds it took."""
    if abrg_dir.exists():
        shutil.rmtree(abrg_dir)
    abrg_dir.mkdir(parents=True)
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 -- our script, the installed package, our files
        [str(NODE), str(IMPORT_SCRIPT), str(package), str(abrg_dir), *map(str, files)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def geocode_command(package: Path, abrg_dir: Path, source: Path, target: Path) -> list[str]:
    """``abrg <input> <output> -d <dir> -f ndjson --silent`` (the CLI's default command)."""
    cli = package / "build" / "interface" / "cli" / "cli.js"
    directory = ["-d", str(abrg_dir)]
    return [str(NODE), str(cli), str(source), str(target), *directory, "-f", "ndjson", "--silent"]


def tsunagu_command(files: Sequence[Path], source: Path, target: Path) -> list[str]:
    """tsunagu's CLI batch path on the same files, in a child process (bench.geocode_batch)."""
    args = [sys.executable, "-m", "bench.geocode_batch", str(source), str(target)]
    return args + [str(f) for f in files]


@dataclass(frozen=True)
class Run:
    cpu: float  # user + system seconds of the child and its threads
    wall: float
    rss_mb: float  # peak resident set of the child
    stdout: str


# Runs a command and prints its exit code, CPU seconds, peak RSS (KiB) and wall seconds. The
# benchmark holds a large index, and a forked child's ru_maxrss starts at its parent's size until
# it execs, so the timed command is started from this small interpreter, not from the benchmark.
_WRAPPER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
with open(sys.argv[1], "wb") as out:
    child = subprocess.Popen(sys.argv[2:], stdout=out)
    _, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - started
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps([os.waitstatus_to_exitcode(status), cpu, usage.ru_maxrss, wall]))
"""


def measure(command: Sequence[str]) -> Run:
    """Run ``command`` to completion; its CPU time (all threads) and peak RSS, from wait4."""
    with tempfile.NamedTemporaryFile() as out:
        wrapper = [sys.executable, "-S", "-c", _WRAPPER, out.name, *command]
        done = subprocess.run(  # noqa: S603 -- commands built in this module
            wrapper, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True
        )
        code, cpu, rss_kib, wall = json.loads(done.stdout)
        if code:
            raise subprocess.CalledProcessError(code, list(command))
        text = Path(out.name).read_text(encoding="utf-8", errors="replace")
    return Run(cpu, wall, rss_kib / 1024, text)


def read_ndjson(path: Path) -> Iterator[tuple[str, str | None, str | None, str]]:
    """(input, lg_code, machiaza_id, match_level) per output line."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            result = item["result"]
            yield (
                item["query"]["input"],
                result.get("lg_code"),
                result.get("machiaza_id"),
                result.get("match_level"),
            )


@dataclass(frozen=True)
class Agreement:
    counts: dict[str, int]  # same / different / only_tsunagu / only_abrg / neither / lost
    levels: dict[str, dict[str, int]]  # match_level counts per tool
    examples: list[tuple[str, str, str]]  # input, tsunagu's lg_code/machiaza_id, abr-geocoder's
    joined: list[str]  # abr-geocoder "inputs" that are none of ours (two lines run together)


def agreement(ours: Path, theirs: Path) -> Agreement:
    """How often both name the same 町字 (lg_code + machiaza_id), input by input."""
    other: dict[str, tuple[str, str | None, str | None, str]] = {}
    for row in read_ndjson(theirs):
        other.setdefault(row[0], row)
    keys = ("same", "different", "only_tsunagu", "only_abrg", "neither", "lost")
    counts = dict.fromkeys(keys, 0)
    seen: set[str] = set()
    levels: dict[str, dict[str, int]] = {"tsunagu": {}, "abrg": {}}
    examples: list[tuple[str, str, str]] = []
    for text, lg, machiaza, level in read_ndjson(ours):
        seen.add(text)
        row = other.get(text)
        if row is None:  # abr-geocoder read this line as part of another one
            counts["lost"] += 1
            continue
        levels["tsunagu"][level] = levels["tsunagu"].get(level, 0) + 1
        levels["abrg"][row[3]] = levels["abrg"].get(row[3], 0) + 1
        mine = f"{lg}/{machiaza}" if machiaza else None
        its = f"{row[1]}/{row[2]}" if row[2] else None
        if mine and its:
            key = "same" if mine == its else "different"
            if mine != its and len(examples) < 5:
                examples.append((text, mine, its))
        else:
            key = "only_tsunagu" if mine else "only_abrg" if its else "neither"
        counts[key] += 1
    joined = sorted(text for text in other if text not in seen)
    sorted_levels = {k: dict(sorted(v.items())) for k, v in levels.items()}
    return Agreement(counts, sorted_levels, examples, joined)
