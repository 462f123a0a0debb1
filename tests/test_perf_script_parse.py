"""The perf script reader on real-world text: one test (at least) per feature of its docstring.

Most inputs are ONE real recording printed in different ways (``tests/data/perf/README.md``),
so the tests compare models: the same samples must come out whatever the columns.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import orjson
import pytest

from damon2speedscope import InputBytes, convert
from damon2speedscope.model import Frame
from damon2speedscope.readers.perf_script import (
    NON_UTF8_REASON,
    UNTIMED_SPACING_NS,
    PerfScriptResult,
    SampleFilter,
    parse_perf_script,
    split_dso,
)

DATA = Path(__file__).resolve().parent / "data" / "perf"
FX_PID, FX_MAIN, FX_WORKER = 15231, 15231, 15233
FX_SAMPLES = {"cpu-clock": 42, "task-clock": 42}

Row = tuple[str, int | None, int, int, tuple[tuple[str, str | None], ...], int]


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def parse(data: bytes, **kwargs: object) -> PerfScriptResult:
    return parse_perf_script(data, "test.txt", **kwargs)  # type: ignore[arg-type]


def rows(result: PerfScriptResult) -> list[Row]:
    """Every sample as (comm, pid, tid, time ns, root-first (name, file) frames, period)."""
    s = result.samples
    assert s is not None
    t = s.table
    out: list[Row] = []
    for th, tm, st, p in zip(s.thread.tolist(), s.time_ns.tolist(), s.stack.tolist(),
                             s.period.tolist(), strict=True):
        thread = s.threads[th]
        frames = tuple((t.frames[f].name, t.frames[f].file) for f in t.stacks[st])
        out.append((thread.comm, thread.pid, thread.tid, tm, frames, p))
    return out


def core(result: PerfScriptResult) -> list[tuple[str, int, int, tuple[str, ...]]]:
    """What every print style of the recording shares: comm, tid, µs, frame names."""
    return [(c, tid, t // 1000, tuple(n for n, _ in frames)) for c, _, tid, t, frames, _ in
            rows(result)]


# -- headers ---------------------------------------------------------------------------------


def test_tid_only_header_with_cpu_and_period() -> None:
    result = parse(read("fx.header.txt"))
    r = rows(result)
    assert len(r) == FX_SAMPLES["cpu-clock"]
    assert {(c, pid, tid) for c, pid, tid, *_ in r} == {("fx", None, FX_MAIN),
                                                      ("my worker (1)", None, FX_WORKER)}
    assert {p for *_, p in r} == {10101010}
    assert r[0][3] == 10680_383896_000
    assert result.samples is not None and result.samples.period_is_ns


def test_pid_tid_header() -> None:
    r = rows(parse(read("fx.pidtid-cpu-symoff.txt")))
    assert {(c, pid, tid) for c, pid, tid, *_ in r} == {("fx", FX_PID, FX_MAIN),
                                                      ("my worker (1)", FX_PID, FX_WORKER)}


def test_header_without_cpu_and_period() -> None:
    data = read("fx.tid-noperiod.txt")
    assert b"[000]" not in data
    r = rows(parse(data))
    assert {p for *_, p in r} == {0}
    assert core(parse(data)) == core(parse(read("fx.header.txt")))


def test_every_print_style_gives_the_same_samples() -> None:
    reference = core(parse(read("fx.header.txt")))
    assert len(reference) == FX_SAMPLES["cpu-clock"]
    for name in ("fx.pidtid-cpu-symoff.txt", "fx.tid-noperiod.txt", "fx.ns.txt",
                 "fx.srcline.txt", "fx.sideband.txt"):
        assert core(parse(read(name))) == reference, name


def _blocks(data: bytes) -> list[bytes]:
    """The sample blocks of a text, without its ``#`` lines."""
    text = b"\n".join(ln for ln in data.split(b"\n") if not ln.startswith(b"#"))
    return [b for b in text.split(b"\n\n") if b.strip()]


