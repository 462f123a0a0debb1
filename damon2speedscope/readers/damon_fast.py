"""``damon_aggregated`` events → snapshots, with numpy, for well-formed records.

:class:`~.damon_events.SnapshotAssembler` takes one event at a time and copes with everything
real records hold (incomplete snapshots, duplicated events, damo's placeholder snapshots, ...).
Most records hold none of that: every target's events are whole snapshots of ``nr_regions``
consecutive events, addresses increasing. :func:`assemble` checks exactly that, with array
operations, and then builds the same :class:`~damon2speedscope.model.DamonRecord` the
assembler would; anything else raises :class:`Declined`, and the caller feeds the events to
the assembler instead (:func:`feed`), so results never depend on which path ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..clock import ClockDomain
from ..model import TIME_LIMIT_NS, DamonRecord, DamonTarget, SkipCounter
from .damon_events import SnapshotAssembler, kdamond_label, pack_record, snapshot_starts

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]

_INT32_MAX = 2**31 - 1


class Declined(Exception):
    """The fast path does not handle this input; the exact, general path must run."""


@dataclass
class RegionEvents:
    """``damon_aggregated`` events in the order the assembler would see them."""

    labels: list[str]  # the event's thread as ``"comm pid"`` (see SnapshotAssembler.add_payload)
    label: I64  # index into labels, per event
    target_id: U64
    time_ns: I64
    nr_regions: I64
    start: U64
    end: U64
    nr_accesses: I64
    age: I64  # -1 where the format has no age
    where: list[str] | None = None  # per event, for messages of the general path

    def __len__(self) -> int:
        return int(self.time_ns.shape[0])

    @staticmethod
    def concatenate(labels: list[str], parts: list[RegionEvents],
                    consume: bool = False) -> RegionEvents:
        """Parts (whose ``label`` index ``labels``), in order. ``consume`` empties each part's
        column once it is copied: the parts and the whole never all exist at once (a third
        less peak memory for a large record)."""
        def cat(name: str, dtype: type[np.generic]) -> npt.NDArray[np.generic]:
            arrays = [getattr(p, name) for p in parts]
            if not arrays:
                return np.zeros(0, dtype=dtype)
            if consume:
                for p in parts:
                    setattr(p, name, arrays[0][:0])
            out = np.concatenate(arrays).astype(dtype, copy=False)
            arrays.clear()
            return out

        return RegionEvents(
            labels, cat("label", np.int64), cat("target_id", np.uint64),  # type: ignore[arg-type]
            cat("time_ns", np.int64), cat("nr_regions", np.int64),  # type: ignore[arg-type]
            cat("start", np.uint64), cat("end", np.uint64),  # type: ignore[arg-type]
            cat("nr_accesses", np.int64), cat("age", np.int64))  # type: ignore[arg-type]


def assemble(ev: RegionEvents, clock: ClockDomain, skipped: SkipCounter | None = None,
             where: Callable[[int], str] | None = None) -> DamonRecord | None:
    """The record :class:`SnapshotAssembler` would build from these events (``finish()``
    without intervals), or :class:`Declined`. None when there is no event at all.

    An event repeating the previous event of its target inside a snapshot (same time, same
    region) is dropped and counted in ``skipped`` as the assembler does (``where(i)`` names
    event i); anything else irregular declines."""
    n = len(ev)
    if n == 0:
        return None
    targets, target = _targets(ev)
    dropped, original = _duplicates(ev, target)
    if dropped.size:
        keep = np.ones(n, dtype=bool)
        keep[dropped] = False
        kept = np.flatnonzero(keep)
        record = _assemble(_take(ev, kept), targets, target[kept], clock,
                           np.searchsorted(kept, original))
        if skipped is not None:
            name = where or (lambda i: str(i))
            skipped.add("duplicate DAMON event", name(int(dropped[0])), int(dropped.size))
        return record
    return _assemble(ev, targets, target, clock, None)


def _targets(ev: RegionEvents) -> tuple[list[DamonTarget], I64]:
    """Targets in order of first appearance, keyed by (kdamond, target id); each event's."""
    kd_names = [kdamond_label(label) for label in ev.labels]
    kd_index: dict[str, int] = {}
    kd_of_label = np.array([kd_index.setdefault(k, len(kd_index)) for k in kd_names],
                           dtype=np.int64)
    if len(kd_index) == 1 and bool((ev.target_id == ev.target_id[0]).all()):
        return ([DamonTarget(kd_names[0], 0, int(ev.target_id[0]))],
                np.zeros(len(ev), dtype=np.int64))  # one target: most records
    ids, id_index = np.unique(ev.target_id, return_inverse=True)
    key = kd_of_label[ev.label] * len(ids) + id_index.reshape(-1)
    keys, first, key_index = np.unique(key, return_index=True, return_inverse=True)
    appearance = np.argsort(first, kind="stable")
    rank = np.empty(len(keys), dtype=np.int64)
    rank[appearance] = np.arange(len(keys))
    kd_list = list(kd_index)
    targets = [DamonTarget(kd_list[int(keys[i]) // len(ids)], 0,
                           int(ids[int(keys[i]) % len(ids)])) for i in appearance.tolist()]
    return targets, rank[key_index.reshape(-1)]


def _duplicates(ev: RegionEvents, key: I64) -> tuple[npt.NDArray[np.intp],
                                                      npt.NDArray[np.intp]]:
    """Events equal to the previous event of the same target (file indices, in file order),
    and for each the kept event it repeats."""
    n = len(ev)
    order = _by_target(key)

    def pair(a: npt.NDArray[Any]) -> Bool:
        """Whether each event (from the second on, in target order) equals the previous."""
        if order is None:  # one target: slices, no copies
            out: Bool = a[1:] == a[:-1]
        else:
            b = a[order]
            out = b[1:] == b[:-1]
        return out

    same = np.zeros(n, dtype=bool)
    rest = pair(ev.time_ns)
    for column in (ev.start, ev.end, ev.nr_accesses, ev.age, ev.nr_regions, key):
        if not rest.any():
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        rest &= pair(column)
    same[1:] = rest
    if not same.any():
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    # the nearest kept event before each repeat, in its target's order
    position = np.arange(n)
    last_kept = np.maximum.accumulate(np.where(same, -1, position))
    where = np.arange(n) if order is None else order
    dups = where[same]
    originals = where[last_kept[same]]
    by_file = np.argsort(dups, kind="stable")
    return dups[by_file], originals[by_file]


def _by_target(target: I64) -> npt.NDArray[np.intp] | None:
    """Event indices grouped by target, file order kept within each (a stable sort; radix
    on small integers); None when that is the file order (a single target)."""
    if len(target) == 0 or bool((target == target[0]).all()):
        return None
    small = target.astype(np.int16) if int(target.max()) < (1 << 15) else target
    out: npt.NDArray[np.intp] = np.argsort(small, kind="stable")
    return out


def _take(ev: RegionEvents, idx: npt.NDArray[np.intp]) -> RegionEvents:
    return RegionEvents(ev.labels, ev.label[idx], ev.target_id[idx], ev.time_ns[idx],
                        ev.nr_regions[idx], ev.start[idx], ev.end[idx], ev.nr_accesses[idx],
                        ev.age[idx])


def _assemble(ev: RegionEvents, targets: list[DamonTarget], target: I64, clock: ClockDomain,
              boundary_check: npt.NDArray[np.intp] | None) -> DamonRecord | None:
    """``boundary_check``: events (indices into ``ev``) that must not end a snapshot (the
    originals of dropped repeats: the assembler drops a repeat only inside a snapshot)."""
    n = len(ev)
    start, end, acc, age, nr = ev.start, ev.end, ev.nr_accesses, ev.age, ev.nr_regions
    if bool((end < start).any()) or bool((nr <= 0).any()):
        raise Declined("region ending before its start, or nr_regions=0")
    if bool((ev.time_ns < 0).any()) or bool((ev.time_ns >= TIME_LIMIT_NS).any()):
        raise Declined("times out of range")
    if bool((acc < 0).any()) or bool((acc > _INT32_MAX).any()) \
            or bool((age < -1).any()) or bool((age > _INT32_MAX).any()):
        raise Declined("nr_accesses or age out of range (or damo's placeholder)")
    # each target's events in file order; snapshots are runs of nr_regions equal values
    order = _by_target(target)

    def by_target(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return a if order is None else a[order]

    t_sorted = by_target(target)
    nr_sorted = by_target(nr)
    run_start = np.ones(n, dtype=bool)
    run_start[1:] = (t_sorted[1:] != t_sorted[:-1]) | (nr_sorted[1:] != nr_sorted[:-1])
    runs = np.flatnonzero(run_start)
    lengths = np.diff(np.append(runs, n))
    values = nr_sorted[runs]
    if bool((lengths % values).any()):
        raise Declined("a snapshot with fewer or more events than its nr_regions")
    # the first event of every snapshot: each run holds length // nr snapshots back to back
    per_run = lengths // values
    k = np.arange(int(per_run.sum()), dtype=np.int64) - np.repeat(np.cumsum(per_run) - per_run,
                                                                   per_run)
    firsts = np.repeat(runs, per_run) + k * np.repeat(values, per_run)
    first_event = np.zeros(n, dtype=bool)
    first_event[firsts] = True
    s_sorted, e_sorted = by_target(start), by_target(end)
    inner = ~first_event[1:]
    if bool(((s_sorted[1:] < e_sorted[:-1]) & inner).any()):
        raise Declined("regions of a snapshot out of order")
    # (no two events of a snapshot repeat each other: _duplicates removed those)
    if boundary_check is not None and boundary_check.size:
        if order is None:
            at = boundary_check
        else:
            rank_in_sorted = np.empty(n, dtype=np.int64)
            rank_in_sorted[order] = np.arange(n)
            at = rank_in_sorted[boundary_check]
        ends_snapshot = np.ones(n, dtype=bool)
        ends_snapshot[:-1] = first_event[1:]
        if bool(ends_snapshot[at].any()):
            raise Declined("a repeated event at the end of a snapshot")
    n_snap = len(firsts)
    # a snapshot is done at its last event: that is the order the assembler lists them in
    file_index = firsts if order is None else order[firsts]
    first_time = ev.time_ns[file_index]
    same_target = t_sorted[firsts][1:] == t_sorted[firsts][:-1]
    if bool((same_target & (first_time[1:] <= first_time[:-1])).any()):
        raise Declined("a snapshot not later than the previous one of its target")
    lasts = np.append(firsts[1:] - 1, n - 1)
    if order is None:  # one target: snapshots are done in file order
        snap_end, snap_target, counts = first_time, t_sorted[firsts], nr_sorted[firsts]
        starts = snapshot_starts(targets, snap_target.tolist(), snap_end.tolist(), None, {},
                                 False)
        return pack_record(clock, targets, snap_target, starts, snap_end, counts,
                           start.astype(np.uint64, copy=False), end.astype(np.uint64, copy=False),
                           acc.astype(np.int32), age.astype(np.int32), None, None)
    done = np.argsort(order[lasts], kind="stable")
    snap_end = first_time[done]
    snap_target = t_sorted[firsts][done]
    counts = nr_sorted[firsts][done]
    starts = snapshot_starts(targets, snap_target.tolist(), snap_end.tolist(), None, {}, False)
    # regions flat in done order
    rank_of_snap = np.empty(n_snap, dtype=np.int64)
    rank_of_snap[done] = np.arange(n_snap)
    snapshot = np.cumsum(first_event) - 1  # of each event, in target order
    region_order = order[np.argsort(rank_of_snap[snapshot], kind="stable")]
    return pack_record(clock, targets, snap_target, starts, snap_end, counts,
                       start[region_order].astype(np.uint64),
                       end[region_order].astype(np.uint64),
                       acc[region_order].astype(np.int32), age[region_order].astype(np.int32),
                       None, None)


def feed(ev: RegionEvents, assembler: SnapshotAssembler, where: Callable[[int], str]) -> None:
    """The events into the general assembler, one by one (what the text reader does)."""
    labels = ev.labels
    for i, (label, tid, t, nr, s, e, a, g) in enumerate(zip(
            ev.label.tolist(), ev.target_id.tolist(), ev.time_ns.tolist(),
            ev.nr_regions.tolist(), ev.start.tolist(), ev.end.tolist(),
            ev.nr_accesses.tolist(), ev.age.tolist(), strict=True)):
        assembler.events["damon_aggregated"] = assembler.events.get("damon_aggregated", 0) + 1
        assembler.add(labels[label], 0, tid, t, nr, s, e, a, g, where(i))


class Assembled(SnapshotAssembler):
    """An assembler whose record was built already (by :func:`assemble`)."""

    def __init__(self, clock: ClockDomain, source: str, base: SnapshotAssembler,
                 record: DamonRecord | None, count: int) -> None:
        super().__init__(clock, source, base.skipped)
        self.record = record
        self.events = {"damon_aggregated": count} if count else {}

    def finish(self, sample_interval_ns: int | None = None,
               aggr_interval_ns: int | None = None) -> DamonRecord | None:
        return self.record


def build(ev: RegionEvents, clock: ClockDomain, source: str, skipped: SkipCounter,
          where: Callable[[int], str] | None = None) -> tuple[DamonRecord | None, list[str]]:
    """The record of these events (fast when :func:`assemble` can, else the assembler's);
    ``where(i)`` names event i in messages (default ``source:N``, N counting from 1)."""
    name = where or (lambda i: f"{source}:{i + 1}")
    try:
        return assemble(ev, clock, skipped, name), []
    except Declined:
        assembler = SnapshotAssembler(clock, source, skipped)
        feed(ev, assembler, name)
        return assembler.finish(), assembler.notes
