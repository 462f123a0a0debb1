"""Peak memory of reading a big damo JSON record (not a test: run by hand, takes a minute).

    python tests/data/damon/measure_json_rss.py [SIZE_MB] [DIR]

Writes a synthetic damo-3.4.3-shaped json (indent 4, numbers with thousands separators, one
target, 1000 regions per snapshot) of about SIZE_MB (default 500) and its json_compressed
(zlib) twin into DIR (default a temporary directory), then reads each in a FRESH process the
way the CLI does (whole file read into bytes, then ``load_input``) and prints that process's
peak RSS (``VmHWM``: unlike ``ru_maxrss`` it does not inherit the parent's peak across
fork+exec) next to the input size and, for comparison, the peak of decoding the
same text at once with ``orjson.loads`` (what a non-streaming reader needs as a minimum).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REGIONS = 1000


def _snapshot(k: int) -> str:
    start = 5_000_000_000_000 + k * 100_000_000
    regions = []
    for i in range(REGIONS):
        lo = 93824992231424 + i * 4096 * 16
        regions.append(
            "                    {\n"
            f'                        "start": "{lo:,}",\n'
            f'                        "end": "{lo + 4096 * 16:,}",\n'
            '                        "nr_accesses": {\n'
            f'                            "samples": {(i * 7 + k) % 21},\n'
            '                            "percent": null\n'
            "                        },\n"
            '                        "age": {\n'
            '                            "usec": null,\n'
            f'                            "aggr_intervals": "{(i + k) % 50}"\n'
            "                        },\n"
            '                        "probe_hits": [],\n'
            '                        "sz_filter_passed": "0 B"\n'
            "                    }")
    return ("            {\n"
            f'                "start_time": "{start}",\n'
            f'                "end_time": "{start + 100_000_000}",\n'
            '                "regions": [\n' + ",\n".join(regions) + "\n                ],\n"
            f'                "total_bytes": "{REGIONS * 4096 * 16}",\n'
            '                "damos_stats": null,\n'
            '                "sample_interval_us": null\n'
            "            }")


def generate(path: Path, size_mb: int) -> int:
    head = ('[\n    {\n        "kdamond_idx": 0,\n        "context_idx": 0,\n'
            '        "intervals": {"sample_us": "5000", "aggr_us": "100000"},\n'
            '        "scheme_idx": null,\n        "target_id": 0,\n'
            '        "scheme_filters": [],\n        "snapshots": [\n')
    tail = '\n        ],\n        "data_source": "unknown"\n    }\n]'
    n = 0
    with path.open("w") as f:
        f.write(head)
        while f.tell() < size_mb << 20:
            f.write((",\n" if n else "") + _snapshot(n))
            n += 1
        f.write(tail)
    return n


CHILD = """
import sys, time
from pathlib import Path
mode, path = sys.argv[1], sys.argv[2]
t = time.perf_counter()
data = Path(path).read_bytes()
if mode == "ours":
    from damon2speedscope.readers import load_input
    loaded = load_input(data, path)
    n = len(loaded.damon)
else:
    import orjson, zlib
    doc = orjson.loads(zlib.decompress(data) if data[:1] == b"x" else data)
    n = len(doc[0]["snapshots"])
hwm = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
           if line.startswith("VmHWM:"))
print(n, time.perf_counter() - t, hwm)
"""


def measure(mode: str, path: Path) -> tuple[int, float, int]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1]), int(out[2])


def main() -> None:
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tmp)
        plain = folder / "big.json"
        t = time.perf_counter()
        snapshots = generate(plain, size_mb)
        packed = folder / "big.json_compressed"
        packed.write_bytes(zlib.compress(plain.read_bytes()))
        print(f"generated {snapshots} snapshots × {REGIONS} regions in "
              f"{time.perf_counter() - t:.0f} s")
        for path in (plain, packed):
            size = path.stat().st_size
            for mode in ("ours", "orjson"):
                n, seconds, rss = measure(mode, path)
                assert n == snapshots
                print(f"{path.name:20s} {size / 2**20:8.1f} MiB  {mode:7s} peak RSS "
                      f"{rss / 2**20:8.1f} MiB  ({rss / size:5.2f}× the file)  {seconds:6.1f} s")


if __name__ == "__main__":
    main()
