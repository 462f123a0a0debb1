"""The vectorised speedscope writer gives exactly what the straightforward one gave.

``reference_*`` below are the writer's original per-sample implementations (one Python call
per piece of a sample, one dict per event); random models with every awkward case (equal
times, zero durations, gaps, empty stacks, stacks sharing prefixes, samples straddling
interval bounds, gaps between intervals, negative times, several threads and targets) must
give the same document, and :func:`document_json` the bytes ``orjson.dumps`` writes for it.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import numpy as np
import orjson
import pytest

from damon2speedscope import frames as names
from damon2speedscope.analysis.bursts import Burst
from damon2speedscope.analysis.heat import hot_ranges, max_accesses
from damon2speedscope.analysis.wss import IntervalSeries
from damon2speedscope.clock import ClockDomain
from damon2speedscope.model import (
    DamonRecord,
    DamonTarget,
    Frame,
    FrameTable,
    PerfSamples,
    Thread,
)
from damon2speedscope.writers import events as ev
from damon2speedscope.writers import speedscope as ss


def reference_thread_profile(samples: PerfSamples, thread: int, frames: Any,
                             prefixes: Any, start_ns: int, end_ns: int) -> dict[str, Any]:
    mask = samples.thread == thread
    times = samples.time_ns[mask]
    stacks = samples.stack[mask]
    durations = ss._durations(times, samples.period[mask], samples.period_is_ns)
    events = ss._Events()
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
    return {"type": "evented", "name": samples.threads[thread].label, "unit": "nanoseconds",
            "startValue": start_ns, "endValue": end_ns, "events": events.finish()}


def reference_memory_profile(samples: PerfSamples, frames: Any, timeline: ss.Timeline,
                             prefixes: Any, signal: str) -> dict[str, Any] | None:
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


def reference_document(name: str, exporter: str, samples: PerfSamples | None,
                       timeline: ss.Timeline, views: ss.ViewOptions) -> dict[str, Any]:
    frames = ss._Frames(samples.table.frames if samples is not None else [])
    prefixes = ss._Prefixes(frames, timeline) if timeline.series is not None else None
    profiles: list[dict[str, Any]] = []
    if prefixes is not None and "wss" in views.views:
        profiles.append(ss.wss_profile(frames, timeline, prefixes))
    active = 0
    has = samples is not None and len(samples) > 0
    if samples is not None and has and "threads" in views.views:
        order, busiest = ss._thread_order(samples)
        for t in order:
            if t == busiest:
                active = len(profiles)
            profiles.append(reference_thread_profile(samples, t, frames, prefixes,
                                                     timeline.start_ns, timeline.end_ns))
    if samples is not None and has and prefixes is not None and "memory" in views.views:
        memory = reference_memory_profile(samples, frames, timeline, prefixes,
                                          views.memory_signal)
        if memory is not None:
            profiles.append(memory)
    if "heat" in views.views and timeline.record is not None and len(timeline.record):
        record = timeline.record
        full = max_accesses(record)
        pre = ss._Prefixes(frames, timeline)
        for target_index, target in enumerate(record.targets):
            events = ss._Events()
            for k in np.flatnonzero(record.snapshot_target == target_index).tolist():
                start, end = int(record.start_ns[k]), int(record.end_ns[k])
                if end <= start:
                    continue
                root = pre.frames_for(pre.interval_at(start))[0]
                ranges = hot_ranges(record, k, views.hot_ranges, full)
                stack = [root] + ([frames.get(names.hot_range_name(r.start, r.end, r.rate))
                                   for r in ranges] or [frames.get(names.NO_HOT_RANGE)])
                events.piece(start, end, stack, k)
            hname = names.HEAT_PROFILE_NAME
            if len(record.targets) > 1:
                hname += f" ({target.label})"
            profiles.append({"type": "evented", "name": hname, "unit": "nanoseconds",
                             "startValue": timeline.start_ns, "endValue": timeline.end_ns,
                             "events": events.finish()})
    return {"$schema": ss.SCHEMA_URL, "shared": {"frames": frames.to_json()},
            "profiles": profiles, "name": name, "activeProfileIndex": active,
            "exporter": exporter}


def _random_samples(rng: random.Random, n: int, origin: int) -> PerfSamples:
    table = FrameTable()
    n_frames = rng.randint(1, 12)
    frame_ids = [table.frame(Frame(f"f{i}", rng.choice([None, "lib.so"])))
                 for i in range(n_frames)]
    stacks = [table.stack(())]
    for _ in range(rng.randint(1, 15)):
        base = list(table.stacks[rng.randrange(len(table.stacks))])
        base = base[:rng.randint(0, len(base))]
        base += [rng.choice(frame_ids) for _ in range(rng.randint(0, 5))]
        stacks.append(table.stack(tuple(base)))
    n_threads = rng.randint(1, 4)
    threads = [Thread(f"t{i}", rng.choice([None, 10]), 100 + i) for i in range(n_threads)]
    step = rng.choice([1, 7, 1000])
    times = origin + np.cumsum(
        [rng.choice([0, step, step, step, 3 * step, 40 * step]) for _ in range(n)]).astype(
        np.int64)
    return PerfSamples(
        clock=ClockDomain.PERF, event="cpu-clock", table=table, threads=threads,
        time_ns=times,
        thread=np.array([rng.randrange(n_threads) for _ in range(n)], dtype=np.int32),
        stack=np.array([rng.choice(stacks) for _ in range(n)], dtype=np.int32),
        period=np.array([rng.choice([0, step, 2 * step]) for _ in range(n)], dtype=np.int64),
        period_is_ns=rng.random() < 0.5)


def _random_record(rng: random.Random, start: int, end: int) -> DamonRecord:
    n_targets = rng.randint(1, 2)
    targets = [DamonTarget("kdamond.0", 0, i) for i in range(n_targets)]
    end = max(end, start + 1)
    length = max(1, (end - start) // rng.randint(2, 12))
    snap_target: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    offsets = [0]
    rs: list[int] = []
    re_: list[int] = []
    acc: list[int] = []
    t = start - rng.randint(0, length)
    while t < end + length:
        nxt = t + length + rng.choice([0, 0, 0, length // 3])
        for target in range(n_targets):
            snap_target.append(target)
            starts.append(t)
            ends.append(nxt - rng.choice([0, 0, length // 4]))
            addr = rng.randint(0, 1 << 20) * 4096
            for _ in range(rng.randint(0, 8)):
                size = rng.choice([0, 4096, 8192, 1 << 20])
                gap = rng.choice([0, 0, 4096])
                rs.append(addr + gap)
                re_.append(addr + gap + size)
                acc.append(rng.choice([-1, 0, 0, 1, 5, 20]))
                addr += gap + size
            offsets.append(len(rs))
        t = nxt
    return DamonRecord(
        clock=ClockDomain.PERF, targets=targets,
        snapshot_target=np.array(snap_target, dtype=np.int32),
        start_ns=np.array(starts, dtype=np.int64), end_ns=np.array(ends, dtype=np.int64),
        region_offset=np.array(offsets, dtype=np.int64),
        region_start=np.array(rs, dtype=np.uint64), region_end=np.array(re_, dtype=np.uint64),
        nr_accesses=np.array(acc, dtype=np.int32), age=np.zeros(len(rs), dtype=np.int32),
        sample_interval_ns=rng.choice([None, 10]), aggr_interval_ns=rng.choice([None, 100]))


def _random_case(seed: int) -> tuple[PerfSamples | None, ss.Timeline, ss.ViewOptions]:
    rng = random.Random(seed)
    origin = rng.choice([0, -5000, 10**12, 1952_210475000])
    samples = _random_samples(rng, rng.randint(1, 400), origin) if rng.random() < 0.9 else None
    first = int(samples.time_ns[0]) if samples is not None else origin
    last = int(samples.time_ns[-1]) if samples is not None else origin + 1000
    views = ss.ViewOptions(frozenset(rng.sample(ss.VIEWS, rng.randint(1, len(ss.VIEWS)))),
                           rng.choice(["wss", "access"]), rng.randint(1, 4))
    if rng.random() < 0.2:
        if samples is None:
            samples = _random_samples(rng, 50, origin)
            first, last = int(samples.time_ns[0]), int(samples.time_ns[-1])
        return samples, ss.Timeline(None, [], first - 5000, last), views
    record = _random_record(rng, first - rng.randint(0, 3000), last + rng.randint(-2000, 3000))
    series = IntervalSeries(record.clock, record.start_ns.copy(), record.end_ns.copy(),
                            rng.choice([1, 1 << 20, 1 << 30]) * np.arange(len(record),
                                                                         dtype=np.int64),
                            np.arange(len(record), dtype=np.int64) * 7)
    order = np.argsort(series.start_ns, kind="stable")
    series = IntervalSeries(series.clock, series.start_ns[order], series.end_ns[order],
                            series.wss[order], series.access[order])
    bursts: list[Burst] = []
    k = 0
    while k < len(series) - 1 and len(bursts) < 3:
        k += rng.randint(0, 3)
        last_k = min(len(series) - 1, k + rng.randint(0, 2))
        if k >= len(series):
            break
        bursts.append(Burst(len(bursts) + 1, k, last_k, int(series.start_ns[k]),
                            int(series.end_ns[last_k]), int(series.wss[k:last_k + 1].max())))
        k = last_k + 1
    start = min(int(series.start_ns.min()), first - 5000)
    end = max(int(series.end_ns.max()), last)
    return samples, ss.Timeline(series, bursts, start, end, record), views


@pytest.mark.parametrize("seed", range(150))
def test_vectorised_writer_matches_reference(seed: int) -> None:
    samples, timeline, views = _random_case(seed)
    expected = reference_document("n", "e", samples, timeline, views)
    got = ss.build_document("n", "e", samples, timeline, views)
    assert got == expected
    assert b"".join(ss.document_json("n", "e", samples, timeline, views)) == orjson.dumps(
        expected)


def test_chunks_and_templates_carry_state() -> None:
    """Tiny chunks: the event stream carries the last piece from chunk to chunk."""
    samples, timeline, views = _random_case(7)
    assert samples is not None
    expected = orjson.dumps(reference_document("n", "e", samples, timeline, views))
    old = ev.CHUNK_PIECES
    try:
        ev.CHUNK_PIECES = 3
        got = b"".join(ss.document_json("n", "e", samples, timeline, views))
    finally:
        ev.CHUNK_PIECES = old
    assert got == expected


def test_hot_ranges_of_all_snapshots_match_per_snapshot() -> None:
    rng = random.Random(3)
    for _ in range(30):
        record = _random_record(rng, 0, 10_000)
        full = max_accesses(record)
        top = rng.randint(1, 6)
        assert ss._all_hot_ranges(record, top, full) == [
            hot_ranges(record, k, top, full) for k in range(len(record))]
