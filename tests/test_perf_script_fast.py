"""The array reader of ``perf script`` text gives exactly what the line reader gives.

Every committed text is read both ways (``parse_perf_script(fast=False)`` is the line reader)
and the results compared field by field: samples, frame and stack tables, threads, DAMON
record, skipped counts with their first location, event counts, notes. Random edits of real
texts (odd comms, comments, CRLF, missing frames, other events, ...) and tiny chunks check the
layout grouping, the declining and the chunk boundaries; the two inputs of a conversion read in
parallel give what reading them one after the other gives.
"""

from __future__ import annotations

import mmap
import random
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, GOLDEN

from damon2speedscope.clock import ClockDomain
from damon2speedscope.errors import Damon2SpeedscopeError
from damon2speedscope.model import DamonRecord, PerfSamples
from damon2speedscope.readers import Buffer, load_input, load_inputs
from damon2speedscope.readers import perf_script_fast as fast
from damon2speedscope.readers.perf_script import (
    PerfScriptResult,
    SampleFilter,
    _Parser,
    parse_perf_script,
)

TEXTS = sorted([*GOLDEN.glob("*/perf.script.txt"), *GOLDEN.glob("*/damon.perf_script.txt"),
                *(DATA / "perf").glob("*.txt"), *(DATA / "recordings").glob("*/*script*.txt"),
                *(p for p in (DATA / "damon").rglob("*") if p.is_file()
                  and ("perf_script" in p.name or p.suffix == ".txt"))])


def same_record(a: DamonRecord | None, b: DamonRecord | None) -> bool:
    if a is None or b is None:
        return a is b
    fields = ("snapshot_target", "start_ns", "end_ns", "region_offset", "region_start",
              "region_end", "nr_accesses", "age")
    return (a.targets == b.targets and a.clock == b.clock
            and a.sample_interval_ns == b.sample_interval_ns
            and a.aggr_interval_ns == b.aggr_interval_ns
            and all(np.array_equal(getattr(a, f), getattr(b, f))
                    and getattr(a, f).dtype == getattr(b, f).dtype for f in fields))


def same_samples(a: PerfSamples | None, b: PerfSamples | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.event == b.event and a.threads == b.threads and a.clock == b.clock
            and a.table.frames == b.table.frames and a.table.stacks == b.table.stacks
            and a.table.raw_stacks == b.table.raw_stacks and a.period_is_ns == b.period_is_ns
            and all(np.array_equal(getattr(a, f), getattr(b, f))
                    and getattr(a, f).dtype == getattr(b, f).dtype
                    for f in ("time_ns", "thread", "stack", "period")))


def assert_same(a: PerfScriptResult, b: PerfScriptResult) -> None:
    assert same_samples(a.samples, b.samples)
    assert same_record(a.damon, b.damon)
    assert a.skipped.counts == b.skipped.counts
    assert a.skipped.first_at == b.skipped.first_at
    assert list(a.events.items()) == list(b.events.items())
    assert (a.untimed, a.notes) == (b.untimed, b.notes)


def both(data: bytes, **kwargs: object) -> tuple[PerfScriptResult | Exception,
                                                  PerfScriptResult | Exception]:
    out: list[PerfScriptResult | Exception] = []
    for use_fast in (True, False):
        try:
            out.append(parse_perf_script(data, "t", fast=use_fast, **kwargs))  # type: ignore
        except Damon2SpeedscopeError as exc:
            out.append(exc)
    return out[0], out[1]


def check(data: bytes, **kwargs: object) -> None:
    a, b = both(data, **kwargs)
    if isinstance(a, Exception) or isinstance(b, Exception):
        assert type(a) is type(b) and str(a) == str(b)
        return
    assert_same(a, b)


def takes_fast_path(data: bytes) -> bool:
    return fast.parse_into(_Parser("t", ClockDomain.PERF, SampleFilter()), data)


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: str(p.relative_to(p.parents[2])))
def test_same_as_line_reader(path: Path) -> None:
    check(path.read_bytes())


def test_real_recordings_take_the_fast_path() -> None:
    for name in ("perf.script.txt", "damon.perf_script.txt"):
        for case in ("fftlike", "mtphases"):
            assert takes_fast_path((GOLDEN / case / name).read_bytes()), (case, name)


