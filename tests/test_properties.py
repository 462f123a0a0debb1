"""Property-based tests (hypothesis) for every reader.

1. Random and mutated inputs (real fixtures with bytes flipped, inserted, deleted, lines
   repeated, numbers made huge, the whole cut short) never raise anything but
   ``Damon2SpeedscopeError``: per reader, through detection, and through decompression.
2. Round trips: a generated DAMON record written as perf-script tracepoint text, as trace-cmd
   text, as damo json (and json_compressed) and as a legacy recfmt record reads back as the same
   arrays; generated callchain samples written as ``perf script`` text read back as the same
   threads, times, periods and stacks (with both the array reader and the line reader).

CI time is bounded: every test has a fixed ``max_examples``, no deadline, and the profile is
derandomized with no example database, so runs are deterministic (about 30 s in all).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import json
import lzma
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from conftest import DATA, GOLDEN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from damon2speedscope.clock import ClockDomain
from damon2speedscope.errors import Damon2SpeedscopeError
from damon2speedscope.model import DamonRecord, Frame
from damon2speedscope.readers import ReadOptions, detect, load_input
from damon2speedscope.readers.compression import decompress, sniff
from damon2speedscope.readers.damo_json import parse_damo_json
from damon2speedscope.readers.perf_script import parse_perf_script
from damon2speedscope.readers.recfmt import parse_recfmt
from damon2speedscope.readers.trace_cmd import parse_trace_cmd

PROFILE = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.filter_too_much])
"""Deterministic and database-free: the same examples on every run."""


def props(max_examples: int) -> settings:
    return settings(PROFILE, max_examples=max_examples)


_SCALE = float(os.environ.get("D2S_PROPERTY_SCALE", "1"))
MUTATIONS = int(150 * _SCALE)
"""Examples per mutation test (one per reader); ``D2S_PROPERTY_SCALE=20`` for a deeper run."""
ROUND_TRIPS = int(60 * _SCALE)
"""Examples per round-trip test."""

FORMATS = DATA / "damon" / "formats"
PERF = DATA / "perf"
TRACE_CMD = DATA / "damon" / "trace_cmd"


def _cut(data: bytes, size: int = 12_000) -> bytes:
    """A fixture cut at a line end, so mutation tests stay fast."""
    if len(data) <= size:
        return data
    return data[:data.rfind(b"\n", 0, size) + 1]


def _fixtures(paths: list[Path]) -> list[bytes]:
    return [_cut(p.read_bytes()) for p in sorted(paths)]


PERF_TEXTS = _fixtures([*PERF.glob("*.txt"), GOLDEN / "fftlike" / "perf.script.txt",
                        DATA / "speedscope_sample" / "forks.linux-perf.txt"])
TRACEPOINT_TEXTS = _fixtures([*FORMATS.glob("*perf_script*"),
                              GOLDEN / "fftlike" / "damon.perf_script.txt"])
JSON_TEXTS = _fixtures([p for p in FORMATS.glob("*.json") if "sidecar" not in p.name])
JSON_COMPRESSED = [p.read_bytes() for p in sorted(FORMATS.glob("*.json_compressed"))]
TRACE_CMD_TEXTS = _fixtures(list(TRACE_CMD.glob("*.txt")))
RECFMT = [p.read_bytes() for p in sorted(FORMATS.glob("*.record"))]
COMPRESSED = [codec(data) for data in (TRACEPOINT_TEXTS[0], JSON_TEXTS[0], RECFMT[0])
              for codec in (gzip.compress, lzma.compress, bz2.compress, zlib.compress)]

# -- mutations ---------------------------------------------------------------------------------

_VALUES = [b"0", b"-1", b"4294967295", b"18446744073709551616", b"9" * 25, b"1e999", b"nan",
           b"\x00", b"\xff\xfe", b"\n", b"\n\n", b":", b" ", b"[", b"{", b"}", b"]", b'"', b",",
           b"nr_regions=", b"damon:damon_aggregated:", b"\t", b"\xef\xbb\xbf", b"/", b"("]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with up to 6 edits: flips, overwrites, insertions, deletions, duplicated or
    swapped lines, digit runs made huge, and truncation."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 7))
        n = len(data)
        at = draw(st.integers(0, n))
        if op == 0 and n:
            data[min(at, n - 1)] ^= 1 << draw(st.integers(0, 7))
        elif op == 1 and n:
            data[min(at, n - 1)] = draw(st.integers(0, 255))
        elif op == 2:
            data[at:at] = draw(st.sampled_from(_VALUES) | st.binary(min_size=1, max_size=16))
        elif op == 3:
            del data[at:at + draw(st.integers(1, 200))]
        elif op == 4:
            del data[at:]
        elif op == 5:
            lines = bytes(data).split(b"\n")
            k = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if draw(st.booleans()):
                lines.insert(j, lines[k])
            else:
                lines[k], lines[j] = lines[j], lines[k]
            data = bytearray(b"\n".join(lines))
        elif op == 6:
            digits = [i for i in range(at, min(n, at + 400)) if 48 <= data[i] <= 57]
            if digits:
                i = digits[0]
                data[i:i] = draw(st.sampled_from([b"9" * 20, b"-", b"99999999999"]))
        elif op == 7 and n:
            j = draw(st.integers(0, n - 1))
            data[at:at] = data[j:j + draw(st.integers(1, 300))]
    return bytes(data)


def _only_our_errors(fn: Callable[[], object]) -> None:
    with contextlib.suppress(Damon2SpeedscopeError):
        fn()


@props(MUTATIONS)
@given(mutated(PERF_TEXTS))
def test_mutated_perf_script(data: bytes) -> None:
    _only_our_errors(lambda: parse_perf_script(data, "x"))


@props(MUTATIONS)
@given(mutated(PERF_TEXTS + TRACEPOINT_TEXTS))
def test_array_and_line_readers_agree_on_mutated_text(data: bytes) -> None:
    """perf_script_fast reads what it can and declines the rest: never a different result."""
    def read(fast: bool) -> tuple[Any, ...]:
        try:
            r = parse_perf_script(data, "x", fast=fast)
        except Damon2SpeedscopeError as exc:
            return ("error", type(exc).__name__, str(exc))
        s, d = r.samples, r.damon
        return (
            None if s is None else (s.event, s.threads, s.time_ns.tolist(), s.period.tolist(),
                                    [s.table.stacks[k] for k in s.stack.tolist()],
                                    s.table.frames),
            None if d is None else _record_tuple(d),
            dict(r.skipped.counts), r.events)
    assert read(True) == read(False)


@props(MUTATIONS)
@given(mutated(TRACEPOINT_TEXTS))
def test_mutated_tracepoint_text(data: bytes) -> None:
    _only_our_errors(lambda: parse_perf_script(data, "x"))


@props(MUTATIONS)
@given(mutated(JSON_TEXTS))
def test_mutated_damo_json(data: bytes) -> None:
    _only_our_errors(lambda: parse_damo_json(data, "x"))


@props(MUTATIONS)
@given(mutated(JSON_COMPRESSED))
def test_mutated_json_compressed(data: bytes) -> None:
    _only_our_errors(lambda: load_input(data, "x"))


@props(MUTATIONS)
@given(mutated(TRACE_CMD_TEXTS))
def test_mutated_trace_cmd(data: bytes) -> None:
    _only_our_errors(lambda: parse_trace_cmd(data, "x"))


@props(MUTATIONS)
@given(mutated(RECFMT))
def test_mutated_recfmt(data: bytes) -> None:
    _only_our_errors(lambda: parse_recfmt(data, "x"))


@props(MUTATIONS)
@given(mutated(COMPRESSED))
def test_mutated_compressed_wrappers(data: bytes) -> None:
    def read() -> None:
        codec = sniff(data)
        if codec is not None:
            decompress(data, codec, "x", 64 << 20)
        load_input(data, "x", None, ReadOptions(perf="true"))
    _only_our_errors(read)


@props(MUTATIONS)
@given(st.binary(max_size=4096) | mutated(PERF_TEXTS + JSON_TEXTS + RECFMT + COMPRESSED
                                          + TRACE_CMD_TEXTS))
def test_detection_and_loading_of_anything(data: bytes) -> None:
    _only_our_errors(lambda: detect(data, "x"))
    _only_our_errors(lambda: load_input(data, "x", None, ReadOptions(perf="true")))


# -- DAMON round trips -------------------------------------------------------------------------

Region = tuple[int, int, int, int]  # start, end, nr_accesses, age


@dataclass(frozen=True)
class Snapshot:
    target: int
    end_ns: int
    regions: tuple[Region, ...]


@st.composite
def regions(draw: st.DrawFn) -> tuple[Region, ...]:
    """1-6 sorted, non-overlapping, non-empty regions (gaps allowed)."""
    n = draw(st.integers(1, 6))
    start = draw(st.integers(0, 1 << 47)) // 4096 * 4096
    out = []
    for _ in range(n):
        start += draw(st.integers(0, 3)) * 4096
        end = start + draw(st.integers(1, 1 << 20)) * 4096
        out.append((start, end, draw(st.integers(0, 200)), draw(st.integers(0, 10_000))))
        start = end
    return tuple(out)


@st.composite
def damon_records(draw: st.DrawFn) -> list[Snapshot]:
    """1-3 targets of one kdamond; 1-6 aggregations at increasing µs times; every target has
    a snapshot in each aggregation (as the kernel emits them)."""
    n_targets = draw(st.integers(1, 3))
    n_aggr = draw(st.integers(1, 6))
    t_us = draw(st.integers(1_000_000, 10**10))
    out = []
    for _ in range(n_aggr):
        t_us += draw(st.integers(1000, 10**7))
        for target in range(n_targets):
            out.append(Snapshot(target, (t_us + target) * 1000, draw(regions())))
    return out


def _expected(snaps: list[Snapshot], with_age: bool = True) -> list[tuple[Any, ...]]:
    return [(s.target, s.end_ns, tuple(r if with_age else (*r[:3], -1) for r in s.regions))
            for s in sorted(snaps, key=lambda s: (s.end_ns, s.target))]


def _record_tuple(record: DamonRecord) -> list[tuple[Any, ...]]:
    out = []
    for k in range(len(record)):
        lo, hi = int(record.region_offset[k]), int(record.region_offset[k + 1])
        out.append((record.targets[int(record.snapshot_target[k])].target_id,
                    int(record.end_ns[k]),
                    tuple(zip(record.region_start[lo:hi].tolist(),
                              record.region_end[lo:hi].tolist(),
                              record.nr_accesses[lo:hi].tolist(), record.age[lo:hi].tolist(),
                              strict=True))))
    return out


def _starts_chain(record: DamonRecord) -> None:
    """Each target's snapshots follow one another: a start is the previous end."""
    last: dict[int, int] = {}
    for k in range(len(record)):
        t = int(record.snapshot_target[k])
        assert record.start_ns[k] <= record.end_ns[k]
        if t in last:
            assert int(record.start_ns[k]) == last[t]
        last[t] = int(record.end_ns[k])