def test_one_file_can_mix_header_styles() -> None:
    """Sample k printed by style k mod 4: pid/tid or tid, [cpu] or not, period or not, ns."""
    styles = [_blocks(read(n)) for n in ("fx.pidtid-cpu-symoff.txt", "fx.tid-noperiod.txt",
                                         "fx.ns.txt", "fx.pidtid-cpu-symoff.txt")]
    styles[0] = _blocks(read("fx.header.txt"))
    n = len(styles[1])
    assert all(len(s) == n for s in styles)
    mixed = b"\n\n".join(styles[k % 4][k] for k in range(n)) + b"\n\n"
    result = parse(mixed)
    assert core(result) == core(parse(read("fx.header.txt")))
    # a pid-less header's sample goes to the thread whose other headers gave its pid
    assert result.samples is not None
    used = {result.samples.threads[t] for t in result.samples.thread.tolist()}
    assert {(t.comm, t.pid, t.tid) for t in used} == {("fx", FX_PID, FX_MAIN),
                                                      ("my worker (1)", FX_PID, FX_WORKER)}
    assert result.skipped.counts == {"samples of other event task-clock": 42,
                                     NON_UTF8_REASON: 1}


@pytest.mark.parametrize("header, comm, pid, tid, time_ns, period, event", [
    # perf 3.13: pid/tid padded to %5d/%-5d, no period
    ("perf   977/977   [000] 7628263.042515: cycles: ", "perf", 977, 977, 7628263_042515_000,
     0, "cycles"),
    # perf 4.x default, two spaces before a narrow time column
    ("dd 29776 666709.771979:   10101010 cpu-clock: ", "dd", None, 29776, 666709_771979_000,
     10101010, "cpu-clock"),
    # perf without callchains right-aligns the comm in 16 columns
    ("       kdamond.0    77 [001]  1954.880504:     250000 cycles:u: ", "kdamond.0", None, 77,
     1954_880504_000, 250000, "cycles:u"),
    # comm with spaces AND a number token: anchored on the time, the comm keeps it
    ("V8 Worker 2 24636/25607 [000] 94564.109216: 1 cycles: ", "V8 Worker 2", 24636, 25607,
     94564_109216_000, 1, "cycles"),
    # padded event names and names with colons and slashes
    ("fx 15231 10680.383896:   10101010  cpu-clock:ppp: ", "fx", None, 15231,
     10680_383896_000, 10101010, "cpu-clock:ppp"),
    ("fftlike 11539 [000]  2071.660094:    5025125    cpu-clock/freq=199/: ", "fftlike", None,
     11539, 2071_660094_000, 5025125, "cpu-clock/freq=199/"),
    ("bash 1 [000] 1.000000001:   1 sched:sched_switch: prev_comm=bash prev_pid=1", "bash",
     None, 1, 1_000000001, 1, "sched:sched_switch"),
    # tabs (simpleperf), negative ids (perf's "-1" for an unknown thread), no comm column
    ("fx\t15231/15233 [000] 10680.383896:\t\t7 cpu-clock:", "fx", 15231, 15233,
     10680_383896_000, 7, "cpu-clock"),
    ("perf-exec -1/-1 [000] 0.000001: 1 cycles:", "perf-exec", -1, -1, 1_000, 1, "cycles"),
    ("   4242 [003] 12.5: cycles:", "", None, 4242, 12_500_000_000, 0, "cycles"),
])
def test_header_columns_of_any_width(header: str, comm: str, pid: int | None, tid: int,
                                     time_ns: int, period: int, event: str) -> None:
    text = f"{header}\n\t    4005c4 main+0x14 (/tmp/a.out)\n\n".encode()
    result = parse(text)
    assert result.samples is not None
    assert result.samples.event == event
    assert rows(result) == [(comm, pid, tid, time_ns, (("main", "/tmp/a.out"),), period)]
    assert not result.skipped


def test_comm_with_spaces_and_parentheses() -> None:
    data = read("fx.header.txt")
    r = rows(parse(data))
    n = len(re.findall(rb"(?m)^my worker \(1\) 15233 \[\d+\] [\d.]+: +\d+ +cpu-clock:", data))
    assert n == 30
    assert sum(1 for c, *_ in r if c == "my worker (1)") == n


