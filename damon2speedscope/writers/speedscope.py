"""Model → speedscope file: evented profiles on ONE absolute clock.

Every thread becomes an evented profile whose ``at`` values are nanoseconds of the perf clock,
and every profile has the same ``startValue``/``endValue``, so switching threads keeps the time
axis. Under each callstack sit two synthetic frames, the memory burst and the DAMON interval
(with its WSS) the sample falls in; a sample that straddles an interval boundary is cut there so
the nesting stays balanced. Idle time (no sample) stays a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import orjson

from .. import frames as names
from ..analysis.bursts import Burst
from ..analysis.heat import HotRange, hot_ranges, max_accesses
from ..analysis.wss import IntervalSeries
from ..clock import require_same_clock
from ..model import DamonRecord, Frame, PerfSamples
from ..pages import small_pages
from ..readers.vmas import Mappings
from .events import EventStream, Pieces, StackTable, chunks, close_json, cut_pieces

SCHEMA_URL = "https://www.speedscope.app/file-format-schema.json"
WSS_CURVE_DEPTH = 40
DEFAULT_PERIOD_NS = 1_000_000
BRIDGE_PERIODS = 3  # in half periods: gaps up to 1.5 sampling periods are bridged
_NICE = (1, 2, 5, 10, 20, 50, 100, 200, 500)


VIEWS = ("threads", "wss", "memory", "heat")
DEFAULT_VIEWS = frozenset(VIEWS)
HOT_RANGES_PER_INTERVAL = 5


@dataclass(frozen=True)
class Timeline:
    """The DAMON side as the writer needs it: intervals, bursts, and the time origin."""

    series: IntervalSeries | None
    bursts: list[Burst]
    start_ns: int
    end_ns: int
    record: DamonRecord | None = None


@dataclass(frozen=True)
class ViewOptions:
    """Which profiles to write (``--views``) and how the memory-weighted one weighs."""

    views: frozenset[str] = DEFAULT_VIEWS
    memory_signal: str = "wss"
    hot_ranges: int = HOT_RANGES_PER_INTERVAL
    mappings: tuple[Mappings, ...] = ()
    """Per DAMON target, in order: its process's mappings (from ``.vmas``), to name ranges."""


