"""Geocoder benchmark: 100,000 real-shaped addresses through the CLI batch path and over HTTP.

    python -m bench.geocode              # 100,000 addresses
    python -m bench.geocode --size 20000
    python -m bench.geocode --abrg var/abrg   # where `make abrg` installed abr-geocoder

If abr-geocoder is installed (``make abrg``), addresses also go through its CLI and tsunagu's batch
path side by side, each in a child process (bench/abrg.py); otherwise that part is skipped with the
reason printed. Appends (or replaces) the "## Address geocoder" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

from bench import abrg, report
from tsunagu.registries.address.geocoder import FileAddressSource, Geocoder, build_index
from tsunagu.registries.address.geocoder.commands import geocode_stream
from tsunagu.registries.address.geocoder.index import AddressIndex
from tsunagu.registries.address.geocoder.service import GeocoderCache

ROOT = Path(__file__).resolve().parents[1]
STANDARDS = Path(os.environ.get("TSUNAGU_STANDARDS", ROOT.parent / "shared" / "standards"))
ABR = STANDARDS / "abr-data"
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Address geocoder"
FULL = str.maketrans("0123456789-", "０１２３４５６７８９－")
KANJI = "〇一二三四五六七八九"


def _kanji(n: int) -> str:
    out = ""
    for unit, name in ((1000, "千"), (100, "百"), (10, "十")):
        count, n = divmod(n, unit)
        if count:
            out += ("" if count == 1 else KANJI[count]) + name
    return out + (KANJI[n] if n else "")


def _style(rng: random.Random, head: tuple[str, str, str], town: str, nums: list[int]) -> str:
    """One writing of an address: pref/city/town names and numbers in a random style."""
    pref, city, county_city = head
    style = rng.randrange(8)
    numbers = "-".join(map(str, nums))
    if style == 1:
        numbers = numbers.translate(FULL)
    elif style == 2 and len(nums) >= 2:
        numbers = f"{nums[0]}番{nums[1]}号" if len(nums) == 2 else f"{nums[0]}番地"
    elif style == 3:
        numbers = "番".join(_kanji(n) for n in nums) + ("号" if len(nums) > 1 else "番地")
    elif style == 4:
        numbers = numbers.replace("-", "ー")
    prefix = {5: city, 6: county_city}.get(style, pref + county_city)
    text = prefix + town + numbers
    if style == 7:
        text = f"{pref} {county_city} {town}{numbers}"
    if rng.random() < 0.25:
        text += rng.choice(["　サンプルビル3F", " 201号室", "マンション101", " (受付)"])
    return text


def make_addresses(index: AddressIndex, size: int, seed: int = 1) -> list[str]:
    """``size`` addresses from real ABR rows: 住居 (40%), 地番 (20%), 町字 + numbers (40%)."""
    rng = random.Random(seed)
    heads = {
        lg: (c.pref, c.city + (c.ward or ""), (c.county or "") + c.city + (c.ward or ""))
        for lg, c in index.cities.items()
    }
    towns = [
        node.base
        for table in index.towns.values()
        for node in table.keys.values()
        if node.base is not None and node.base.oaza_cho
    ]
    names = {(t.lg_code, t.machiaza_id): t for t in towns}
    residences = [
        (key, block.blk_num, r.rsdt_num)
        for key, blocks in index.blocks.items()
        for block in blocks.values()
        for r in block.residences.values()
    ]
    parcels = [(key, p.nums) for key, ps in index.parcels.items() for p in ps.values()]
    out: list[str] = []
    while len(out) < size:
        kind = rng.random()
        if kind < 0.4 and residences:
            key, blk, rsdt = rng.choice(residences)
            town = names.get(key)
            if town is None:
                continue
            nums = [int(blk), int(rsdt)]
        elif kind < 0.6 and parcels:
            key, pnums = rng.choice(parcels)
            town = names.get(key)
            if town is None or not all(n.isdigit() for n in pnums if n):
                continue  # 地番 such as 乙 are real but not numbers to restyle
            nums = [int(n) for n in pnums if n]
        else:
            town = rng.choice(towns)
            nums = [rng.randint(1, 30), rng.randint(1, 20)]
        name = (town.oaza_cho or "") + (town.chome or "") + (town.koaza or "")
        out.append(_style(rng, heads[town.lg_code], name, nums))
    return out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_cli(geocoder: Geocoder, addresses: list[str]) -> dict[str, float]:
    sink = io.StringIO()
    cpu, wall = time.process_time(), time.perf_counter()
    for chunk in geocode_stream(geocoder, addresses, "all", "ndjson"):
        sink.write(chunk)
        if sink.tell() > 1 << 24:
            sink.seek(0)
            sink.truncate()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "wall": wall,
        "cpu": cpu,
        "per_core": len(addresses) / cpu,
        "rate": len(addresses) / wall,
    }


def bench_http(index: AddressIndex, addresses: list[str], batch: int = 1000) -> dict[str, float]:
    from tsunagu.app import create_app
    from tsunagu.kernel import Settings

    data = Path(tempfile.mkdtemp(prefix="tsunagu-bench-geocode-"))
    settings = Settings(
        data_dir=data,
        secret_key="bench-secret-not-for-production",  # type: ignore[arg-type]  # noqa: S106
        log_level="WARNING",
        rate_limit_write="100000/minute",
        rate_limit_search="100000/minute",
    )
    app = create_app(settings)
    cache = GeocoderCache(FileAddressSource([]), check_seconds=1e9)
    cache._geocoder = Geocoder(index)  # the index built above, not a second copy
    cache._checked = time.monotonic()
    app.state.address_geocoder = cache
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/api/v1/address/geocode"
    cpu, wall = time.process_time(), time.perf_counter()
    with httpx.Client(timeout=120) as client:
        single = addresses[:1000]
        t_single = time.perf_counter()
        for address in single:
            client.get(url, params={"address": address}).raise_for_status()
        t_single = time.perf_counter() - t_single
        for start in range(0, len(addresses), batch):
            body = {"addresses": addresses[start : start + batch], "format": "ndjson"}
            client.post(url, json=body).raise_for_status()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall - t_single
    server.should_exit = True
    thread.join(timeout=10)
    return {
        "wall": wall,
        "rate": len(addresses) / wall,
        "per_core": len(addresses) / max(cpu - t_single, 1e-9) if cpu > t_single else 0.0,
        "single_rate": len(single) / t_single,
    }


@dataclass(frozen=True)
class SideBySide:
    size: int
    baseline: int
    files: int
    counts: dict[str, int]
    load_seconds: float
    tsunagu: tuple[abrg.Run, abrg.Run]  # baseline run, full run
    abrg: tuple[abrg.Run, abrg.Run]
    tsunagu_split: dict[str, float]  # the full run's own index/geocode CPU seconds
    agreement: abrg.Agreement
    version: str

    def per_core(self, runs: tuple[abrg.Run, abrg.Run]) -> float:
        """Addresses per CPU second beyond start-up: (N - n) / (cpu(N) - cpu(n))."""
        return (self.size - self.baseline) / max(runs[1].cpu - runs[0].cpu, 1e-9)


def side_by_side(home: Path, size: int, baseline: int, work: Path) -> SideBySide | str:
    """tsunagu and abr-geocoder on the same files and addresses, each CLI in a child process.

    The files are today's ABR files in abr-data/ (the only schema abr-geocoder reads) plus
    京都市's 2022 町字 with positions from abr-geocoder's e2e data (see abrg.kyoto_positions),
    cut per municipality as abr-geocoder's catalog publishes them; tsunagu reads the same cut
    files. Each tool runs twice, on ``baseline`` addresses and on ``size``; the difference of
    the CPU times is the geocoding without start-up. Returns why, if abr-geocoder is absent.
    """
    package, why = abrg.find_package(home)
    if package is None:
        return why
    current = sorted(ABR.glob("mt_*.csv.zip"))
    kyoto = ABR / "abr-2022-04" / "mt_town_pref26.csv.zip"
    cut = work / "files"
    files = abrg.split_for_abrg([*current, kyoto], cut, old_towns="261")
    files += abrg.kyoto_positions(STANDARDS / "abr-geocoder" / "e2e" / "test-data", cut)
    load_seconds = abrg.load(package, work / "abrg", files)
    # Addresses only from today's data: the 京都市 rows are there for abr-geocoder's sake.
    index = build_index(FileAddressSource(current))
    counts = dict(index.counts)
    addresses = make_addresses(index, size, seed=2)
    del index
    inputs = {}
    for label, rows in (("baseline", addresses[:baseline]), ("full", addresses)):
        inputs[label] = work / f"{label}.txt"
        inputs[label].write_text("\n".join(rows) + "\n", encoding="utf-8")
    ours: list[abrg.Run] = []
    theirs: list[abrg.Run] = []
    for label in ("baseline", "full"):  # interleaved, so load changes hit both alike
        out = work / f"tsunagu-{label}.out"
        ours.append(abrg.measure(abrg.tsunagu_command(files, inputs[label], out)))
        out = work / f"abrg-{label}.out"
        theirs.append(
            abrg.measure(abrg.geocode_command(package, work / "abrg", inputs[label], out))
        )
    return SideBySide(
        size=size,
        baseline=baseline,
        files=len(files),
        counts=counts,
        load_seconds=load_seconds,
        tsunagu=(ours[0], ours[1]),
        abrg=(theirs[0], theirs[1]),
        tsunagu_split=json.loads(ours[1].stdout.strip().splitlines()[-1]),
        agreement=abrg.agreement(work / "tsunagu-full.out", work / "abrg-full.out"),
        version=abrg.version(package),
    )


def describe(side: SideBySide | str, published: float, tsunagu_per_core: float) -> str:
    """The abr-geocoder paragraph of the section: measured side by side, or why not."""
    if isinstance(side, str):
        return f"""- **abr-geocoder**: not run side by side in this run ({side}); the comparison
  is with its published figure only: ≈ {published:.0f} addresses/s per core, which tsunagu's
  CLI batch path exceeds {tsunagu_per_core / published:.1f}×."""
    t_full, a_full = side.tsunagu[1], side.abrg[1]
    t_rate, a_rate = side.per_core(side.tsunagu), side.per_core(side.abrg)
    own = side.size / side.tsunagu_split["geocode_cpu"]
    agree = side.agreement
    total = sum(agree.counts.values()) - agree.counts["lost"]
    examples = "; ".join(
        f"{text} → tsunagu {ours}, abr-geocoder {theirs}" for text, ours, theirs in agree.examples
    )
    joined = f"「{agree.joined[0]}」" if agree.joined else "none"
    return f"""- **abr-geocoder {side.version} side by side** (npm `@digital-go-jp/abr-geocoder`,
  installed by `make abrg`; Node.js {abrg.node_version()}; both CLIs as child processes, one
  after the other in the same run, CPU time and peak RSS from `wait4`):
  - *Same data*: today's ABR files above (the only schema abr-geocoder reads) plus 京都市's
    2022 町字 with positions from abr-geocoder's own e2e expectations (with no 京都市 町字
    that has a position, its 京都 street step crashes; see `bench/abrg.py`), cut into
    {side.files} per-municipality files the way its catalog publishes them and loaded by its
    own CSV loader and cache builder (`bench/abrg_import.js`, {side.load_seconds:.0f} s wall)
    instead of `abrg download`, which needs catalog.registries.digital.go.jp. tsunagu reads
    the same cut files. Today's data alone: {side.counts}.
  - *Addresses*: {side.size:,}, built as above but from today's data only (東京都, 和歌山県,
    宮崎県 町字 and the 文京区/和歌山市 住居; 屋久島町's 地番 drop out because 鹿児島県 has
    no current town master here, so neither tool can place them).
  - *Throughput per core* (CPU seconds of the {side.size:,}-address run minus those of a
    {side.baseline:,}-address run, which leaves start-up out): tsunagu
    **{t_rate:,.0f} addresses/s**, abr-geocoder **{a_rate:,.0f} addresses/s**, a ratio of
    **{t_rate / a_rate:.1f}×**. tsunagu's own split of its full run: index build
    {side.tsunagu_split["index_cpu"]:.1f} s CPU, then {own:,.0f} addresses/s. Whole runs
    including start-up: tsunagu {t_full.cpu:.1f} s CPU / {t_full.wall:.1f} s wall,
    abr-geocoder {a_full.cpu:.1f} s CPU / {a_full.wall:.1f} s wall (it geocodes on one worker
    thread per core, {os.cpu_count()} here).
  - *Peak RSS* of the full runs: tsunagu {t_full.rss_mb:.0f} MB, abr-geocoder
    {a_full.rss_mb:.0f} MB.
  - *Agreement* (same lg_code + machiaza_id, input by input, {total:,} addresses): same
    {agree.counts["same"]:,} ({agree.counts["same"] / total:.1%}), different
    {agree.counts["different"]:,}, a 町字 only from tsunagu {agree.counts["only_tsunagu"]:,},
    only from abr-geocoder {agree.counts["only_abrg"]:,}, from neither
    {agree.counts["neither"]:,}. Match levels: tsunagu {agree.levels["tsunagu"]};
    abr-geocoder {agree.levels["abrg"]} (there are no 街区 files here, so abr-geocoder does
    not reach the residential levels). Differences, for example: {examples}.
  - *Lost lines*: {agree.counts["lost"]} inputs have no abr-geocoder result of their own: its
    line reader ran {len(agree.joined)} pairs of lines together (its `LineByLineTransform`
    drops a newline that is the first byte of a read chunk), e.g. {joined}. They are left out
    of the agreement; for throughput they change its line count by
    {agree.counts["lost"] / side.size:.3%}.
  - Published figure for comparison: ≈5.5M addresses in 40 min on 10 cores ≈ {published:.0f}
    addresses/s per core."""


def write_section(text: str) -> None:
    report.write_section(SECTION, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument(
        "--abrg", type=Path, default=abrg.DEFAULT_HOME, help="where `make abrg` installed it"
    )
    parser.add_argument(
        "--baseline", type=int, default=1000, help="addresses in the start-up runs (side by side)"
    )
    args = parser.parse_args()
    if not 0 < args.baseline < args.size:
        parser.error("--baseline must be between 0 and --size")
    files = sorted(ABR.glob("mt_*.csv.zip")) + sorted((ABR / "abr-2022-04").glob("*.zip"))
    index = build_index(FileAddressSource(files))
    rss_index = _rss_mb()
    geocoder = Geocoder(index)
    addresses = make_addresses(index, args.size)
    levels: dict[str, int] = {}
    for address in addresses[:5000]:
        level = geocoder.geocode(address).match_level
        levels[level] = levels.get(level, 0) + 1
    cli = bench_cli(geocoder, addresses)
    rss_cli = _rss_mb()
    http = bench_http(index, addresses)
    rss_http = _rss_mb()
    published = 5_500_000 / (40 * 60) / 10
    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-abrg-") as work:
        side = side_by_side(args.abrg, args.size, args.baseline, Path(work))
    if isinstance(side, str):
        print(f"abr-geocoder skipped: {side}")
    text = f"""{SECTION}