def test_a_thread_that_changes_its_comm_is_one_thread_per_comm() -> None:
    text = (b"perf 7 1.000000: 1 cycles:\n\t1 a (x)\n\n"
            b"sleep 7 2.000000: 1 cycles:\n\t1 b (x)\n\n"
            b"perf 7 0.500000: 1 cycles:\n\t1 a (x)\n\n")
    result = parse(text)
    assert result.samples is not None
    assert result.samples.threads == [
        result.samples.threads[0].__class__("perf", None, 7),
        result.samples.threads[0].__class__("sleep", None, 7)]
    assert [c for c, *_ in rows(result)] == ["perf", "perf", "sleep"]
    filtered = parse(text, sample_filter=SampleFilter(comms=frozenset({"sleep"})))
    assert [c for c, *_ in rows(filtered)] == ["sleep"]
    assert filtered.skipped.counts == {"samples filtered out by --pid/--tid/--comm": 2}


# -- events ----------------------------------------------------------------------------------


def test_several_events_first_sampling_event_with_callchains_by_default() -> None:
    result = parse(read("fx.header.txt"))
    assert result.samples is not None and result.samples.event == "cpu-clock"
    assert result.events == FX_SAMPLES
    assert result.skipped.counts["samples of other event task-clock"] == 42
    other = parse(read("fx.header.txt"), event="task-clock")
    assert other.samples is not None and other.samples.event == "task-clock"
    assert other.skipped.counts["samples of other event cpu-clock"] == 42


def test_an_event_without_callchains_is_not_the_default() -> None:
    text = (b"bash 1 [000] 1.000000: 1 sched:sched_switch: prev_comm=bash\n\n"
            b"bash 1 [000] 2.000000: 1 cycles:\n\t1 main (/bin/bash)\n\n"
            b"bash 1 [000] 3.000000: 1 sched:sched_switch: prev_comm=bash\n\n")
    result = parse(text)
    assert result.samples is not None and result.samples.event == "cycles"
    assert result.skipped.counts == {"samples of other event sched:sched_switch": 2}
    assert result.events == {"sched:sched_switch": 2, "cycles": 1}


# -- frames ----------------------------------------------------------------------------------


def test_symbols_with_spaces_and_parentheses_take_the_dso_from_the_last_group() -> None:
    r = rows(parse(read("fx.pidtid-cpu-symoff.txt")))
    names = {f for *_, frames, _ in r for f in frames}
    assert ("(anonymous namespace)::Functor::operator()", "/tmp/fx/fx") in names
    assert ("(anonymous namespace)::Worker::spin<long>", "/tmp/fx/fx") in names
    assert not any("+0x" in n or (d or "").endswith(")") for n, d in names)


@pytest.mark.parametrize("rest, sym, dso", [
    (b"foo+0x1 (/lib/x.so)", b"foo+0x1", b"/lib/x.so"),
    (b"f(int, char const*) const (/lib/x.so)", b"f(int, char const*) const", b"/lib/x.so"),
    (b"[unknown] (/memfd:sealed-91173221a7ea (deleted))", b"[unknown]",
     b"/memfd:sealed-91173221a7ea (deleted)"),
    (b"(anonymous namespace)::f() ([kernel.kallsyms])", b"(anonymous namespace)::f()",
     b"[kernel.kallsyms]"),
    (b"foo::operator()", b"foo::operator()", None),
    (b"g (/tmp/a(b.so)", b"g", b"/tmp/a(b.so"),
    (b"main", b"main", None),
])
def test_split_dso(rest: bytes, sym: bytes, dso: bytes | None) -> None:
    assert split_dso(rest) == (sym, dso)


def test_dso_with_parentheses_in_the_real_system_wide_recording() -> None:
    """fftlike-combined: a memfd mapping perf prints as ``(/memfd:... (deleted))``."""
    data = (Path(__file__).resolve().parent / "data" / "recordings" / "fftlike-combined" /
            "combined.script.txt").read_bytes()
    assert b"(deleted))" in data
    result = parse(data)
    assert result.samples is not None
    files = {f.file for f in result.samples.table.frames}
    assert "/memfd:sealed-91173221a7ea (deleted)" in files
    assert not any(f and f.endswith(")") and "(" not in f for f in files)


