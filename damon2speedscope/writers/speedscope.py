"""Model → speedscope file: evented profiles on ONE absolute clock.

Every thread becomes an evented profile whose ``at`` values are nanoseconds of the perf clock,
and every profile has the same ``startValue``/``endValue``, so switching threads keeps the time
axis. Under each callstack sit two synthetic frames, the memory burst and the DAMON interval
(with its WSS) the sample falls in; a sample that straddles an interval boundary is cut there so
the nesting stays balanced. Idle time (no sample) stays a gap.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import frames as names
from ..analysis.bursts import Burst
from ..analysis.heat import hot_ranges, max_accesses
from ..analysis.wss import IntervalSeries
from ..clock import require_same_clock
from ..model import DamonRecord, Frame, PerfSamples

SCHEMA_URL = "https://www.speedscope.app/file-format-schema.json"
WSS_CURVE_DEPTH = 40
DEFAULT_PERIOD_NS = 1_000_000
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

    def piece(self, start: int, end: int, stack: list[int], key: object) -> None:
        if self.open and (start > self.end or key != self.key):
            self.close_to(0, min(start, self.end) if start > self.end else start)
        common = 0
        limit = min(len(self.open), len(stack))
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
    """Each sample stands for the period before it, clipped at the previous sample."""
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
    durations: np.ndarray = np.minimum(gap_before, nominal)
    return durations


def sample_span(samples: PerfSamples) -> tuple[int, int]:
    """First and last instant the samples cover (a sample covers the period before it)."""
    first = int(samples.time_ns[0]) if len(samples) else 0
    spans = [first]
    for thread in np.unique(samples.thread):
        mask = samples.thread == thread
        t = samples.time_ns[mask]
        d = _durations(t, samples.period[mask], samples.period_is_ns)
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


def thread_profile(
    samples: PerfSamples,
    thread: int,
    frames: _Frames,
    prefixes: _Prefixes | None,
    start_ns: int,
    end_ns: int,
) -> dict[str, Any]:
    mask = samples.thread == thread
    times = samples.time_ns[mask]
    stacks = samples.stack[mask]
    durations = _durations(times, samples.period[mask], samples.period_is_ns)
    events = _Events()
    table_stacks = samples.table.stacks
    bounds = prefixes.bounds if prefixes is not None else np.zeros(0, dtype=np.int64)
    for t, d, s in zip(times.tolist(), durations.tolist(), stacks.tolist(), strict=True):
        real = list(table_stacks[s])
        a = t - d
        if prefixes is None:
            if d > 0:
                events.piece(a, t, real, None)
            continue
        cuts = [a]
        if bounds.size:
            lo = int(np.searchsorted(bounds, a, side="right"))
            hi = int(np.searchsorted(bounds, t, side="left"))
            cuts.extend(int(x) for x in bounds[lo:hi])
        cuts.append(t)
        for p, q in itertools.pairwise(cuts):
            if q <= p:
                continue
            k = prefixes.interval_at(p)
            events.piece(p, q, prefixes.frames_for(k) + real, k)
    thread_info = samples.threads[thread]
    return {
        "type": "evented",
        "name": thread_info.label,
        "unit": "nanoseconds",
        "startValue": start_ns,
        "endValue": end_ns,
        "events": events.finish(),
    }


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
    for k in range(len(series)):
        wss = int(series.wss[k])
        root = prefixes.frames_for(k)[0]
        levels = -(-wss // step)
        stack = [root] + [frames.get(names.wss_level_name(j * step)) for j in range(1, levels)]
        stack.append(frames.get(names.wss_name(wss)))
        events.piece(int(series.start_ns[k]), int(series.end_ns[k]), stack, k)
    return {
        "type": "evented",
        "name": names.WSS_PROFILE_NAME,
        "unit": "nanoseconds",
        "startValue": timeline.start_ns,
        "endValue": timeline.end_ns,
        "events": events.finish(),
    }


def heat_profiles(frames: _Frames, timeline: Timeline, top: int) -> list[dict[str, Any]]:
    """Per target: each interval's hottest ranges stacked hottest-first over its burst."""
    record = timeline.record
    if record is None or len(record) == 0:
        return []
    full = max_accesses(record)
    prefixes = _Prefixes(frames, timeline)
    out: list[dict[str, Any]] = []
    for target_index, target in enumerate(record.targets):
        events = _Events()
        for k in np.flatnonzero(record.snapshot_target == target_index).tolist():
            start, end = int(record.start_ns[k]), int(record.end_ns[k])
            if end <= start:
                continue
            root = prefixes.frames_for(prefixes.interval_at(start))[0]
            ranges = hot_ranges(record, k, top, full)
            stack = [root] + ([frames.get(names.hot_range_name(r.start, r.end, r.rate))
                               for r in ranges] or [frames.get(names.NO_HOT_RANGE)])
            events.piece(start, end, stack, k)
        name = names.HEAT_PROFILE_NAME
        if len(record.targets) > 1:
            name += f" ({target.label})"
        out.append({"type": "evented", "name": name, "unit": "nanoseconds",
                    "startValue": timeline.start_ns, "endValue": timeline.end_ns,
                    "events": events.finish()})
    return out


