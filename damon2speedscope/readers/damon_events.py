"""Assembles ``damon:damon_aggregated`` tracepoint events into DAMON snapshots.

A snapshot is the run of ``nr_regions`` consecutive events of one target of one kdamond. The
kernel emits them one by one at the end of an aggregation interval, so the events of ONE snapshot
carry DIFFERENT timestamps: snapshots are never grouped by timestamp. The snapshot's end time is
the timestamp of its first event; its start is the previous snapshot's end of the same target.
The first snapshot of a target starts one mean interval earlier (``(last_end - first_end) //
(n - 1)``), which is what damo 3.4.3 writes for the same data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..clock import ClockDomain
from ..errors import InputError
from ..model import DamonRecord, DamonTarget, SkipCounter

_PAYLOAD = re.compile(
    rb"target_id=(?P<target>0x[0-9a-fA-F]+|\d+)\s+nr_regions=(?P<nr>\d+)\s+"
    rb"(?P<start>\d+)-(?P<end>\d+):\s+(?P<acc>-?\d+)(?:\s+(?P<age>-?\d+))?"
)


@dataclass
class _Pending:
    end_ns: int
    expected: int
    where: str
    regions: list[tuple[int, int, int, int]] = field(default_factory=list)
    last_time_ns: int = 0


@dataclass
class _Snapshot:
    target: int
    end_ns: int
    regions: list[tuple[int, int, int, int]]


class SnapshotAssembler:
    """Feed events in file order with :meth:`add`; :meth:`finish` returns the record."""

    def __init__(self, clock: ClockDomain, source: str, skipped: SkipCounter) -> None:
        self.clock = clock
        self.source = source
        self.skipped = skipped
        self._targets: dict[DamonTarget, int] = {}
        self._pending: dict[int, _Pending] = {}
        self._done: list[_Snapshot] = []

    def add_payload(self, kdamond: str, time_ns: int, payload: bytes, where: str) -> None:
        """Parse the text after ``damon:damon_aggregated:`` and add it."""
        m = _PAYLOAD.search(payload)
        if m is None:
            self.skipped.add("damon_aggregated line not understood", where)
            return
        target_text = m["target"]
        target_id = int(target_text, 16) if target_text.startswith(b"0x") else int(target_text)
        age_text = m["age"]
        self.add(
            kdamond,
            0,
            target_id,
            time_ns,
            int(m["nr"]),
            int(m["start"]),
            int(m["end"]),
            int(m["acc"]),
            int(age_text) if age_text is not None else -1,
            where,
        )

    def add(
        self,
        kdamond: str,
        context: int,
        target_id: int,
        time_ns: int,
        nr_regions: int,
        start: int,
        end: int,
        nr_accesses: int,
        age: int,
        where: str,
    ) -> None:
        key = DamonTarget(kdamond, context, target_id)
        target = self._targets.setdefault(key, len(self._targets))
        if start == 0 and end == 0 and nr_accesses < 0:
            # damo's writer appends a fake "0-0: -1 -1" snapshot after the last real one.
            self.skipped.add("damo placeholder snapshot (0-0: -1 -1)", where)
            return
        if end < start:
            raise InputError(f"DAMON region ends before it starts ({start}-{end})", *_split(where))
        pending = self._pending.get(target)
        if pending is not None and pending.regions:
            last = pending.regions[-1]
            if pending.last_time_ns == time_ns and last == (start, end, nr_accesses, age):
                # perf occasionally records one tracepoint event twice (seen in real data)
                self.skipped.add("duplicate DAMON event", where)
                return
            if pending.expected != nr_regions or start < last[1]:
                self.skipped.add("incomplete DAMON snapshot", pending.where)
                pending = None
        if pending is None:
            if nr_regions == 0:
                self.skipped.add("DAMON snapshot with nr_regions=0", where)
                return
            pending = _Pending(time_ns, nr_regions, where)
            self._pending[target] = pending
        pending.regions.append((start, end, nr_accesses, age))
        pending.last_time_ns = time_ns
        if len(pending.regions) == pending.expected:
            self._done.append(_Snapshot(target, pending.end_ns, pending.regions))
            del self._pending[target]

    def finish(
        self, sample_interval_ns: int | None = None, aggr_interval_ns: int | None = None
    ) -> DamonRecord | None:
        for pending in self._pending.values():
            self.skipped.add("incomplete DAMON snapshot", pending.where)
        self._pending.clear()
        if not self._done:
            return None
        snapshots = self._done
        ends = {t: [s.end_ns for s in snapshots if s.target == t] for t in self._targets.values()}
        starts: list[int] = []
        previous: dict[int, int] = {}
        for snap in snapshots:
            prev = previous.get(snap.target)
            if prev is None:
                prev = snap.end_ns - first_interval_ns(ends[snap.target], aggr_interval_ns)
            starts.append(prev)
            previous[snap.target] = snap.end_ns
        return build_record(
            self.clock,
            list(self._targets),
            [s.target for s in snapshots],
            starts,
            [s.end_ns for s in snapshots],
            [s.regions for s in snapshots],
            sample_interval_ns,
            aggr_interval_ns,
        )


def first_interval_ns(ends: list[int], aggr_interval_ns: int | None) -> int:
    """Length given to a target's first snapshot, whose start no event records."""
    if len(ends) >= 2:
        return -((ends[0] - ends[-1]) // (len(ends) - 1))  # damo: end - mean, truncated
    return aggr_interval_ns or 0


def build_record(
    clock: ClockDomain,
    targets: list[DamonTarget],
    snapshot_target: list[int],
    starts: list[int],
    ends: list[int],
    regions: list[list[tuple[int, int, int, int]]],
    sample_interval_ns: int | None,
    aggr_interval_ns: int | None,
) -> DamonRecord:
    """Pack snapshots (any order) into a time-sorted :class:`DamonRecord`."""
    order = sorted(range(len(ends)), key=lambda i: (ends[i], snapshot_target[i]))
    counts = np.array([len(regions[i]) for i in order], dtype=np.int64)
    offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = [r for i in order for r in regions[i]]
    region_start = np.fromiter((r[0] for r in flat), dtype=np.uint64, count=len(flat))
    region_end = np.fromiter((r[1] for r in flat), dtype=np.uint64, count=len(flat))
    nr_accesses = np.fromiter((r[2] for r in flat), dtype=np.int32, count=len(flat))
    age = np.fromiter((r[3] for r in flat), dtype=np.int32, count=len(flat))
    return DamonRecord(
        clock=clock,
        targets=targets,
        snapshot_target=np.array([snapshot_target[i] for i in order], dtype=np.int32),
        start_ns=np.array([starts[i] for i in order], dtype=np.int64),
        end_ns=np.array([ends[i] for i in order], dtype=np.int64),
        region_offset=offsets,
        region_start=region_start,
        region_end=region_end,
        nr_accesses=nr_accesses,
        age=age,
        sample_interval_ns=sample_interval_ns,
        aggr_interval_ns=aggr_interval_ns,
    )


def _split(where: str) -> tuple[str | None, int | None]:
    source, _, line = where.rpartition(":")
    if source and line.isdigit():
        return source, int(line)
    return where, None