@pytest.mark.parametrize("chunk", [64, 300, 4096])
def test_chunk_boundaries(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast, "CHUNK", chunk)
    perf = (GOLDEN / "mtphases" / "perf.script.txt").read_bytes()
    damon = (GOLDEN / "mtphases" / "damon.perf_script.txt").read_bytes()
    for data in (perf[:200_000], damon[:100_000], perf[:50_000] + b"\n" + damon[:30_000]):
        check(data)


def test_filters_and_event_choice() -> None:
    data = (GOLDEN / "mtphases" / "perf.script.txt").read_bytes()
    result = parse_perf_script(data, "t")
    assert result.samples is not None
    tids = sorted({t.tid for t in result.samples.threads})
    comms = sorted({t.comm for t in result.samples.threads})
    check(data, sample_filter=SampleFilter(tids=frozenset(tids[:2])))
    check(data, sample_filter=SampleFilter(comms=frozenset(comms[:1])))
    check(data, event="cpu-clock")
    check(data, event="cycles")


def test_mapped_file_reads_like_bytes(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    data = (GOLDEN / "fftlike" / "perf.script.txt").read_bytes() + b"\n" + (
        GOLDEN / "fftlike" / "damon.perf_script.txt").read_bytes()
    path.write_bytes(data)
    with path.open("rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        assert_same(parse_perf_script(mapped, "t"), parse_perf_script(data, "t", fast=False))
        loaded = load_input(mapped, "t", str(path))
        assert loaded.samples is not None and loaded.damon is not None


def _mutations(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    """Random edits that real texts have, one or a few per text."""
    out = list(lines)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(out))
        line = out[i]
        kind = rng.randrange(14)
        if kind == 0:
            out[i] = line.replace(b"fftlike", b"fft like 12.5: x", 1)  # time-like comm
        elif kind == 1:
            out.insert(i, b"# a comment")
        elif kind == 2:
            out[i] = line + b"\r"
        elif kind == 3 and line.startswith(b"\t"):
            del out[i]  # a frame less
        elif kind == 4:
            out[i] = line.replace(b"cpu-clock:ppp:", b"cycles:", 1)  # another event
        elif kind == 5:
            out[i] = line.replace(b"    2004008 ", b" 12345678901 ", 1)  # wider period
        elif kind == 6:
            out[i] = line.replace(b"  ", b"\t", 1)
        elif kind == 7:
            out.insert(i, b"")  # a blank line more
        elif kind == 8:
            out[i] = line.replace(b": 0 ", b": -1 ", 1)  # damo's placeholder
        elif kind == 9:
            out[i] = line.replace(b"kdamond.0", b"kdamond.1", 1)
        elif kind == 10:
            out[i] = line.replace(b".", b".9", 1)  # a longer fraction
        elif kind == 11:
            out[i] = line.replace(b"target_id=0", b"target_id=0x0", 1)
        elif kind == 12:
            out[i] = line + b" trailing"
        else:
            out.insert(i, out[i])  # a repeated line (DAMON: a duplicated event)
    return out


@pytest.mark.parametrize("seed", range(60))
def test_edited_texts(seed: int) -> None:
    rng = random.Random(seed)
    name = rng.choice(["perf.script.txt", "damon.perf_script.txt"])
    case = rng.choice(["fftlike", "mtphases"])
    lines = (GOLDEN / case / name).read_bytes().split(b"\n")
    start = rng.randrange(0, len(lines) - 400)
    piece = lines[start:start + 400]
    while piece and piece[0].startswith(b"\t"):
        piece = piece[1:]
    check(b"\n".join(_mutations(rng, piece)))


def test_parallel_read_equals_sequential() -> None:
    inputs: list[tuple[Buffer, str, str | None]] = [(p.read_bytes(), str(p), str(p)) for p in (
        GOLDEN / "fftlike" / "damon.perf_script.txt", GOLDEN / "fftlike" / "perf.script.txt")]
    parallel = load_inputs(inputs)
    sequential = load_inputs(inputs, parallel=False)
    for a, b in zip(parallel, sequential, strict=True):
        assert (a.source, a.kind, a.events) == (b.source, b.kind, b.events)
        assert same_record(a.damon, b.damon) and same_samples(a.samples, b.samples)
        assert a.skipped.counts == b.skipped.counts
    bad: list[tuple[Buffer, str, str | None]] = [(b"\x00\x01binary", "bad", None), inputs[1]]
    with pytest.raises(Damon2SpeedscopeError) as par:
        load_inputs(bad)
    with pytest.raises(Damon2SpeedscopeError) as seq:
        load_inputs(bad, parallel=False)
    assert str(par.value) == str(seq.value)