def tracepoint_text(snaps: list[Snapshot], trace_cmd: bool = False) -> bytes:
    lines = []
    for s in snaps:
        for i, (a, b, nr, age) in enumerate(s.regions):
            t = s.end_ns // 1000 + i  # the kernel emits a snapshot's events one by one
            time = f"{t // 1_000_000}.{t % 1_000_000:06d}"
            payload = f"target_id={s.target} nr_regions={len(s.regions)} {a}-{b}: {nr} {age}"
            if trace_cmd:
                lines.append(f"       kdamond.0-77    [001] .....  {time}: damon_aggregated: "
                             f"{payload}\n")
            else:
                lines.append(f"       kdamond.0    77 [001] {time:>16}: "
                             f"damon:damon_aggregated: {payload}\n")
    return "".join(lines).encode()


@props(ROUND_TRIPS)
@given(damon_records())
def test_damon_round_trip_tracepoint_text(snaps: list[Snapshot]) -> None:
    for trace_cmd in (False, True):
        data = tracepoint_text(snaps, trace_cmd)
        loaded = load_input(data, "x")
        assert loaded.damon is not None and not loaded.skipped, loaded.skipped
        assert _record_tuple(loaded.damon) == _expected(snaps)
        assert loaded.damon.clock is ClockDomain.PERF
        _starts_chain(loaded.damon)


