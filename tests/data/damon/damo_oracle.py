"""Reads a DAMON record with damo 3.4.3's OWN reader and prints what damo sees, as JSON.

The reference the tests compare with (tests/test_damon_oracle.py). It imports damo's modules
(GPL; installed from PyPI as a test dependency, used here, never copied) in a separate
process, so damo's sys.path changes never reach the test process.

    python damo_oracle.py KIND FILE [KIND FILE ...]
    KIND: json | json_compressed | perf-script | trace-cmd-report | auto

``auto`` is damo's own detection (``file -b``), as ``damo report`` uses it.
Output, one JSON line per file: {"records": [{kdamond_idx, context_idx, target_id,
intervals: [sample_us, aggr_us], data_source, snapshots: [{start, end, sample_interval_us,
regions: [[start, end, samples, age_aggr_intervals, age_usec]]}]}],
"wss": {target_id: [bytes per snapshot]}} or {"error": ...}
"""

from __future__ import annotations

import json
import os
import sys

import damo

sys.path.insert(0, os.path.dirname(damo.__file__))

import _damo_records
import damo_wss


def read(kind: str, path: str):  # type: ignore[no-untyped-def]
    if kind == "json":
        return _damo_records.parse_json_file(path), None
    if kind == "json_compressed":
        return _damo_records.parse_compressed_json(path), None
    if kind in ("perf-script", "trace-cmd-report"):
        with open(path) as f:
            return _damo_records.parse_damon_trace(f.read(), kind, None)
    if kind == "auto":
        return _damo_records.parse_records_file(path)
    raise SystemExit(f"unknown kind {kind}")


def describe(kind: str, path: str) -> dict:  # type: ignore[type-arg]
    try:
        records, err = read(kind, path)
    except Exception as exc:  # damo's own failure is a result here
        records, err = None, f"{type(exc).__name__}: {exc}"
    if err is not None or records is None:
        return {"error": str(err)}
    out = []
    for r in records:
        snapshots = []
        for s in r.snapshots:
            regions = [[g.start, g.end, g.nr_accesses.samples, g.age.aggr_intervals, g.age.usec]
                       for g in s.regions]
            snapshots.append({"start": s.start_time, "end": s.end_time, "regions": regions,
                              "sample_interval_us": s.sample_interval_us})
        intervals = [r.intervals.sample, r.intervals.aggr] if r.intervals else None
        out.append({"kdamond_idx": r.kdamond_idx, "context_idx": r.context_idx,
                    "target_id": r.target_id, "intervals": intervals,
                    "data_source": r.data_source, "snapshots": snapshots})
    wss = damo_wss.get_wss_dists(records, 1, 1, False, False)
    return {"records": out, "wss": {str(k): v for k, v in wss.items()}}


def main() -> None:
    args = sys.argv[1:]
    for kind, path in zip(args[::2], args[1::2], strict=True):
        print(json.dumps(describe(kind, path)))


if __name__ == "__main__":
    main()
