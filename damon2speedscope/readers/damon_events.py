"""Assembles DAMON tracepoint events into DAMON snapshots, and packs snapshots into the model.

A snapshot is the run of ``nr_regions`` consecutive ``damon_aggregated`` events of one target of
one kdamond. The kernel emits them one by one at the end of an aggregation interval, so the
events of ONE snapshot carry DIFFERENT timestamps: snapshots are never grouped by timestamp. The
snapshot's end time is the timestamp of its first event; its start is the previous snapshot's
end of the same target (see :func:`snapshot_starts` for a target's first snapshot).

Other DAMON events (every reader that sees them calls :meth:`SnapshotAssembler.add_event`):

* ``damon_monitor_intervals_tune`` (``sample_us=N``, kernels with interval auto-tuning) is
  counted; the last one sets the record's sample interval, and the aggregation interval is
  the one in effect after it (see :meth:`SnapshotAssembler.finish`).
* ``damos_before_apply`` (``ctx_idx= scheme_idx= target_idx= nr_regions= S-E: nr age``) is
  counted. ``damo record --schemes_target_regions`` records ONLY these, and damo then reads
  them as the snapshots; so do we, for the first scheme seen, when the input has no
  ``damon_aggregated`` event at all. Otherwise they are reported as not used.

Payloads: ``target_id`` is a kernel pointer printed in decimal before Linux 5.18 and the
target's index since; the trailing ``age`` field is absent before 5.16 (age -1 then). damo's
own perf-script writer puts a fake ``0-0: -1 -1`` snapshot after a target's only snapshot so
that readers can compute that snapshot's start: it is dropped (counted), but its end time is
used for the first-interval rule, exactly as damo does.

Kdamonds: the thread name ``kdamond.N`` identifies the kdamond (``kdamond.N PID`` and
``kdamond.N`` are the same kdamond); damo's placeholder ``kdamond.x`` is kdamond 0, which is
what damo itself assumes for records without a kdamond index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from ..clock import ClockDomain
from ..errors import InputError
from ..model import TIME_LIMIT_NS, DamonRecord, DamonTarget, SkipCounter

_PAYLOAD = re.compile(
    rb"target_id=(?P<target>0x[0-9a-fA-F]+|\d+)\s+nr_regions=(?P<nr>\d+)\s+"
    rb"(?P<start>\d+)-(?P<end>\d+):\s+(?P<acc>-?\d+)(?:\s+(?P<age>-?\d+))?"
)
_BEFORE_APPLY = re.compile(
    rb"ctx_idx=(?P<ctx>\d+)\s+scheme_idx=(?P<scheme>\d+)\s+target_idx=(?P<target>\d+)\s+"
    rb"nr_regions=(?P<nr>\d+)\s+(?P<start>\d+)-(?P<end>\d+):\s+(?P<acc>-?\d+)"
    rb"(?:\s+(?P<age>-?\d+))?"
)
_TUNE = re.compile(rb"sample_us=(?P<us>\d+)")
_KDAMOND = re.compile(r"^(kdamond\.(?:\d+|x))(?:\s|$)")

DAMON_AGGREGATED = "damon_aggregated"
UINT64_MAX = (1 << 64) - 1
INT32_MAX = (1 << 31) - 1
NOT_LATER_REASON = ("DAMON snapshot not later than the previous one of its target (time going "
                    "backwards, or a repeated snapshot)")
DAMOS_BEFORE_APPLY = "damos_before_apply"
INTERVALS_TUNE = "damon_monitor_intervals_tune"

Region = tuple[int, int, int, int]


def kdamond_label(thread: str) -> str:
    """``kdamond.0 77`` → ``kdamond.0``; damo's placeholder ``kdamond.x`` → ``kdamond.0``."""
    m = _KDAMOND.match(thread)
    if m is None:
        return thread
    return "kdamond.0" if m[1] == "kdamond.x" else m[1]


def event_kind(event: str) -> str:
    """The tracepoint name without its ``damon:`` system prefix."""
    return event.rsplit(":", 1)[-1]


@dataclass
class _Pending:
    end_ns: int
    expected: int
    where: str
    regions: list[Region] = field(default_factory=list)
    last_time_ns: int = 0


@dataclass
class _Snapshot:
    target: int
    end_ns: int
    regions: list[Region]
    where: str = ""