def damo_json(snaps: list[Snapshot], n_targets: int) -> bytes:
    records = []
    for target in range(n_targets):
        own = [s for s in snaps if s.target == target]
        records.append({
            "kdamond_idx": 0, "context_idx": 0, "target_id": target,
            "intervals": {"sample_us": 5000, "aggr_us": 100_000},
            "snapshots": [{
                "start_time": str(own[k - 1].end_ns) if k else str(s.end_ns - 100_000_000),
                "end_time": str(s.end_ns),
                "regions": [{"start": str(a), "end": str(b),
                             "nr_accesses": {"samples": nr, "percent": None},
                             "age": {"usec": None, "aggr_intervals": age}}
                            for a, b, nr, age in s.regions]} for k, s in enumerate(own)]})
    return json.dumps(records, indent=4).encode()


@props(ROUND_TRIPS)
@given(damon_records())
def test_damon_round_trip_damo_json(snaps: list[Snapshot]) -> None:
    n_targets = 1 + max(s.target for s in snaps)
    doc = damo_json(snaps, n_targets)
    for data in (doc, zlib.compress(doc)):
        loaded = load_input(data, "x")
        assert loaded.damon is not None and not loaded.skipped, loaded.skipped
        assert _record_tuple(loaded.damon) == _expected(snaps)
        assert loaded.damon.sample_interval_ns == 5_000_000
        _starts_chain(loaded.damon)
    text = load_input(tracepoint_text(snaps), "x").damon
    assert text is not None
    record = load_input(doc, "x").damon
    assert record is not None
    assert record.end_ns.tolist() == text.end_ns.tolist()


