"""Derives golden/mtphases/damon.wall.json: the real mtphases DAMON record on the WALL clock.

A wall-clock DAMON record (``damo record --snapshot``, DAMON_STAT) cannot be made here without
writing to DAMON's sysfs, which we must not do. So we take the real CLOCK_MONOTONIC tracepoint
record and move it to wall-clock epoch nanoseconds through the ``reference time`` pair of ITS
OWN perf.data header (TOD = monotonic), writing damo 3.4.3's snapshot-record JSON shape
(numbers as strings with thousands separators, start = end - aggregation interval).

Converting it against golden/mtphases/perf.data must then map it back through perf.data's
OWN reference pair, taken one second later: the round trip checks both mappings.

Run: python tests/data/clock/make_wall_record.py  (needs perf, like the tests)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from damon2speedscope.readers import load_input
from damon2speedscope.readers.perf_data import read_header

REPO = Path(__file__).resolve().parents[3]
SOURCE = REPO / "golden" / "mtphases" / "damon.perf.data"
TARGET = REPO / "golden" / "mtphases" / "damon.wall.json"
AGGR_US = 5_000_000


def _n(value: int) -> str:
    return f"{value:,}"


def main() -> None:
    header = read_header(str(SOURCE), str(SOURCE))
    assert header.reference_wall_ns is not None and header.reference_clock_ns is not None
    offset = header.reference_wall_ns - header.reference_clock_ns
    record = load_input(SOURCE.read_bytes(), str(SOURCE), str(SOURCE)).damon
    assert record is not None
    snapshots = []
    for k in range(len(record)):
        lo, hi = int(record.region_offset[k]), int(record.region_offset[k + 1])
        end = int(record.end_ns[k]) + offset
        regions = [
            {"start": _n(int(record.region_start[i])), "end": _n(int(record.region_end[i])),
             "nr_accesses": {"samples": int(record.nr_accesses[i]), "percent": None},
             "age": {"usec": None, "aggr_intervals": str(int(record.age[i]))},
             "probe_hits": [], "sz_filter_passed": "0 B"}
            for i in range(lo, hi)
        ]
        total = int(np.sum(record.region_end[lo:hi] - record.region_start[lo:hi]))
        snapshots.append({"start_time": str(end - AGGR_US * 1000), "end_time": str(end),
                          "regions": regions, "total_bytes": str(total), "damos_stats": None,
                          "sample_interval_us": "500000"})
    doc = [{"kdamond_idx": -1, "context_idx": 0,
            "intervals": {"sample_us": "500000", "aggr_us": str(AGGR_US),
                          "ops_update_us": "1000000", "intervals_goal": None},
            "scheme_idx": None, "target_id": 0, "scheme_filters": [], "snapshots": snapshots,
            "data_source": "derived from damon.perf.data (monotonic) via its reference time"}]
    TARGET.write_text(json.dumps(doc, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
