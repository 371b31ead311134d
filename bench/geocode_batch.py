"""tsunagu's CLI batch path on ABR files, for timing in a child process next to abr-geocoder.

    python -m bench.geocode_batch <input.txt> <output.ndjson> <abr zip>...

``tsunagu address geocode`` builds its index from the database; this builds it from the same
files abr-geocoder loads, then runs the same ``geocode_stream`` over the input lines. Prints the
CPU seconds of both steps as one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tsunagu.registries.address.geocoder import FileAddressSource, Geocoder, build_index
from tsunagu.registries.address.geocoder.commands import geocode_stream, read_lines


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        raise SystemExit("usage: python -m bench.geocode_batch <input> <output> <abr zip>...")
    source, target, *files = argv
    started = time.process_time()
    geocoder = Geocoder(build_index(FileAddressSource(Path(f) for f in files)))
    built = time.process_time()
    with (
        open(source, encoding="utf-8") as lines,
        open(target, "w", encoding="utf-8") as out,
    ):
        for chunk in geocode_stream(geocoder, read_lines(lines), "all", "ndjson"):
            out.write(chunk)
    done = time.process_time()
    print(json.dumps({"index_cpu": built - started, "geocode_cpu": done - built}))


if __name__ == "__main__":
    main(sys.argv[1:])
