"""The legacy DAMON binary record ("record" / recfmt), versions 0, 1 and 2.

Written by the out-of-tree DAMON kernel patches (the debugfs ``record`` file, 2020), by damo
up to v2.0.x (``damo record`` with ``--output_type record``, the default then) and by damo's
2020 tools such as ``adjust.py``. damo 3.4.3 can no longer read it. Layout, native-endian
(little-endian in every known file; big-endian files are recognised too), packed, no padding::

    [header: b"damon_recfmt_ver" (16 bytes), int32 version]   no header = version 0
    entries to end of file:
        int64 tv_sec, int64 tv_nsec                 the snapshot's END time
        uint32 nr_targets
        per target:
            id                                      v0: uint64, v1: int32, v2: uint64
            uint32 nr_regions
            per region: uint64 start, uint64 end, uint32 nr_accesses

There is no age field: ages are -1 in the model. An entry holds one target (damo's writer,
which writes target after target: all snapshots of the first target, then of the next) or all
targets of one aggregation (the kernel writer's layout, also written by ``adjust.py``); both are
read the same way and targets are kept apart by id.

Start times: a snapshot starts where the previous snapshot (by end time) of the same target
ended; a target's first snapshot starts one mean snapshot interval before its end
(``(last_end - first_end) / (n - 1)``, the rule of
:func:`damon2speedscope.readers.damon_events.first_interval_ns`, which is what damo uses for
its other end-time-only formats); a target with a single snapshot falls back as described in
:func:`damon2speedscope.readers.damon_events.snapshot_starts`.

Clock: the kernel writer stamped entries with ``ktime_get_coarse_ts64()``, i.e.
CLOCK_MONOTONIC_COARSE. damo's writer copied the ``damon:damon_aggregated`` tracepoint times
that ``perf script`` printed, i.e. perf's clock (``local_clock``, the tracepoint clock). The two
writers are told apart by layout: a file with any entry of more than one target is in the
kernel layout → :attr:`ClockDomain.MONOTONIC_COARSE`; a file whose entries all hold one target
is taken as damo's → :attr:`ClockDomain.PERF`. (A kernel-written record of a single target
cannot be told from damo's; declare its clock with ``--clock monotonic_coarse``.)

Version 0 has no magic: :func:`looks_like_v0` accepts a file only when ALL of it parses as
version-0 entries with plausible values (nanoseconds below 10^9, at least one target and one
region per entry, regions not ending before they start, counts that fit the file), so text,
JSON or other binary data never passes for one. Detection tries it last.
"""

from __future__ import annotations

import struct

import numpy as np

from ..clock import ClockDomain
from ..errors import InputError
from ..model import TIME_LIMIT_NS, DamonRecord, DamonTarget, SkipCounter
from .damon_events import NOT_LATER_REASON, pack_record, snapshot_starts

OVERLAPPING_REGIONS_REASON = "DAMON snapshot with overlapping or unordered regions"

MAGIC = b"damon_recfmt_ver"
HEADER_SIZE = len(MAGIC) + 4
VERSIONS = (0, 1, 2)
KDAMOND = "kdamond.0"

MAX_TARGETS = 1 << 16
"""More targets than this in one entry is implausible (detection of headerless version 0)."""
MAX_SECONDS = TIME_LIMIT_NS // 1_000_000_000
"""tv_sec at or above this (146 years, :data:`~damon2speedscope.model.TIME_LIMIT_NS`) is
implausible."""


def _region_dtype(order: str) -> np.dtype[np.void]:
    return np.dtype([("start", order + "u8"), ("end", order + "u8"), ("nr", order + "u4")])


def header_version(data: bytes) -> tuple[int, str] | None:
    """(version, byte order) of a file with the recfmt header, None without the magic."""
    if not data.startswith(MAGIC):
        return None
    if len(data) < HEADER_SIZE:
        return -1, "<"
    for order in ("<", ">"):
        (version,) = struct.unpack_from(order + "i", data, len(MAGIC))
        if version in VERSIONS:
            return version, order
    (version,) = struct.unpack_from("<i", data, len(MAGIC))
    return version, "<"


class _Invalid(Exception):
    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


class _Parsed:
    def __init__(self) -> None:
        self.target_ids: list[int] = []
        self.snap_target: list[int] = []
        self.ends: list[int] = []
        self.counts: list[int] = []
        self.blocks: list[np.ndarray] = []
        self.multitarget = False
        self.empty_snapshots = 0
        self.first_empty_at = 0
        self.skips: dict[str, tuple[int, int]] = {}  # reason → (count, first offset)
        self.last_end: dict[int, int] = {}

    def skip(self, reason: str, offset: int) -> None:
        count, first = self.skips.get(reason, (0, offset))
        self.skips[reason] = (count + 1, first)