class _Frames:
    """The file's shared frame list: perf's interned frames first, synthetic ones after."""

    def __init__(self, perf_frames: list[Frame]) -> None:
        self.frames = list(perf_frames)
        self.index = {f: i for i, f in enumerate(self.frames)}

    def get(self, name: str) -> int:
        frame = Frame(name)
        i = self.index.get(frame)
        if i is None:
            i = len(self.frames)
            self.frames.append(frame)
            self.index[frame] = i
        return i

    def to_json(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for f in self.frames:
            out.append({"name": f.name} if f.file is None else {"name": f.name, "file": f.file})
        return out


class _Events:
    """Builds balanced open/close events from time-ordered pieces of root-first stacks."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.open: list[int] = []
        self.key: object = None
        self.end = 0

    def piece(self, start: int, end: int, stack: list[int], key: object, keep: int = 1) -> None:
        """Add ``[start, end)``; a new ``key`` keeps at most ``keep`` frames open (the burst
        root), so each DAMON interval stays visible while one burst stays one bar."""
        cap = len(stack)
        if self.open and start > self.end:
            self.close_to(0, self.end)
        elif self.open and key != self.key:
            cap = keep
        common = 0
        limit = min(len(self.open), len(stack), cap)
        while common < limit and self.open[common] == stack[common]:
            common += 1
        self.close_to(common, start)
        for frame in stack[common:]:
            self.events.append({"type": "O", "frame": frame, "at": start})
            self.open.append(frame)
        self.key = key
        self.end = end

    def close_to(self, depth: int, at: int) -> None:
        while len(self.open) > depth:
            self.events.append({"type": "C", "frame": self.open.pop(), "at": at})

    def finish(self) -> list[dict[str, Any]]:
        self.close_to(0, self.end)
        return self.events


def _durations(times: np.ndarray, periods: np.ndarray, period_is_ns: bool) -> np.ndarray:
    """Each sample stands for the period before it, back to the previous sample when that is
    less than 1.5 periods earlier (timer jitter must not cut the bars into slivers), else one
    period: longer gaps are idle time and stay gaps."""
    nominal = 0
    if period_is_ns and periods.size and int(periods.max()) > 0:
        nominal = int(np.median(periods[periods > 0]))
    if nominal <= 0:
        gaps = np.diff(times)
        gaps = gaps[gaps > 0]
        nominal = int(np.median(gaps)) if gaps.size else DEFAULT_PERIOD_NS
    gap_before = np.empty_like(times)
    if times.size:
        gap_before[0] = nominal
        gap_before[1:] = np.diff(times)
    durations: np.ndarray = np.where(gap_before <= nominal * BRIDGE_PERIODS // 2, gap_before,
                                     nominal)
    return durations


def _by_thread(samples: PerfSamples) -> dict[int, npt.NDArray[np.intp]]:
    """Indices of each thread's samples, in time order (one stable sort, not one scan each)."""
    order = np.argsort(samples.thread, kind="stable")
    threads = samples.thread[order]
    cuts = np.flatnonzero(np.diff(threads)) + 1
    starts = np.concatenate([[0], cuts]).astype(np.int64)
    ends = np.concatenate([cuts, [len(order)]]).astype(np.int64)
    return {int(threads[s]): order[s:e] for s, e in zip(starts.tolist(), ends.tolist(),
                                                        strict=True) if e > s}


def sample_span(samples: PerfSamples) -> tuple[int, int]:
    """First and last instant the samples cover (a sample covers the period before it)."""
    first = int(samples.time_ns[0]) if len(samples) else 0
    spans = [first]
    for idx in _by_thread(samples).values():
        t = samples.time_ns[idx]
        d = _durations(t, samples.period[idx], samples.period_is_ns)
        spans.append(int((t - d).min()))
    return min(spans), int(samples.time_ns.max()) if len(samples) else 0


class _Prefixes:
    """Frames for (burst, interval) of a point in time, with the interval as the cut key."""

    def __init__(self, frames: _Frames, timeline: Timeline) -> None:
        self.series = timeline.series
        self.bounds = np.zeros(0, dtype=np.int64)
        self.by_interval: list[list[int]] = []
        self.outside = [frames.get(names.NO_BURST), frames.get(names.NO_SNAPSHOT)]
        if self.series is None:
            return
        burst_of = [-1] * len(self.series)
        burst_frames: list[int] = []
        for b in timeline.bursts:
            burst_frames.append(frames.get(names.burst_name(
                b.number, b.start_ns - timeline.start_ns, b.end_ns - timeline.start_ns,
                b.peak_wss)))
            for k in range(b.first, b.last + 1):
                burst_of[k] = len(burst_frames) - 1
        no_burst = frames.get(names.NO_BURST)
        for k in range(len(self.series)):
            root = burst_frames[burst_of[k]] if burst_of[k] >= 0 else no_burst
            self.by_interval.append([root, frames.get(names.wss_name(int(self.series.wss[k])))])
        self.bounds = np.unique(np.concatenate([self.series.start_ns, self.series.end_ns]))

    def interval_at(self, t: int) -> int:
        if self.series is None:
            return -1
        k = int(np.searchsorted(self.series.start_ns, t, side="right")) - 1
        if k < 0 or t >= int(self.series.end_ns[k]):
            return -1
        return k

    def frames_for(self, k: int) -> list[int]:
        return self.by_interval[k] if k >= 0 else self.outside

    def table(self) -> npt.NDArray[np.int64]:
        """Row k + 1: the prefix frames of interval k; row 0: outside every interval."""
        return np.array([self.outside, *self.by_interval], dtype=np.int64).reshape(
            len(self.by_interval) + 1, 2)


_NO_PREFIX = np.zeros((1, 0), dtype=np.int64)


class _ThreadEvents:
    """A thread's samples as pieces, and the event stream they make (see writers/events)."""

    def __init__(self, samples: PerfSamples, idx: npt.NDArray[np.intp], prefixes: _Prefixes | None,
                 stacks: StackTable, prefix_table: npt.NDArray[np.int64]) -> None:
        times = samples.time_ns[idx]
        durations = _durations(times, samples.period[idx], samples.period_is_ns)
        series = prefixes.series if prefixes is not None else None
        self.pieces: Pieces = cut_pieces(
            times, durations, samples.stack[idx].astype(np.int64),
            prefixes.bounds if prefixes is not None else None,
            series.start_ns if series is not None else None,
            series.end_ns if series is not None else None)
        self.stream = EventStream(stacks, prefix_table)

    def dicts(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for chunk in chunks(self.pieces):
            is_close, frame, at = self.stream.arrays(chunk)
            events.extend({"type": "C" if c else "O", "frame": f, "at": a} for c, f, a in zip(
                is_close.tolist(), frame.tolist(), at.tolist(), strict=True))
        end = self.stream.prev_end
        events.extend({"type": "C", "frame": f, "at": end} for f in self.stream.final())
        return events

    def json(self) -> Iterator[bytes]:
        """The events list's JSON content in pieces (no brackets; commas between)."""
        sep = b""
        for chunk in chunks(self.pieces):
            text = self.stream.json(chunk)
            if text:
                yield sep + text
                sep = b","
        final = self.stream.final()
        if final:
            yield sep + close_json(final, self.stream.prev_end)


def _thread_head(samples: PerfSamples, thread: int, start_ns: int, end_ns: int) -> dict[str, Any]:
    return {"type": "evented", "name": samples.threads[thread].label, "unit": "nanoseconds",
            "startValue": start_ns, "endValue": end_ns}


def thread_profile(
    samples: PerfSamples,
    thread: int,
    frames: _Frames,
    prefixes: _Prefixes | None,
    start_ns: int,
    end_ns: int,
) -> dict[str, Any]:
    idx = np.flatnonzero(samples.thread == thread)
    stacks = StackTable(samples.table.stacks)
    table = prefixes.table() if prefixes is not None else _NO_PREFIX
    profile = _thread_head(samples, thread, start_ns, end_ns)
    profile["events"] = _ThreadEvents(samples, idx, prefixes, stacks, table).dicts()
    return profile


def _nice_step(maximum: int, depth: int) -> int:
    target = max(1, -(-maximum // depth))
    for unit in (1, 1 << 10, 1 << 20, 1 << 30, 1 << 40, 1 << 50):
        for m in _NICE:
            if m * unit >= target:
                return m * unit
    return target


def wss_profile(frames: _Frames, timeline: Timeline, prefixes: _Prefixes) -> dict[str, Any]:
    """The WSS curve drawn in the time-order view: stack depth grows with the WSS."""
    series = timeline.series
    assert series is not None
    events = _Events()
    step = _nice_step(int(series.wss.max()) if len(series) else 1, WSS_CURVE_DEPTH)
    level_frames: list[int] = []
    for k in range(len(series)):
        wss = int(series.wss[k])
        root = prefixes.frames_for(k)[0]
        levels = -(-wss // step)
        while len(level_frames) < levels - 1:  # the same frames, named on first use
            level_frames.append(frames.get(names.wss_level_name((len(level_frames) + 1) * step)))
        stack = [root, *level_frames[:max(levels - 1, 0)]]
        stack.append(frames.get(names.wss_name(wss)))
        events.piece(int(series.start_ns[k]), int(series.end_ns[k]), stack, k,
                     keep=len(stack) - 1)
    return {
        "type": "evented",
        "name": names.WSS_PROFILE_NAME,
        "unit": "nanoseconds",
        "startValue": timeline.start_ns,
        "endValue": timeline.end_ns,
        "events": events.finish(),
    }


_HOT_EXACT_LIMIT = 1 << 62


def _all_hot_ranges(record: DamonRecord, limit: int, full: int) -> list[list[HotRange]]:
    """:func:`analysis.heat.hot_ranges` of every snapshot at once (the same ranges)."""
    n = len(record)
    counts = np.diff(record.region_offset)
    acc = np.maximum(record.nr_accesses, 0).astype(np.int64)
    starts = record.region_start.astype(np.int64)
    ends = record.region_end.astype(np.int64)
    sizes = ends - starts
    if acc.size and (int(np.abs(sizes).max()) * int(acc.max()) * max(1, int(counts.max()))
                     >= _HOT_EXACT_LIMIT):
        return [hot_ranges(record, k, limit, full) for k in range(n)]
    snap = np.repeat(np.arange(n, dtype=np.int64), counts)
    keep = np.flatnonzero(acc > 0)
    s, e, a, sn = starts[keep], ends[keep], acc[keep], snap[keep]
    out: list[list[HotRange]] = [[] for _ in range(n)]
    if keep.size == 0:
        return out
    new = np.ones(len(keep), dtype=bool)
    new[1:] = (sn[1:] != sn[:-1]) | (e[:-1] != s[1:])
    first = np.flatnonzero(new)
    last = np.concatenate([first[1:] - 1, [len(keep) - 1]])
    weight = np.add.reduceat((e - s) * a, first)
    rs, re_, rsnap = s[first], e[last], sn[first]
    order = np.lexsort((rs, -weight, rsnap))
    rsnap_sorted = rsnap[order]
    group_start = np.searchsorted(rsnap_sorted, rsnap_sorted, side="left")
    rank = np.arange(len(order)) - group_start
    chosen = order[rank < limit]
    for k, lo, hi, w in zip(rsnap[chosen].tolist(), rs[chosen].tolist(), re_[chosen].tolist(),
                            weight[chosen].tolist(), strict=True):
        if hi > lo:
            out[k].append(HotRange(lo, hi, min(1.0, w / ((hi - lo) * full))))
    return out


def heat_profiles(frames: _Frames, timeline: Timeline, top: int,
                  mappings: tuple[Mappings, ...] = ()) -> list[dict[str, Any]]:
    """Per target: each interval's hottest ranges stacked hottest-first over its burst."""
    record = timeline.record
    if record is None or len(record) == 0:
        return []
    full = max_accesses(record)
    prefixes = _Prefixes(frames, timeline)
    ranges_of = _all_hot_ranges(record, top, full)
    out: list[dict[str, Any]] = []
    for target_index, target in enumerate(record.targets):
        events = _Events()
        maps = mappings[target_index] if target_index < len(mappings) else None
        for k in np.flatnonzero(record.snapshot_target == target_index).tolist():
            start, end = int(record.start_ns[k]), int(record.end_ns[k])
            if end <= start:
                continue
            root = prefixes.frames_for(prefixes.interval_at(start))[0]
            ranges = ranges_of[k]
            stack = [root] + ([frames.get(names.hot_range_name(
                r.start, r.end, r.rate, maps.name_at(r.start) if maps else None))
                for r in ranges] or [frames.get(names.NO_HOT_RANGE)])
            events.piece(start, end, stack, k)
        name = names.HEAT_PROFILE_NAME
        if len(record.targets) > 1:
            name += f" ({target.label})"
        out.append({"type": "evented", "name": name, "unit": "nanoseconds",
                    "startValue": timeline.start_ns, "endValue": timeline.end_ns,
                    "events": events.finish()})
    return out


@dataclass
class _MemoryRuns:
    """The memory-weighted profile as runs of equal (interval, thread, stack)."""

    root: npt.NDArray[np.int64]
    thread: npt.NDArray[np.int64]
    stack: npt.NDArray[np.int64]
    weights: npt.NDArray[np.int64]
    total: int


def _memory_runs(samples: PerfSamples, frames: _Frames, timeline: Timeline,
                 prefixes: _Prefixes, signal: str) -> tuple[list[int], _MemoryRuns | None]:
    """A sample in interval k weighs ``signal_k // n_k``; consecutive samples of one interval,
    thread and stack are one run (their weights summed)."""
    series = timeline.series
    assert series is not None
    values = (series.wss if signal == "wss" else series.access).astype(np.int64)
    t = samples.time_ns
    k = np.searchsorted(series.start_ns, t, side="right") - 1
    inside = (k >= 0) & (t < series.end_ns[np.maximum(k, 0)])
    counts = np.bincount(k[inside], minlength=len(series))
    thread_frames = [frames.get(names.thread_frame_name(th.label)) for th in samples.threads]
    idx = np.flatnonzero(inside)
    if idx.size == 0:
        return thread_frames, None
    ki = k[idx].astype(np.int64)
    w = values[ki] // counts[ki]
    thread = samples.thread[idx].astype(np.int64)
    stack = samples.stack[idx].astype(np.int64)
    change = np.ones(len(idx), dtype=bool)
    change[1:] = (ki[1:] != ki[:-1]) | (thread[1:] != thread[:-1]) | (stack[1:] != stack[:-1])
    first = np.flatnonzero(change)
    weights = np.add.reduceat(w, first)
    if values.size and float(values.astype(np.float64).sum()) < 2.0**62:
        total = int(weights.sum())
    else:
        total = sum(int(x) for x in weights.tolist())
    roots = np.array([prefixes.frames_for(i)[0] for i in range(len(series))], dtype=np.int64)
    return thread_frames, _MemoryRuns(roots[ki[first]], thread[first], stack[first], weights,
                                      total)


def _memory_head(signal: str, total: int) -> dict[str, Any]:
    return {"type": "sampled", "name": names.MEMORY_PROFILE_NAMES[signal], "unit": "bytes",
            "startValue": 0, "endValue": total}


def memory_profile(samples: PerfSamples, frames: _Frames, timeline: Timeline,
                   prefixes: _Prefixes, signal: str) -> dict[str, Any] | None:
    """CPU samples weighted by the memory of their interval: Left Heavy ranks code by bytes.

    A sample in interval k weighs ``signal_k // n_k`` bytes, n_k being the samples (all
    threads) in that interval, so each interval's samples together weigh its WSS (or access
    bytes). Samples outside the DAMON record weigh nothing and are left out.
    """
    thread_frames, runs = _memory_runs(samples, frames, timeline, prefixes, signal)
    if runs is None:
        return None
    table = samples.table.stacks
    profile = _memory_head(signal, runs.total)
    profile["samples"] = [[r, thread_frames[t], *table[s]] for r, t, s in zip(
        runs.root.tolist(), runs.thread.tolist(), runs.stack.tolist(), strict=True)]
    profile["weights"] = runs.weights.tolist()
    return profile


def _memory_json(samples: PerfSamples, thread_frames: list[int], runs: _MemoryRuns,
                 signal: str) -> Iterator[bytes]:
    head = orjson.dumps(_memory_head(signal, runs.total))
    yield head[:-1] + b',"samples":['
    table = samples.table.stacks
    rows = np.stack([runs.root, runs.thread, runs.stack], axis=1)
    sep = b""
    for i in range(0, len(rows), 1 << 18):
        part = rows[i:i + (1 << 18)]
        uniq, inverse = np.unique(part, axis=0, return_inverse=True)
        rendered = np.array([orjson.dumps([r, thread_frames[t], *table[s]])
                             for r, t, s in uniq.tolist()], dtype=object)
        yield sep + b",".join(rendered[inverse.reshape(-1)].tolist())
        sep = b","
    yield b'],"weights":' + orjson.dumps(runs.weights, option=orjson.OPT_SERIALIZE_NUMPY) + b"}"


def _thread_order(samples: PerfSamples) -> tuple[list[int], int]:
    counts = np.bincount(samples.thread, minlength=len(samples.threads))
    order = sorted(
        (t for t in range(len(samples.threads)) if counts[t] > 0),
        key=lambda t: (samples.threads[t].pid if samples.threads[t].pid is not None else -1,
                       samples.threads[t].tid, samples.threads[t].comm),
    )
    busiest = max(order, key=lambda t: (int(counts[t]), -order.index(t)))
    return order, busiest


class DocumentWriter:
    """The profiles of one file in order; the thread and memory profiles are produced only
    when written (as dicts or as JSON bytes), everything else is built up front so that the
    shared frame list is complete before the first profile is written."""

    def __init__(self, name: str, exporter: str, samples: PerfSamples | None,
                 timeline: Timeline, views: ViewOptions | None) -> None:
        views = views or ViewOptions()
        if samples is not None and timeline.series is not None:
            require_same_clock(timeline.series.clock, samples.clock)
        self.name = name
        self.exporter = exporter
        self.samples = samples
        self.timeline = timeline
        self.views = views
        self.frames = frames = _Frames(samples.table.frames if samples is not None else [])
        self.prefixes = prefixes = _Prefixes(frames, timeline) if timeline.series is not None \
            else None
        # each entry: a built profile, or a thread index, or "memory"
        self.profiles: list[dict[str, Any] | int | str] = []
        if prefixes is not None and "wss" in views.views:
            self.profiles.append(wss_profile(frames, timeline, prefixes))
        self.active = 0
        has_samples = samples is not None and len(samples) > 0
        if samples is not None and has_samples and "threads" in views.views:
            order, busiest = _thread_order(samples)
            for t in order:
                if t == busiest:
                    self.active = len(self.profiles)
                self.profiles.append(t)
        self.memory: tuple[list[int], _MemoryRuns | None] | None = None
        if samples is not None and has_samples and prefixes is not None \
                and "memory" in views.views:
            self.memory = _memory_runs(samples, frames, timeline, prefixes, views.memory_signal)
            if self.memory[1] is not None:
                self.profiles.append("memory")
        if "heat" in views.views:
            self.profiles.extend(heat_profiles(frames, timeline, views.hot_ranges,
                                               views.mappings))

    def _thread_events(self) -> Callable[[int], _ThreadEvents]:
        samples = self.samples
        assert samples is not None
        groups = _by_thread(samples)
        stacks = StackTable(samples.table.stacks)
        table = self.prefixes.table() if self.prefixes is not None else _NO_PREFIX
        return lambda t: _ThreadEvents(samples, groups[t], self.prefixes, stacks, table)

    def _tail(self) -> dict[str, Any]:
        return {"name": self.name, "activeProfileIndex": self.active, "exporter": self.exporter}

    def _head(self) -> dict[str, Any]:
        return {"$schema": SCHEMA_URL, "shared": {"frames": self.frames.to_json()}}

    def to_dict(self) -> dict[str, Any]:
        profiles: list[dict[str, Any]] = []
        events_of = self._thread_events() if any(
            isinstance(p, int) for p in self.profiles) else None
        for p in self.profiles:
            if isinstance(p, int):
                assert events_of is not None and self.samples is not None
                profile = _thread_head(self.samples, p, self.timeline.start_ns,
                                       self.timeline.end_ns)
                profile["events"] = events_of(p).dicts()
                profiles.append(profile)
            elif isinstance(p, str):
                assert self.samples is not None and self.prefixes is not None
                memory = memory_profile(self.samples, self.frames, self.timeline, self.prefixes,
                                        self.views.memory_signal)
                assert memory is not None
                profiles.append(memory)
            else:
                profiles.append(p)
        return {**self._head(), "profiles": profiles, **self._tail()}

    def json(self) -> Iterator[bytes]:
        """The bytes of ``orjson.dumps(self.to_dict())``, in pieces."""
        with small_pages():
            yield from self._json()

    def _json(self) -> Iterator[bytes]:
        yield orjson.dumps(self._head())[:-1] + b',"profiles":['
        events_of = self._thread_events() if any(
            isinstance(p, int) for p in self.profiles) else None
        sep = b""
        for p in self.profiles:
            if isinstance(p, int):
                assert events_of is not None and self.samples is not None
                head = orjson.dumps(_thread_head(self.samples, p, self.timeline.start_ns,
                                                 self.timeline.end_ns))
                yield sep + head[:-1] + b',"events":['
                yield from events_of(p).json()
                yield b"]}"
            elif isinstance(p, str):
                assert self.samples is not None and self.memory is not None
                thread_frames, runs = self.memory
                assert runs is not None
                first = True
                for part in _memory_json(self.samples, thread_frames, runs,
                                         self.views.memory_signal):
                    yield (sep + part) if first else part
                    first = False
            else:
                yield sep + orjson.dumps(p)
            sep = b","
        yield b"]," + orjson.dumps(self._tail())[1:]


def build_document(
    name: str,
    exporter: str,
    samples: PerfSamples | None,
    timeline: Timeline,
    views: ViewOptions | None = None,
) -> dict[str, Any]:
    """The whole speedscope file as plain Python data, deterministic for the same inputs."""
    return DocumentWriter(name, exporter, samples, timeline, views).to_dict()


def document_writer(
    name: str,
    exporter: str,
    samples: PerfSamples | None,
    timeline: Timeline,
    views: ViewOptions | None = None,
) -> DocumentWriter:
    """Everything small of the file built now; the rest when written (see DocumentWriter)."""
    return DocumentWriter(name, exporter, samples, timeline, views)


def document_json(
    name: str,
    exporter: str,
    samples: PerfSamples | None,
    timeline: Timeline,
    views: ViewOptions | None = None,
) -> Iterator[bytes]:
    """The bytes ``orjson.dumps(build_document(...))`` would give, produced piece by piece
    without building the document: memory stays bounded by the model, not the output."""
    return DocumentWriter(name, exporter, samples, timeline, views).json()


def write_document(
    out: BinaryIO,
    name: str,
    exporter: str,
    samples: PerfSamples | None,
    timeline: Timeline,
    views: ViewOptions | None = None,
) -> int:
    """Write :func:`document_json` to ``out``; returns the number of bytes written."""
    size = 0
    for part in document_json(name, exporter, samples, timeline, views):
        out.write(part)
        size += len(part)
    return size