class _Stream:
    """Snapshots of one event kind, assembled per target."""

    def __init__(self, skipped: SkipCounter, what: str) -> None:
        self.skipped = skipped
        self.what = what
        self.targets: dict[DamonTarget, int] = {}
        self.pending: dict[int, _Pending] = {}
        self.done: list[_Snapshot] = []
        self.fake_end: dict[int, int] = {}
        self.last_end: dict[int, int] = {}

    def add(self, key: DamonTarget, time_ns: int, nr_regions: int, region: Region,
            where: str) -> None:
        target = self.targets.setdefault(key, len(self.targets))
        start, end, nr_accesses, age = region
        if not 0 <= time_ns < TIME_LIMIT_NS:
            raise InputError(f"DAMON event time {time_ns} ns is out of range (0 to 2^62 ns)",
                             *_split(where))
        if start == 0 and end == 0 and nr_accesses < 0:
            # damo's writer appends a fake "0-0: -1 -1" snapshot after a lone real one.
            self.skipped.add("damo placeholder snapshot (0-0: -1 -1)", where)
            self.fake_end[target] = time_ns
            return
        if end < start:
            raise InputError(f"DAMON region ends before it starts ({start}-{end})", *_split(where))
        if end > UINT64_MAX:
            raise InputError(f"DAMON region {start}-{end} lies outside 64 bits", *_split(where))
        if not -1 <= nr_accesses <= INT32_MAX:
            raise InputError(f"implausible nr_accesses {nr_accesses}", *_split(where))
        if not -1 <= age <= INT32_MAX:  # clipped, as the damo json reader does
            region = (start, end, nr_accesses, min(max(age, -1), INT32_MAX))
        pending = self.pending.get(target)
        if pending is not None and pending.regions:
            last = pending.regions[-1]
            if pending.last_time_ns == time_ns and last == region:
                # perf occasionally records one tracepoint event twice (seen in real data)
                self.skipped.add("duplicate DAMON event", where)
                return
            if pending.expected != nr_regions or start < last[1]:
                self.skipped.add(f"incomplete {self.what} snapshot", pending.where)
                pending = None
        if pending is None:
            if nr_regions == 0:
                self.skipped.add(f"{self.what} snapshot with nr_regions=0", where)
                return
            pending = _Pending(time_ns, nr_regions, where)
            self.pending[target] = pending
        pending.regions.append(region)
        pending.last_time_ns = time_ns
        if len(pending.regions) == pending.expected:
            del self.pending[target]
            previous_end = self.last_end.get(target)
            if previous_end is not None and pending.end_ns <= previous_end:
                self.skipped.add(NOT_LATER_REASON, pending.where)
                return
            self.last_end[target] = pending.end_ns
            self.done.append(_Snapshot(target, pending.end_ns, pending.regions, pending.where))

    def close(self) -> None:
        for pending in self.pending.values():
            self.skipped.add(f"incomplete {self.what} snapshot", pending.where)
        self.pending.clear()