def recfmt(snaps: list[Snapshot], version: int = 2) -> bytes:
    out = bytearray(b"damon_recfmt_ver" + struct.pack("<i", version))
    for s in snaps:  # damo's writer: one target per entry
        sec, nsec = divmod(s.end_ns, 1_000_000_000)
        out += struct.pack("<qqI", sec, nsec, 1)
        out += struct.pack("<iI" if version == 1 else "<QI", s.target, len(s.regions))
        for a, b, nr, _ in s.regions:
            out += struct.pack("<QQI", a, b, nr)
    return bytes(out)


@props(ROUND_TRIPS)
@given(damon_records(), st.sampled_from([1, 2]))
def test_damon_round_trip_recfmt(snaps: list[Snapshot], version: int) -> None:
    loaded = load_input(recfmt(snaps, version), "x")
    assert loaded.damon is not None and not loaded.skipped
    assert _record_tuple(loaded.damon) == _expected(snaps, with_age=False)
    _starts_chain(loaded.damon)


# -- perf script round trips -------------------------------------------------------------------

_COMM = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.()",
                min_size=1, max_size=15).map(str.strip).filter(
    lambda c: bool(c) and not c.startswith("#") and not c.split()[-1].lstrip("-").isdigit())
_SYMBOL = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}(::[A-Za-z_][A-Za-z0-9_]{0,8})?(\(int\))?",
                        fullmatch=True)
_DSO = st.sampled_from(["/usr/lib/x86_64-linux-gnu/libc.so.6", "[kernel.kallsyms]",
                        "/opt/app (deleted)", "/home/u/my prog"])


@dataclass(frozen=True)
class Sample:
    comm: str
    pid: int
    tid: int
    time_ns: int
    period: int
    stack: tuple[tuple[int, str, str], ...]  # leaf first: (address, symbol, dso)


@st.composite
def perf_samples(draw: st.DrawFn) -> list[Sample]:
    threads = draw(st.lists(st.tuples(_COMM, st.integers(1, 4_000_000)), min_size=1,
                            max_size=4, unique_by=lambda t: t[1]))
    frames = draw(st.lists(st.tuples(st.integers(0x1000, 0xffffffffffff), _SYMBOL, _DSO),
                           min_size=1, max_size=12, unique_by=lambda f: f[0]))
    t = draw(st.integers(1, 10**13))
    out = []
    for _ in range(draw(st.integers(1, 40))):
        comm, tid = draw(st.sampled_from(threads))
        t += draw(st.integers(1, 10**8))
        depth = draw(st.integers(0, 6))
        stack = tuple(draw(st.sampled_from(frames)) for _ in range(depth))
        out.append(Sample(comm, tid, tid, t, draw(st.integers(1, 10**9)), stack))
    return out


def perf_script_text(samples: list[Sample]) -> bytes:
    parts = []
    for s in samples:
        time = f"{s.time_ns // 10**9}.{s.time_ns % 10**9:09d}"
        parts.append(f"{s.comm} {s.pid}/{s.tid} [001] {time}: {s.period} cpu-clock:ppp: \n")
        for addr, symbol, dso in s.stack:
            parts.append(f"\t{addr:16x} {symbol}+0x1f ({dso})\n")
        parts.append("\n")
    return "".join(parts).encode()


@props(ROUND_TRIPS)
@given(perf_samples())
def test_perf_script_round_trip(samples: list[Sample]) -> None:
    data = perf_script_text(samples)
    for fast in (True, False):
        result = parse_perf_script(data, "x", fast=fast)
        got = result.samples
        assert got is not None and not result.skipped, result.skipped
        assert got.event == "cpu-clock:ppp" and got.period_is_ns
        assert got.time_ns.tolist() == [s.time_ns for s in samples]
        assert got.period.tolist() == [s.period for s in samples]
        threads = [got.threads[k] for k in got.thread.tolist()]
        assert [(t.comm, t.pid, t.tid) for t in threads] == [(s.comm, s.pid, s.tid)
                                                             for s in samples]
        stacks = [[got.table.frames[f] for f in got.table.stacks[k]] for k in got.stack.tolist()]
        assert stacks == [[Frame(sym, dso) for _, sym, dso in reversed(s.stack)]
                          for s in samples]
    assert got is not None and np.all(np.diff(got.time_ns) > 0)