Generated by `python -m bench.geocode` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; one run on a
shared, noisy machine (`nproc` = {os.cpu_count()}, {platform.processor() or platform.machine()},
Python {platform.python_version()}).

- **Data**: the ABR files in `shared/standards/abr-data/` read directly (current town masters
  for 13/30/45, 2022-04 town masters elsewhere, 住居 for 302015 and 131059, 地番 for 465054):
  {index.counts}. Index build: {index.build_seconds:.1f} s; peak RSS after the build
  {rss_index:.0f} MB.
- **Addresses**: {len(addresses):,} built from ABR rows (seeded): 40% real 住居 (街区-住居),
  20% real 地番, 40% real 町字 with random numbers; styles mixed evenly: canonical, full-width
  digits, 番/号 written out, kanji numerals, ー as hyphen, prefecture omitted, 郡 omitted, spaces
  between parts; a quarter with a building name or room. Match levels of the first 5,000:
  {dict(sorted(levels.items()))}.
- **CLI batch path** (`geocode_stream` → ndjson, what `tsunagu address geocode` runs after it
  builds its index; one process, one core): {cli["rate"]:,.0f} addresses/s wall,
  **{cli["per_core"]:,.0f} addresses/s per core** (CPU time); peak RSS {rss_cli:.0f} MB.
- **HTTP path** (`POST /api/v1/address/geocode`, 1,000 addresses per request, ndjson, uvicorn on
  loopback, client in the same process so its CPU is included): {http["rate"]:,.0f}
  addresses/s wall; one address per `GET`: {http["single_rate"]:,.0f} requests/s; peak RSS
  {rss_http:.0f} MB.
- **Target** ≥ 1,000 addresses/s per core: {"met" if cli["per_core"] >= 1000 else "NOT met"}
  on the CLI batch path ({cli["per_core"] / published:.1f}× abr-geocoder's published per-core
  rate of ≈ {published:.0f}: ≈5.5M addresses in 40 min on 10 cores).
{describe(side, published, cli["per_core"])}
"""
    write_section(text)
    print(text)


if __name__ == "__main__":
    main()
