"""writers/folded.py: the stackcollapse-perf.pl rules one by one, the collapsed format, and the
burst frame of every sample on a real recording."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GOLDEN

from damon2speedscope import ConvertOptions, InputBytes, convert
from damon2speedscope import frames as names
from damon2speedscope.analysis.bursts import Burst
from damon2speedscope.analysis.wss import IntervalSeries
from damon2speedscope.clock import ClockDomain
from damon2speedscope.model import PerfSamples
from damon2speedscope.readers.perf_script import parse_perf_script
from damon2speedscope.writers.folded import (
    burst_names_for_samples,
    fold_frame_line,
    render_collapsed,
    render_folded,
)


def samples_of(text: bytes, **kwargs: object) -> PerfSamples:
    result = parse_perf_script(text, "t.txt", **kwargs)  # type: ignore[arg-type]
    assert result.samples is not None
    return result.samples


@pytest.mark.parametrize("line, java, kernel, jit, expected", [
    # offsets dropped (lower-case hex only, as the script does), kernel frames annotated
    (b"\tffffffff8103ce3b native_safe_halt+0x1a ([kernel.kallsyms])", False, True, False,
     [b"native_safe_halt_[k]"]),
    (b"\tffffffff8103ce3b native_safe_halt+0x1a ([kernel.kallsyms])", False, False, False,
     [b"native_safe_halt"]),
    (b"\t8c3453 tcp_sendmsg (/lib/modules/4.3.0-rc1-virtual/build/vmlinux)", False, True, False,
     [b"tcp_sendmsg_[k]"]),
    (b"\t7d8 ipv4_conntrack_local+0x7f8f80b8 ([nf_conntrack_ipv4])", False, True, False,
     [b"ipv4_conntrack_local_[k]"]),
    (b"\t7f12 foo+0xAB (/x)", False, False, False, [b"foo+0xAB"]),
    # [unknown] becomes the dso's file name, bracketed; an unknown dso is never "kernel"
    (b"\t7f2e [unknown] (/usr/lib/x86_64-linux-gnu/libc.so.6)", False, False, False,
     [b"[libc.so.6]"]),
    (b"\t0 [unknown] ([unknown])", False, True, False, [b"[unknown]"]),
    (b"\tffffffffad14d115 [unknown] ([kernel.kallsyms])", False, True, False,
     [b"[[kernel.kallsyms]]_[k]"]),
    # text from the first "(" is dropped, except "(anonymous namespace)" and Go methods
    (b"\tdd777 v8::internal::Execution::Call(v8::internal::Isolate*, bool) (/tmp/node)", False,
     False, False, [b"v8::internal::Execution::Call"]),
    (b"\t1301 ns::(anonymous namespace)::Functor::operator()+0x11 (/tmp/fx)", False, False,
     False, [b"ns::(anonymous namespace)::Functor::operator"]),
    (b"\t4f1 net/http.(*Client).Do+0x1 (/go/bin/x)", False, False, False,
     [b"net/http.(*Client).Do"]),
    # a function starting with "(" is taken for a process name and dropped (C++ too)
    (b"\t12d5 (anonymous namespace)::Worker::spin<long>+0x25 (/tmp/fx/fx)", False, False, False,
     []),
    # ";" would split the frame, quotes are dropped, JIT maps annotated
    (b"\t13a80b608e0a RegExp:[&<>\\\"\\'] (/tmp/perf-7539.map)", False, False, True,
     [b"RegExp:[&<>\\\\]_[j]"]),
    (b"\t7f72 Ljava/io/PrintStream;::print (/tmp/perf-19982.map)", True, False, False,
     [b"java/io/PrintStream:::print"]),
    (b"\t7f72 Ljava/io/PrintStream;::print (/tmp/perf-19982.map)", False, False, False,
     [b"Ljava/io/PrintStream:::print"]),
    (b"\t7f72 LBusy;::main (/tmp/perf-19982.map)", True, False, False, [b"LBusy:::main"]),
    (b"\t7f72 f (/tmp/jitted-123-4.so)", False, False, True, [b"f_[j]"]),
    # perf's old inline chains: the inlined parts get _[i] (and no kernel mark)
    (b"\t4005c4 main->inner->leaf (/tmp/a.out)", False, True, False,
     [b"main", b"inner_[i]", b"leaf_[i]"]),
    # the last " (" that a ")" follows splits FUNC from MOD, as the script's regex does
    (b"\t1 foo (/tmp/x (deleted))", False, False, False, [b"foo "]),
    # not frames for the script: no " (MOD)", or a source line
    (b"\t4005c4 main+0x14", False, False, False, []),
    (b"  fx.cpp:14", False, False, False, []),
])
def test_stackcollapse_frame_rules(line: bytes, java: bool, kernel: bool, jit: bool,
                                   expected: list[bytes]) -> None:
    assert fold_frame_line(line, java, kernel, jit) == expected


TEXT = (
    b"V8 Worker 100/101 [000] 1.000000:  5 cycles:\n"
    b"\t2 leaf+0x1 ([kernel.kallsyms])\n\t1 main+0x2 (/bin/x)\n\n"
    b"V8 Worker 100/101 [000] 2.000000:  7 cycles:\n"
    b"\t2 leaf+0x9 ([kernel.kallsyms])\n\t1 main+0x2 (/bin/x)\n\n"
    b"bash 102 [001] 2.500000: cycles:\n\t1 main (/bin/bash)\n\n"
    b"V8 Worker 100/103 [001] 3.000000:  1 cycles:\n\n"
)


def test_folded_prefixes_periods_and_order() -> None:
    s = samples_of(TEXT)
    assert render_folded(s) == (b"V8_Worker 1\n"
                                b"V8_Worker;main;leaf 12\n"
                                b"bash;main 1\n")
    assert render_folded(s, prefix="pid") == (b"V8_Worker-100 1\n"
                                              b"V8_Worker-100;main;leaf 12\n"
                                              b"bash-?;main 1\n")
    assert render_folded(s, prefix="tid", annotate=("kernel",)) == (
        b"V8_Worker-100/101;main;leaf_[k] 12\n"
        b"V8_Worker-100/103 1\n"
        b"bash-?/102;main 1\n")


def test_folded_without_raw_lines_rebuilds_them_from_the_model() -> None:
    s = samples_of(TEXT)
    with_raw = render_folded(s, annotate=("kernel",))
    s.table.raw_stacks = None
    assert render_folded(s, annotate=("kernel",)) == with_raw


def test_folded_and_collapsed_reject_unknown_options() -> None:
    s = samples_of(TEXT)
    with pytest.raises(ValueError, match="annotate"):
        render_folded(s, annotate=("kernal",))
    with pytest.raises(ValueError, match="prefix"):
        render_folded(s, prefix="process")
    with pytest.raises(ValueError, match="burst names"):
        render_collapsed(s, burst_names=["x"])


def test_collapsed_keeps_our_names_and_counts_samples() -> None:
    text = (b"my worker (1) 7 1.000000: 100 cycles:\n"
            b"\t1 (anonymous namespace)::f;g+0x1 (/x)\n\t2 [unknown] (/lib/y.so)\n\n"
            b"my worker (1) 7 2.000000: 100 cycles:\n"
            b"\t1 (anonymous namespace)::f;g+0x5 (/x)\n\t2 [unknown] (/lib/y.so)\n\n")
    s = samples_of(text)
    assert render_collapsed(s) == b"my worker (1);[unknown];(anonymous namespace)::f:g 2\n"
    assert render_collapsed(s, [names.NO_BURST, "[memory burst 1: 1.0\u20132.0 s]"],
                            prefix="tid") == (
        "my worker (1)-?/7;[memory burst 1: 1.0\u20132.0 s];[unknown];"
        "(anonymous namespace)::f:g 1\n"
        "my worker (1)-?/7;[no memory burst];[unknown];(anonymous namespace)::f:g 1\n"
    ).encode()
    assert render_collapsed(s, [None, None]) == render_collapsed(s)


def _series(bounds: list[tuple[int, int]]) -> IntervalSeries:
    start = np.array([a for a, _ in bounds], dtype=np.int64)
    end = np.array([b for _, b in bounds], dtype=np.int64)
    zero = np.zeros(len(bounds), dtype=np.int64)
    return IntervalSeries(ClockDomain.PERF, start, end, zero + (1 << 30), zero)


def test_burst_names_by_sample_time() -> None:
    text = b"".join(b"a 1 %d.000000: 1 cycles:\n\t1 main (/x)\n\n" % t for t in range(1, 9))
    s = samples_of(text)  # samples at 1..8 s
    second = 1_000_000_000
    series = _series([(2 * second, 4 * second), (4 * second, 6 * second),
                      (6 * second, 7 * second)])
    bursts = [Burst(1, 1, 1, 4 * second, 6 * second, 1 << 30)]
    got = burst_names_for_samples(s, series, bursts, origin_ns=second)
    burst = names.burst_name(1, 3 * second, 5 * second, 1 << 30)
    assert burst == "[memory burst 1: 3.0\u20135.0 s, peak WSS 1.00 GiB]"
    assert got == [names.NO_SNAPSHOT, names.NO_BURST, names.NO_BURST, burst, burst,
                   names.NO_BURST, names.NO_SNAPSHOT, names.NO_SNAPSHOT]
    assert burst_names_for_samples(s, None, [], 0) == [None] * 8


def test_collapsed_on_the_real_recording_with_its_bursts() -> None:
    folder = GOLDEN / "fftlike"
    conv = convert([InputBytes(n, (folder / n).read_bytes())
                    for n in ("damon.json_compressed", "perf.script.txt")],
                   ConvertOptions(name="fftlike"))
    assert conv.samples is not None and conv.bursts
    origin = conv.document["profiles"][0]["startValue"]
    burst_names = burst_names_for_samples(conv.samples, conv.series, conv.bursts, origin)
    in_document = {f["name"] for f in conv.document["shared"]["frames"]}
    burst_frames = {n for n in burst_names if n is not None and n.startswith("[memory burst")}
    assert len(burst_frames) == len(conv.bursts) and burst_frames <= in_document
    # per burst, as many samples as the burst attribution of --summary counts
    for attribution in conv.attribution:
        b = attribution.burst
        name = names.burst_name(b.number, b.start_ns - origin, b.end_ns - origin, b.peak_wss)
        assert burst_names.count(name) == attribution.samples > 0
    text = render_collapsed(conv.samples, burst_names).decode()
    lines = text.splitlines()
    assert lines == sorted(lines)
    assert sum(int(ln.rsplit(" ", 1)[1]) for ln in lines) == len(conv.samples) == 15232
    for ln in lines:
        frames = ln.rsplit(" ", 1)[0].split(";")
        assert frames[0] == "fftlike"
        assert frames[1] in burst_frames | {names.NO_BURST, names.NO_SNAPSHOT}
    assert any(";butterfly " in ln and "[memory burst 1:" in ln for ln in lines)
    # the folded export of the same samples ignores bursts and uses the script's names
    folded = render_folded(conv.samples).decode().splitlines()
    assert sum(int(ln.rsplit(" ", 1)[1]) for ln in folded) == int(conv.samples.period.sum())


def test_folded_on_the_fixture_recording_drops_what_the_script_drops() -> None:
    from pathlib import Path
    data = (Path(__file__).resolve().parent / "data" / "perf" / "fx.header.txt").read_bytes()
    s = samples_of(data)
    out = render_folded(s, prefix="tid").split(b"\n")
    # (anonymous namespace)::... frames look like process names to the script: dropped
    assert not any(b"anonymous" in ln for ln in out)
    # the raw bytes of a non-UTF-8 symbol come out as they came in
    assert any(b";weird\xff\xfe_sym " in ln for ln in out)
    assert any(ln.startswith(b"my_worker_(1)-?/15233;") for ln in out)