def test_unknown_frames_keep_their_dso() -> None:
    r = rows(parse(read("fx.header.txt")))
    frames = {f for *_, fr, _ in r for f in fr}
    assert ("[unknown]", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30") in frames
    text = b"a 1 1.000000: 1 cycles:\n\t 606258d4c544155 [unknown] ([unknown])\n\t4242\n\n"
    assert rows(parse(text))[0][4] == (("4242", None), ("[unknown]", "[unknown]"))


def test_inlined_frames_take_the_dso_of_the_real_frame_at_their_address() -> None:
    r = rows(parse(read("inl.default.txt")))
    assert len(r) == 29
    stack = r[0][4]
    assert stack[-3:] == (("outer", "/tmp/inl/inl"), ("mid_work", "/tmp/inl/inl"),
                          ("leaf_work", "/tmp/inl/inl"))
    # libc's __libc_start_main_impl (inlined) has no real frame at its address: no dso
    assert ("__libc_start_main_impl", None) in stack


def test_srcline_lines_are_not_frames() -> None:
    assert rows(parse(read("inl.srcline.txt"))) == rows(parse(read("inl.default.txt")))
    srcline = parse(read("fx.srcline.txt"))
    assert rows(srcline) == rows(parse(read("fx.header.txt")))
    assert srcline.skipped.counts.keys() == {"samples of other event task-clock",
                                            NON_UTF8_REASON}


def test_header_comment_block() -> None:
    data = read("fx.header.txt")
    assert data.startswith(b"# ========\n") and b"\n#\nfx " in data
    without = b"\n".join(ln for ln in data.split(b"\n") if not ln.startswith(b"#"))
    assert rows(parse(data)) == rows(parse(without))


def test_perf_record_side_band_lines_are_counted_and_skipped() -> None:
    data = read("fx.sideband.txt")
    n_side = data.count(b": PERF_RECORD_")
    result = parse(data)
    assert result.skipped.counts["PERF_RECORD_* side-band line"] == n_side == 52
    assert rows(result) == rows(parse(read("fx.header.txt")))
    assert "PERF_RECORD_COMM" not in result.events


def test_last_sample_without_trailing_blank_line() -> None:
    data = read("fx.header.txt")
    full = rows(parse(data))
    for cut in (data.rstrip(b"\n") + b"\n", data.rstrip(b"\n")):
        assert rows(parse(cut)) == full
    last = data.rstrip(b"\n").rsplit(b"\n\n", 1)[0]  # without the last sample at all
    assert len(rows(parse(last + b"\n"))) == len(full) - (
        1 if data.rstrip(b"\n").rsplit(b"\n\n", 1)[1].find(b"cpu-clock") >= 0 else 0)


def test_crlf_and_blank_lines_of_spaces() -> None:
    data = read("fx.header.txt")
    assert rows(parse(data.replace(b"\n", b"\r\n"))) == rows(parse(data))
    assert rows(parse(data.replace(b"\n\n", b"\n   \n\n\n"))) == rows(parse(data))


def test_simpleperf_report_sample_text() -> None:
    """Tabs between the columns; the 2016 format starts 16-digit frame addresses unindented."""
    reference = core(parse(read("fx.pidtid-cpu-symoff.txt")))
    new = parse(read("simpleperf.report_sample.txt"))
    assert core(new) == reference[: len(core(new))] and len(core(new)) == 20
    old = parse(read("simpleperf.report_sample-2016.txt"))
    got = core(old)
    assert got[:20] == reference[:20]
    assert got[20] == ("fx", FX_MAIN, 10680_790000, (
        "(anonymous namespace)::Worker::spin<long>", "default_idle", "native_safe_halt"))
    assert old.skipped.counts == {"samples of other event task-clock": 20,
                                  "samples of other event sched:sched_switch": 1,
                                  NON_UTF8_REASON: 1}
    switch = parse(read("simpleperf.report_sample-2016.txt"), event="sched:sched_switch")
    assert core(switch) == [("fx", FX_MAIN, 10680_790001, ("__schedule",))]


def test_non_utf8_symbols_are_escaped_counted_and_written() -> None:
    data = read("fx.header.txt")
    assert b"weird\xff\xfe_sym" in data
    result = parse(data)
    assert result.samples is not None
    assert Frame("weird\\xff\\xfe_sym", "/tmp/fx/fx") in result.samples.table.frames
    assert result.skipped.counts[NON_UTF8_REASON] == 1
    # two different invalid byte strings stay two names
    other = parse(b"a 1 1.000000: 1 cycles:\n\t1 weird\xff\xfe_sym (x)\n\n"
                  b"a 1 2.000000: 1 cycles:\n\t1 weird\xfe\xff_sym (x)\n\n")
    assert other.samples is not None
    assert {f.name for f in other.samples.table.frames} >= {"weird\\xff\\xfe_sym",
                                                           "weird\\xfe\\xff_sym"}
    assert other.skipped.counts[NON_UTF8_REASON] == 2
    # a comm, too; and the whole conversion writes JSON
    conv = convert([InputBytes("fx.txt", data.replace(b"my worker (1)", b"w\xe9rker"))])
    doc = orjson.dumps(conv.document)
    assert b"weird\\\\xff\\\\xfe_sym" in doc and b"w\\\\xe9rker" in doc


def test_stacks_thousands_of_frames_deep() -> None:
    depth = 20_000
    frames = b"".join(b"\t%x f%d+0x%x (/deep)\n" % (depth - i, depth - i, i) for i in range(depth))
    text = b"deep 1 [000] 1.000000: 1 cycles:\n" + frames + b"\n" + \
        b"deep 1 [000] 2.000000: 1 cycles:\n" + frames
    result = parse(text)
    assert result.samples is not None
    table = result.samples.table
    (stack,) = set(result.samples.stack.tolist())
    assert len(table.stacks[stack]) == depth
    assert table.frames[table.stacks[stack][0]] == Frame("f1", "/deep")  # root first
    assert table.frames[table.stacks[stack][-1]] == Frame(f"f{depth}", "/deep")
    assert table.raw_stacks is not None and len(table.raw_stacks[stack]) == depth


def test_headers_without_time_are_placed_in_file_order() -> None:
    text = (b"java 19983 cycles:\n\tffffffff8103d0ca native_write_msr_safe ([kernel.kallsyms])\n"
            b"\n"
            b"node-v011 31912 100 cpu-clock: \n            13a80b608e0a RegExp:x (/tmp/p.map)\n"
            b"\n"
            b"java 19983 cycles:\nffffffff8103d0ca native_write_msr_safe ([kernel.kallsyms])\n")
    result = parse(text)
    assert result.untimed == 2
    assert result.samples is not None and result.samples.event == "cycles"
    assert result.samples.time_ns.tolist() == [0, UNTIMED_SPACING_NS]
    assert result.events == {"cycles": 2, "cpu-clock": 1}
    assert any("no sample has a time field" in n for n in result.notes)
    # with one timed sample, the untimed ones are skipped and counted
    timed = parse(text + b"\njava 19983 5.000000: cycles:\n\t1 main (/x)\n")
    assert timed.untimed == 0 and len(rows(timed)) == 1
    assert timed.skipped.counts["sample without a time field (others have one)"] == 2


def test_callchain_lines_outside_a_sample_and_junk_are_counted() -> None:
    text = (b"\t4005c4 main (/a)\n\n"
            b"this is not perf script\n\n"
            b"a 1 1.000000: 1 cycles:\n\t1 main (/a)\n\tnot a frame\n\n")
    result = parse(text)
    assert result.skipped.counts == {"callchain line outside a sample": 1,
                                     "line not understood": 1,
                                     "callchain line not understood": 1}
    assert rows(result) == [("a", None, 1, 1_000_000_000, (("main", "/a"),), 1)]


def test_raw_lines_are_kept_aligned_with_every_stack() -> None:
    for name in ("fx.srcline.txt", "inl.srcline.txt", "simpleperf.report_sample-2016.txt"):
        result = parse(read(name))
        assert result.samples is not None
        table = result.samples.table
        assert table.raw_stacks is not None and len(table.raw_stacks) == len(table.stacks)
        for stack, raw in zip(table.stacks, table.raw_stacks, strict=True):
            assert len(raw) == len(stack)
            for f, line in zip(stack, raw, strict=True):
                name_bytes = table.frames[f].name.encode()
                assert name_bytes in line or b"\\x" in name_bytes, (name, line)


def test_samples_are_sorted_by_time_within_the_text_order() -> None:
    data = read("fx.header.txt")
    blocks = _blocks(data)
    shuffled = b"\n\n".join(reversed(blocks)) + b"\n\n"
    a, b = parse(shuffled, event="cpu-clock"), parse(data, event="cpu-clock")
    assert a.samples is not None and b.samples is not None
    assert np.all(np.diff(a.samples.time_ns) >= 0)
    assert sorted(core(a)) == sorted(core(b))