class SnapshotAssembler:
    """Feed events in file order with :meth:`add_event`; :meth:`finish` returns the record."""

    def __init__(self, clock: ClockDomain, source: str, skipped: SkipCounter) -> None:
        self.clock = clock
        self.source = source
        self.skipped = skipped
        self.events: dict[str, int] = {}
        """How many events of each DAMON tracepoint were seen (name without ``damon:``)."""
        self.notes: list[str] = []
        """What the reader should tell the user (e.g. snapshots taken from damos_before_apply)."""
        self._aggregated = _Stream(skipped, "DAMON")
        self._before_apply = _Stream(skipped, "damos_before_apply")
        self._scheme: int | None = None
        self._tunes: list[tuple[int, int]] = []  # (time_ns, sample_us)

    def add_event(self, event: str, thread: str, time_ns: int, payload: bytes,
                  where: str) -> None:
        """Any ``damon:*`` event, by name with or without the ``damon:`` prefix."""
        kind = event_kind(event)
        if kind == DAMON_AGGREGATED:
            self.add_payload(thread, time_ns, payload, where)
            return
        self.events[kind] = self.events.get(kind, 0) + 1
        if kind == INTERVALS_TUNE:
            m = _TUNE.search(payload)
            if m is None:
                self.skipped.add(f"{kind} line not understood", where)
            else:
                self._tunes.append((time_ns, int(m["us"])))
        elif kind == DAMOS_BEFORE_APPLY:
            self._add_before_apply(thread, time_ns, payload, where)
        else:
            self.skipped.add(f"DAMON event {kind} (not used)", where)

    def add_payload(self, kdamond: str, time_ns: int, payload: bytes, where: str) -> None:
        """Parse the text after ``damon:damon_aggregated:`` and add it."""
        self.events[DAMON_AGGREGATED] = self.events.get(DAMON_AGGREGATED, 0) + 1
        m = _PAYLOAD.search(payload)
        if m is None:
            self.skipped.add("damon_aggregated line not understood", where)
            return
        target_text = m["target"]
        target_id = int(target_text, 16) if target_text.startswith(b"0x") else int(target_text)
        age_text = m["age"]
        self.add(kdamond, 0, target_id, time_ns, int(m["nr"]), int(m["start"]), int(m["end"]),
                 int(m["acc"]), int(age_text) if age_text is not None else -1, where)

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
        """One ``damon_aggregated`` region, already parsed."""
        key = DamonTarget(kdamond_label(kdamond), context, target_id)
        self._aggregated.add(key, time_ns, nr_regions, (start, end, nr_accesses, age), where)

    def _add_before_apply(self, thread: str, time_ns: int, payload: bytes, where: str) -> None:
        m = _BEFORE_APPLY.search(payload)
        if m is None:
            self.skipped.add(f"{DAMOS_BEFORE_APPLY} line not understood", where)
            return
        scheme = int(m["scheme"])
        if self._scheme is None:
            self._scheme = scheme
        if scheme != self._scheme:
            self.skipped.add(f"{DAMOS_BEFORE_APPLY} of another scheme than "
                             f"scheme {self._scheme}", where)
            return
        age_text = m["age"]
        key = DamonTarget(kdamond_label(thread), int(m["ctx"]), int(m["target"]))
        region = (int(m["start"]), int(m["end"]), int(m["acc"]),
                  int(age_text) if age_text is not None else -1)
        self._before_apply.add(key, time_ns, int(m["nr"]), region, where)

    @property
    def intervals_tuned(self) -> int:
        return len(self._tunes)

    def finish(
        self, sample_interval_ns: int | None = None, aggr_interval_ns: int | None = None
    ) -> DamonRecord | None:
        """The record, or None without any complete snapshot.

        With ``damon_monitor_intervals_tune`` events: the sample interval is the last tuned
        one; the aggregation interval is the last tuned sample interval times the
        aggregation/sample ratio when both intervals were given, else the median spacing of
        the snapshots that ended after the last tune event (None if fewer than two did).
        """
        self._aggregated.close()
        self._before_apply.close()
        stream = self._aggregated
        n_before = self.events.get(DAMOS_BEFORE_APPLY, 0)
        if not stream.done and self._before_apply.done:
            stream = self._before_apply
            self.notes.append(
                f"{self.source}: no damon_aggregated events; the snapshots are the regions "
                f"scheme {self._scheme} was about to be applied to (damos_before_apply), as "
                "damo reads such a record")
        elif n_before:
            self.skipped.add("damos_before_apply event (the record has damon_aggregated "
                             "snapshots)", self.source, n_before)
        if not stream.done:
            return None
        tuned = bool(self._tunes)
        if tuned:
            last_time, last_us = self._tunes[-1]
            if sample_interval_ns and aggr_interval_ns:
                aggr_interval_ns = last_us * 1000 * aggr_interval_ns // sample_interval_ns
            else:
                aggr_interval_ns = _median_spacing(stream.done, last_time)
            sample_interval_ns = last_us * 1000
        snapshots = stream.done
        used = sorted({s.target for s in snapshots})
        remap = {old: new for new, old in enumerate(used)}
        all_targets = list(stream.targets)
        targets = [all_targets[old] for old in used]
        snap_target = [remap[s.target] for s in snapshots]
        ends = [s.end_ns for s in snapshots]
        fake = {remap[t]: end for t, end in stream.fake_end.items() if t in remap}
        starts = snapshot_starts(targets, snap_target, ends, aggr_interval_ns, fake, tuned)
        return build_record(self.clock, targets, snap_target, starts, ends,
                            [s.regions for s in snapshots], sample_interval_ns, aggr_interval_ns)


def _median_spacing(snapshots: list[_Snapshot], after_ns: int) -> int | None:
    by_target: dict[int, list[int]] = {}
    for s in snapshots:
        if s.end_ns > after_ns:
            by_target.setdefault(s.target, []).append(s.end_ns)
    gaps = [b - a for ends in by_target.values() for a, b in pairwise(ends)]
    return int(np.median(gaps)) if gaps else None