def _parse(data: bytes, start: int, version: int, order: str) -> _Parsed:
    """Every entry from ``start`` to the end; raises :class:`_Invalid` at the first problem."""
    head = struct.Struct(order + "qqI")
    tid = struct.Struct(order + ("i" if version == 1 else "Q"))
    count = struct.Struct(order + "I")
    regions_dt = _region_dtype(order)
    out = _Parsed()
    index: dict[int, int] = {}
    pos = start
    size = len(data)
    while pos < size:
        entry_at = pos
        if pos + head.size > size:
            raise _Invalid(f"truncated entry: {size - pos} bytes left of its "
                           f"{head.size}-byte header", entry_at)
        sec, nsec, nr_targets = head.unpack_from(data, pos)
        pos += head.size
        if not 0 <= nsec < 1_000_000_000:
            raise _Invalid(f"entry time has tv_nsec={nsec} (not below 10^9)", entry_at)
        if not 0 <= sec < MAX_SECONDS:
            raise _Invalid(f"entry time has implausible tv_sec={sec}", entry_at)
        if not 1 <= nr_targets <= MAX_TARGETS:
            raise _Invalid(f"entry with implausible nr_targets={nr_targets}", entry_at)
        if nr_targets > 1:
            out.multitarget = True
        end_ns = sec * 1_000_000_000 + nsec
        for _ in range(nr_targets):
            target_at = pos
            if pos + tid.size + count.size > size:
                raise _Invalid("truncated entry: target header cut off", target_at)
            (target_id,) = tid.unpack_from(data, pos)
            pos += tid.size
            (nr_regions,) = count.unpack_from(data, pos)
            pos += count.size
            if pos + nr_regions * regions_dt.itemsize > size:
                raise _Invalid(f"truncated entry: target {target_id} announces {nr_regions} "
                               f"regions, only {(size - pos) // regions_dt.itemsize} follow",
                               target_at)
            block = np.frombuffer(data, dtype=regions_dt, count=nr_regions, offset=pos)
            region_at = pos
            pos += nr_regions * regions_dt.itemsize
            if nr_regions and bool((block["end"] < block["start"]).any()):
                bad = int(np.argmax(block["end"] < block["start"]))
                raise _Invalid("region ends before it starts",
                               region_at + bad * regions_dt.itemsize)
            if nr_regions and int(block["nr"].max()) > np.iinfo(np.int32).max:
                raise _Invalid("implausible nr_accesses", region_at)
            if nr_regions == 0:
                if not out.empty_snapshots:
                    out.first_empty_at = target_at
                out.empty_snapshots += 1
                continue
            if nr_regions > 1 and bool((block["start"][1:] < block["end"][:-1]).any()):
                out.skip(OVERLAPPING_REGIONS_REASON, target_at)
                continue
            previous_end = out.last_end.get(target_id)
            if previous_end is not None and end_ns <= previous_end:
                out.skip(NOT_LATER_REASON, target_at)
                continue
            out.last_end[target_id] = end_ns
            t = index.get(target_id)
            if t is None:
                t = index[target_id] = len(out.target_ids)
                out.target_ids.append(target_id)
            out.snap_target.append(t)
            out.ends.append(end_ns)
            out.counts.append(nr_regions)
            out.blocks.append(block)
    return out


def looks_like_v0(data: bytes) -> str | None:
    """The byte order if ALL of ``data`` parses as plausible headerless version-0 entries."""
    if len(data) < 20 + 12 + 20 or data.startswith(MAGIC):
        return None
    for order in ("<", ">"):
        try:
            parsed = _parse(data, 0, 0, order)
        except _Invalid:
            continue
        if parsed.ends:
            return order
    return None


def parse_recfmt(
    data: bytes, source: str, clock: ClockDomain | None = None,
    skipped: SkipCounter | None = None,
) -> DamonRecord:
    """Read a legacy record; ``clock`` overrides the layout-based choice (module docstring)."""
    found = header_version(data)
    if found is None:
        order = looks_like_v0(data)
        if order is None:
            raise InputError("not a DAMON legacy record (no recfmt header, and not a whole "
                             "file of plausible version-0 entries)", source, offset=0)
        version, start = 0, 0
    else:
        version, order = found
        start = HEADER_SIZE
        if version == -1:
            raise InputError("truncated recfmt header (the version is cut off)", source,
                             offset=len(MAGIC))
        if version not in VERSIONS:
            raise InputError(f"unknown DAMON recfmt version {version} (known: 0, 1, 2)",
                             source, offset=len(MAGIC))
    try:
        parsed = _parse(data, start, version, order)
    except _Invalid as exc:
        raise InputError(f"DAMON recfmt v{version}: {exc.reason}", source,
                         offset=exc.offset) from None
    if skipped is not None and parsed.empty_snapshots:
        skipped.add("DAMON snapshot with nr_regions=0", f"{source}@{parsed.first_empty_at}",
                    parsed.empty_snapshots)
    for reason, (count, first) in parsed.skips.items():
        if skipped is not None:
            skipped.add(reason, f"{source}@{first}", count)
    if not parsed.ends:
        raise InputError(f"DAMON recfmt v{version} record holds no snapshot", source,
                         offset=start)
    if clock is None:
        clock = ClockDomain.MONOTONIC_COARSE if parsed.multitarget else ClockDomain.PERF
    targets = [DamonTarget(KDAMOND, 0, t) for t in parsed.target_ids]
    starts = snapshot_starts(targets, parsed.snap_target, parsed.ends, None)
    regions = np.concatenate(parsed.blocks)
    return pack_record(
        clock, targets, parsed.snap_target, starts, parsed.ends, parsed.counts,
        regions["start"].astype(np.uint64), regions["end"].astype(np.uint64),
        regions["nr"].astype(np.int32), np.full(len(regions), -1, dtype=np.int32),
        None, None)
