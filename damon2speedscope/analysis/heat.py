"""The hottest address ranges of every aggregation interval.

Adjacent regions of one snapshot that were accessed at all are merged into ranges; a range's
access rate is its size-weighted mean ``nr_accesses`` over the most a region can score in one
aggregation interval (aggregation / sampling interval when the record says, else the record's
highest ``nr_accesses``). Ranges are ranked by ``size × rate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import DamonRecord


@dataclass(frozen=True)
class HotRange:
    start: int
    end: int
    rate: float  # 0..1

    @property
    def size(self) -> int:
        return self.end - self.start


def max_accesses(record: DamonRecord) -> int:
    if record.sample_interval_ns and record.aggr_interval_ns \
            and record.aggr_interval_ns >= record.sample_interval_ns:
        return max(1, record.aggr_interval_ns // record.sample_interval_ns)
    return max(1, int(record.nr_accesses.max()) if record.nr_accesses.size else 1)


def hot_ranges(record: DamonRecord, snapshot: int, limit: int, full: int) -> list[HotRange]:
    """Up to ``limit`` hottest merged ranges of one snapshot, hottest first."""
    lo, hi = int(record.region_offset[snapshot]), int(record.region_offset[snapshot + 1])
    starts = record.region_start[lo:hi].astype(np.int64)
    ends = record.region_end[lo:hi].astype(np.int64)
    acc = np.maximum(record.nr_accesses[lo:hi], 0).astype(np.int64)
    ranges: list[tuple[int, int, int]] = []  # start, end, Σ size × accesses
    for s, e, a in zip(starts.tolist(), ends.tolist(), acc.tolist(), strict=True):
        if a <= 0:
            continue
        if ranges and ranges[-1][1] == s:
            ps, _, w = ranges[-1]
            ranges[-1] = (ps, e, w + (e - s) * a)
        else:
            ranges.append((s, e, (e - s) * a))
    ranges.sort(key=lambda r: (-r[2], r[0]))
    return [HotRange(s, e, min(1.0, w / ((e - s) * full))) for s, e, w in ranges[:limit]
            if e > s]