def first_interval_ns(ends: list[int], aggr_interval_ns: int | None, tuned: bool = False) -> int:
    """Length given to a target's first snapshot, whose start no event records.

    ``ends`` are the target's snapshot end times in order (damo's fake trailing snapshot
    included). With two or more: the mean spacing ``(last - first) / (n - 1)``, rounded up so
    that the start is ``first_end - mean`` truncated, exactly what damo 3.4.3 computes. When the
    intervals were auto-tuned (``tuned``) the mean spans several intervals, so the spacing of
    the first two snapshots is used instead. With one end: ``aggr_interval_ns``, or 0.
    """
    if len(ends) >= 2:
        if tuned:
            return ends[1] - ends[0]
        return -((ends[0] - ends[-1]) // (len(ends) - 1))  # damo: end - mean, truncated
    return aggr_interval_ns or 0


def snapshot_starts(
    targets: Sequence[DamonTarget],
    snapshot_target: Sequence[int],
    ends: Sequence[int],
    aggr_interval_ns: int | None,
    fake_end: dict[int, int] | None = None,
    tuned: bool = False,
) -> list[int]:
    """Start times for formats that record only snapshot ends (tracepoints, legacy records).

    A snapshot starts where the previous snapshot (by end time) of the same target ended. A
    target's first snapshot gets :func:`first_interval_ns` of the target's ends (plus damo's
    fake trailing snapshot's end, if there was one). A target with a single snapshot and no
    fake one falls back to ``aggr_interval_ns`` when known, else to the first interval of
    another target of the same kdamond (any target if none), else to 0. damo leaves such a
    start unset (and then fails to write it), so there is no reference to follow.
    """
    fake_end = fake_end or {}
    per_target: dict[int, list[int]] = {}
    for i in sorted(range(len(ends)), key=lambda i: ends[i]):
        per_target.setdefault(snapshot_target[i], []).append(i)
    first: dict[int, int] = {}
    for t, idx in per_target.items():
        target_ends = [ends[i] for i in idx]
        if t in fake_end:
            target_ends.append(fake_end[t])
        if len(target_ends) >= 2:
            first[t] = first_interval_ns(target_ends, aggr_interval_ns, tuned)
    starts = [0] * len(ends)
    for t, idx in per_target.items():
        length = first.get(t)
        if length is None:
            if aggr_interval_ns:
                length = aggr_interval_ns
            else:
                same = [v for u, v in first.items() if targets[u].kdamond == targets[t].kdamond]
                others = same or list(first.values())
                length = others[0] if others else 0
        previous = ends[idx[0]] - length
        for i in idx:
            starts[i] = previous
            previous = ends[i]
    return starts


def pack_record(
    clock: ClockDomain,
    targets: list[DamonTarget],
    snapshot_target: npt.ArrayLike,
    starts: npt.ArrayLike,
    ends: npt.ArrayLike,
    counts: npt.ArrayLike,
    region_start: npt.NDArray[np.uint64],
    region_end: npt.NDArray[np.uint64],
    nr_accesses: npt.NDArray[np.int32],
    age: npt.NDArray[np.int32],
    sample_interval_ns: int | None,
    aggr_interval_ns: int | None,
) -> DamonRecord:
    """Snapshots in any order, regions flat in that order (``counts`` per snapshot) → a
    :class:`DamonRecord` sorted by (end time, target), file order kept among equals."""
    snap_target = np.asarray(snapshot_target, dtype=np.int32)
    start_ns = np.asarray(starts, dtype=np.int64)
    end_ns = np.asarray(ends, dtype=np.int64)
    count = np.asarray(counts, dtype=np.int64)
    old_offset = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=old_offset[1:])
    order = np.lexsort((snap_target, end_ns))
    offsets = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count[order], out=offsets[1:])
    if np.array_equal(order, np.arange(len(order))):
        gather: npt.NDArray[np.int64] | None = None
    else:
        gather = np.repeat(old_offset[:-1][order] - offsets[:-1], count[order]) + np.arange(
            int(offsets[-1]), dtype=np.int64)
    return DamonRecord(
        clock=clock,
        targets=targets,
        snapshot_target=snap_target[order],
        start_ns=start_ns[order],
        end_ns=end_ns[order],
        region_offset=offsets,
        region_start=region_start if gather is None else region_start[gather],
        region_end=region_end if gather is None else region_end[gather],
        nr_accesses=nr_accesses if gather is None else nr_accesses[gather],
        age=age if gather is None else age[gather],
        sample_interval_ns=sample_interval_ns,
        aggr_interval_ns=aggr_interval_ns,
    )


def build_record(
    clock: ClockDomain,
    targets: list[DamonTarget],
    snapshot_target: list[int],
    starts: list[int],
    ends: list[int],
    regions: list[list[Region]],
    sample_interval_ns: int | None,
    aggr_interval_ns: int | None,
) -> DamonRecord:
    """Pack snapshots (any order) given as region tuples into a time-sorted record."""
    total = sum(len(r) for r in regions)
    flat = [r for snap in regions for r in snap]
    return pack_record(
        clock, targets, snapshot_target, starts, ends, [len(r) for r in regions],
        np.fromiter((r[0] for r in flat), dtype=np.uint64, count=total),
        np.fromiter((r[1] for r in flat), dtype=np.uint64, count=total),
        np.fromiter((r[2] for r in flat), dtype=np.int32, count=total),
        np.fromiter((r[3] for r in flat), dtype=np.int32, count=total),
        sample_interval_ns, aggr_interval_ns)


def _split(where: str) -> tuple[str | None, int | None]:
    source, _, line = where.rpartition(":")
    if source and line.isdigit():
        return source, int(line)
    return where, None
