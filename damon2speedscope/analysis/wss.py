"""Working-set size exactly as damo defines it, and the summed per-interval series.

damo's WSS of a snapshot is the total size of its regions with ``nr_accesses >= 1``. The access
signal ``Σ size × nr_accesses`` also weighs how often memory was touched, which separates phases of
heavy access from merely resident data better than WSS alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..clock import ClockDomain
from ..model import I64, DamonRecord


def _per_snapshot(record: DamonRecord, values: I64) -> I64:
    sums = np.zeros(len(record), dtype=np.int64)
    counts = np.diff(record.region_offset)
    nonempty = counts > 0
    if values.size:
        sums[nonempty] = np.add.reduceat(values, record.region_offset[:-1][nonempty])
    return sums


def region_sizes(record: DamonRecord) -> I64:
    return (record.region_end - record.region_start).astype(np.int64)


def wss_per_snapshot(record: DamonRecord) -> I64:
    """Bytes in regions accessed at least once during the snapshot's aggregation interval."""
    sizes = region_sizes(record)
    return _per_snapshot(record, np.where(record.nr_accesses >= 1, sizes, 0))


def access_per_snapshot(record: DamonRecord) -> I64:
    """``Σ size × nr_accesses``: bytes weighted by how many samples saw them accessed."""
    sizes = region_sizes(record)
    return _per_snapshot(record, sizes * np.maximum(record.nr_accesses, 0).astype(np.int64))


@dataclass
class IntervalSeries:
    """Targets summed into consecutive intervals ``[start_ns[i], end_ns[i])`` of one clock."""

    clock: ClockDomain
    start_ns: I64
    end_ns: I64
    wss: I64
    access: I64

    def __len__(self) -> int:
        return int(self.start_ns.shape[0])


def interval_series(record: DamonRecord) -> IntervalSeries:
    """One row per aggregation round; a round sums the latest snapshot of every target.

    Snapshots of different targets of one context end within microseconds of each other; those
    whose ends lie closer than half the shortest snapshot are one round.
    """
    wss = wss_per_snapshot(record)
    access = access_per_snapshot(record)
    n_targets = len(record.targets)
    if n_targets <= 1 or len(record) == 0:
        return IntervalSeries(record.clock, record.start_ns.copy(), record.end_ns.copy(), wss,
                              access)
    lengths = record.end_ns - record.start_ns
    positive = lengths[lengths > 0]
    tolerance = int(positive.min()) // 2 if positive.size else 0
    latest_wss = np.zeros(n_targets, dtype=np.int64)
    latest_access = np.zeros(n_targets, dtype=np.int64)
    rows: list[tuple[int, int, int, int]] = []
    round_start = int(record.start_ns[0])
    round_end = int(record.end_ns[0])
    for i in range(len(record)):
        end = int(record.end_ns[i])
        if end - round_end > tolerance:
            rows.append((round_start, round_end, int(latest_wss.sum()), int(latest_access.sum())))
            round_start = round_end
        round_end = end
        target = int(record.snapshot_target[i])
        latest_wss[target] = wss[i]
        latest_access[target] = access[i]
    rows.append((round_start, round_end, int(latest_wss.sum()), int(latest_access.sum())))
    table = np.array(rows, dtype=np.int64)
    return IntervalSeries(record.clock, table[:, 0], table[:, 1], table[:, 2], table[:, 3])