def memory_profile(samples: PerfSamples, frames: _Frames, timeline: Timeline,
                   prefixes: _Prefixes, signal: str) -> dict[str, Any] | None:
    """CPU samples weighted by the memory of their interval: Left Heavy ranks code by bytes.

    A sample in interval k weighs ``signal_k // n_k`` bytes, n_k being the samples (all
    threads) in that interval, so each interval's samples together weigh its WSS (or access
    bytes). Samples outside the DAMON record weigh nothing and are left out.
    """
    series = timeline.series
    assert series is not None
    values = series.wss if signal == "wss" else series.access
    t = samples.time_ns
    k = np.searchsorted(series.start_ns, t, side="right") - 1
    inside = (k >= 0) & (t < series.end_ns[np.maximum(k, 0)])
    counts = np.bincount(k[inside], minlength=len(series))
    thread_frames = [frames.get(names.thread_frame_name(th.label)) for th in samples.threads]
    stacks: list[list[int]] = []
    weights: list[int] = []
    last_key: tuple[int, int, int] | None = None
    for i in np.flatnonzero(inside).tolist():
        ki = int(k[i])
        w = int(values[ki]) // int(counts[ki])
        key = (ki, int(samples.thread[i]), int(samples.stack[i]))
        if key == last_key:
            weights[-1] += w
            continue
        last_key = key
        stacks.append([prefixes.frames_for(ki)[0], thread_frames[key[1]],
                       *samples.table.stacks[key[2]]])
        weights.append(w)
    if not stacks:
        return None
    return {"type": "sampled", "name": names.MEMORY_PROFILE_NAMES[signal], "unit": "bytes",
            "startValue": 0, "endValue": sum(weights), "samples": stacks, "weights": weights}


def build_document(
    name: str,
    exporter: str,
    samples: PerfSamples | None,
    timeline: Timeline,
    views: ViewOptions | None = None,
) -> dict[str, Any]:
    """The whole speedscope file as plain Python data, deterministic for the same inputs."""
    views = views or ViewOptions()
    if samples is not None and timeline.series is not None:
        require_same_clock(timeline.series.clock, samples.clock)
    frames = _Frames(samples.table.frames if samples is not None else [])
    prefixes = _Prefixes(frames, timeline) if timeline.series is not None else None
    profiles: list[dict[str, Any]] = []
    if prefixes is not None and "wss" in views.views:
        profiles.append(wss_profile(frames, timeline, prefixes))
    active = 0
    has_samples = samples is not None and len(samples) > 0
    if samples is not None and has_samples and "threads" in views.views:
        counts = np.bincount(samples.thread, minlength=len(samples.threads))
        order = sorted(
            (t for t in range(len(samples.threads)) if counts[t] > 0),
            key=lambda t: (samples.threads[t].pid if samples.threads[t].pid is not None else -1,
                           samples.threads[t].tid, samples.threads[t].comm),
        )
        busiest = max(order, key=lambda t: (int(counts[t]), -order.index(t)))
        for t in order:
            if t == busiest:
                active = len(profiles)
            profiles.append(thread_profile(samples, t, frames, prefixes, timeline.start_ns,
                                           timeline.end_ns))
    if samples is not None and has_samples and prefixes is not None and "memory" in views.views:
        memory = memory_profile(samples, frames, timeline, prefixes, views.memory_signal)
        if memory is not None:
            profiles.append(memory)
    if "heat" in views.views:
        profiles.extend(heat_profiles(frames, timeline, views.hot_ranges))
    return {
        "$schema": SCHEMA_URL,
        "shared": {"frames": frames.to_json()},
        "profiles": profiles,
        "name": name,
        "activeProfileIndex": active,
        "exporter": exporter,
    }
