"""DAMON tracepoint text: ``perf script`` and ``trace-cmd report``, every kernel's payload.

tests/data/damon/trace_cmd/ holds trace-cmd fixtures converted by hand from the perf-script
examples (see tests/data/damon/README.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_damon_formats import EXPECTED, FORMATS, T0, T1, S, load, snaps, without_age

from damon2speedscope.clock import ClockDomain
from damon2speedscope.model import SkipCounter
from damon2speedscope.readers import InputKind
from damon2speedscope.readers.damon_events import (
    SnapshotAssembler,
    first_interval_ns,
    kdamond_label,
)
from damon2speedscope.readers.detect import detect

REPO = Path(__file__).resolve().parent.parent
TRACE_CMD = Path(__file__).resolve().parent / "data" / "damon" / "trace_cmd"
FFT_SCRIPT = REPO / "golden" / "fftlike" / "damon.perf_script.txt"


def test_kernels_before_5_16_have_no_age() -> None:
    loaded = load((FORMATS / "perf_script.no_age.txt").read_bytes())
    assert snaps(loaded.damon) == without_age(EXPECTED)  # type: ignore[arg-type]
    long = load((FORMATS / "perf_script.no_age.30snapshots.txt").read_bytes()).damon
    assert long is not None and len(long) == 60 and set(long.age.tolist()) == {-1}
    # 30 snapshots 100 ms apart per target; the first starts one mean interval earlier
    assert int(long.start_ns[0]) == 5000 * S


def test_kernels_before_5_18_print_target_pointers() -> None:
    text = (FORMATS / "damo-3.4.3.perf_script").read_bytes()
    p0, p1 = 18446623435582458880, 18446623435582461952
    text = text.replace(b"target_id=0 ", f"target_id={p0} ".encode())
    text = text.replace(b"target_id=1 ", f"target_id={p1} ".encode())
    got = snaps(load(text).damon)  # type: ignore[arg-type]
    renamed = {0: p0, 1: p1}
    assert got == [((t[0], t[1], renamed[t[2]]), s, e, r) for t, s, e, r in EXPECTED]


def test_damo_fake_trailing_snapshot_gives_the_lone_snapshot_its_start() -> None:
    """damo writes `0-0: -1 -1` after a target's only snapshot, one interval later, so that
    the reader can compute the start: dropped, and its end used exactly like damo."""
    loaded = load((FORMATS / "damo-3.4.3.single_snapshot.perf_script").read_bytes())
    assert snaps(loaded.damon) == EXPECTED[:2]  # type: ignore[arg-type]
    assert loaded.skipped.counts == {"damo placeholder snapshot (0-0: -1 -1)": 2}


def test_kdamonds_and_targets_are_kept_apart() -> None:
    lines = []
    for kdamond, pid in (("kdamond.0", 77), ("kdamond.1", 78)):
        for k in range(3):
            t = f"{100 + k}.000000"
            lines.append(f"  {kdamond} {pid:5d} [001] {t}: damon:damon_aggregated: target_id=0 "
                         f"nr_regions=1 {4096 * pid}-{4096 * pid + 4096}: {k} 0")
    record = load("\n".join(lines).encode()).damon
    assert record is not None
    assert [t.label for t in record.targets] == ["kdamond.0 ctx 0 target 0",
                                                 "kdamond.1 ctx 0 target 0"]
    assert [int(t) for t in record.snapshot_target] == [0, 1] * 3
    assert [r[3][0][0] for r in snaps(record)] == [4096 * 77, 4096 * 78] * 3


def test_kdamond_labels() -> None:
    assert kdamond_label("kdamond.0 77") == "kdamond.0"
    assert kdamond_label("kdamond.12") == "kdamond.12"
    assert kdamond_label("kdamond.x -1") == "kdamond.0"  # damo's writer: damo reads it as 0
    assert kdamond_label("<...> 77") == "<...> 77"


# -- trace-cmd report -------------------------------------------------------------------------


def test_trace_cmd_with_flags_column_reads_like_the_perf_script_it_came_from() -> None:
    data = (TRACE_CMD / "report.flags.txt").read_bytes()
    loaded = load(data)
    assert loaded.kind is InputKind.TRACE_CMD
    assert snaps(loaded.damon) == EXPECTED  # type: ignore[arg-type]
    assert loaded.skipped.counts == {}
    assert loaded.events == {"damon_aggregated": 14}
    assert loaded.damon.clock is ClockDomain.PERF  # type: ignore[union-attr]


def test_trace_cmd_without_flags_and_with_damon_prefix_no_age() -> None:
    loaded = load((TRACE_CMD / "report.noflags.no_age.txt").read_bytes())
    assert loaded.kind is InputKind.TRACE_CMD
    assert snaps(loaded.damon) == without_age(EXPECTED)  # type: ignore[arg-type]


def _as_trace_cmd(perf_script: bytes, flags: bool) -> bytes:
    """perf script `comm  pid [cpu] time: event: payload` → trace-cmd `comm-pid [cpu] ...`."""
    pattern = re.compile(rb"^\s*(\S+)\s+(\d+)\s+(\[\d+\])\s+(\d+\.\d+): damon:(\w+): ", re.M)
    column = b"..... " if flags else b""
    return pattern.sub(lambda m: b"  %s-%s  %s %s %s: %s: " % (
        m[1], m[2], m[3], column, m[4], m[5]), perf_script)


@pytest.mark.parametrize("flags", [True, False])
def test_trace_cmd_of_the_real_recording_equals_its_perf_script(flags: bool) -> None:
    perf = FFT_SCRIPT.read_bytes()
    converted = _as_trace_cmd(perf, flags)
    assert converted.count(b"\n") == perf.count(b"\n") and converted != perf
    traced = load(converted)
    assert traced.kind is InputKind.TRACE_CMD
    reference = load(perf)
    assert reference.kind is InputKind.PERF_SCRIPT
    assert snaps(traced.damon) == snaps(reference.damon)  # type: ignore[arg-type]
    assert traced.damon.targets == reference.damon.targets  # type: ignore[union-attr]


def test_perf_script_text_is_never_taken_for_trace_cmd() -> None:
    for path in [*FORMATS.glob("*perf_script*"), FFT_SCRIPT,
                 REPO / "golden" / "fftlike" / "perf.script.txt"]:
        head = path.read_bytes()[:1 << 16]
        assert detect(head, str(path)) is InputKind.PERF_SCRIPT, path


def test_trace_cmd_headers_other_events_and_junk() -> None:
    text = b"\n".join([
        b"version = 7",
        b"cpus=2",
        b"CPU 1 is empty",
        b"  kdamond.0-4452  [000] .....  5000.100000: damon_aggregated: target_id=0 "
        b"nr_regions=1 0-4096: 3 1",
        b"  bash-99  [001] d..1.  5000.100500: sched_switch: prev_comm=bash prev_pid=99",
        b"  something unparseable",
        b"  kdamond.0-4452  [000] .....  5000.200000: damon_aggregated: target_id=0 "
        b"nr_regions=1 0-4096: 4 0",
    ])
    loaded = load(text)
    assert loaded.kind is InputKind.TRACE_CMD
    assert len(loaded.damon) == 2  # type: ignore[arg-type]
    assert loaded.skipped.counts == {"trace-cmd event sched_switch (not a DAMON event)": 1,
                                     "trace-cmd line not understood": 1}
    assert loaded.skipped.first_at["trace-cmd line not understood"] == "input:6"
    assert loaded.events == {"damon_aggregated": 2, "sched_switch": 1}


def test_intervals_tune_and_damos_before_apply_are_counted_and_used() -> None:
    def agg(t: str, k: int, age: int) -> bytes:
        return (f"  kdamond.0-77  [000] .....  {t}: damon_aggregated: target_id=0 nr_regions=1 "
                f"0-4096: {k} {age}").encode()
    lines = [
        agg("100.000000", 1, 0), agg("100.100000", 2, 0),
        b"  kdamond.0-77  [000] .....  100.150000: damon_monitor_intervals_tune: sample_us=10000",
        agg("100.300000", 3, 0),
        b"  kdamond.0-77  [000] .....  100.310000: damos_before_apply: ctx_idx=0 scheme_idx=0 "
        b"target_idx=0 nr_regions=1 0-4096: 3 0",
        agg("100.500000", 4, 0), agg("100.700000", 5, 1),
    ]
    loaded = load(b"\n".join(lines))
    record = loaded.damon
    assert record is not None and len(record) == 5
    assert loaded.events == {"damon_aggregated": 5, "damon_monitor_intervals_tune": 1,
                             "damos_before_apply": 1}
    assert loaded.skipped.counts == {
        "damos_before_apply event (the record has damon_aggregated snapshots)": 1}
    assert record.sample_interval_ns == 10_000_000
    # aggregation interval after tuning: the snapshots' spacing after the tune event
    assert record.aggr_interval_ns == 200_000_000
    # the first snapshot: the spacing of the first two, not the mean over tuned intervals
    assert int(record.start_ns[0]) == 100 * S - 100_000_000


def test_damos_before_apply_only_record_is_read_as_damo_reads_it() -> None:
    """`damo record --schemes_target_regions` traces only damos_before_apply."""
    lines = []
    for k, t in enumerate(("10.000000", "10.100000", "10.200000")):
        for target, base in ((0, 0), (1, 1 << 20)):
            for i in range(2):
                lines.append(
                    f"  kdamond.0-77  [000] .....  {t}: damos_before_apply: ctx_idx=0 "
                    f"scheme_idx=0 target_idx={target} nr_regions=2 "
                    f"{base + 4096 * i}-{base + 4096 * (i + 1)}: {k} {i}".encode())
    lines.append(b"  kdamond.0-77  [000] .....  10.250000: damos_before_apply: ctx_idx=0 "
                 b"scheme_idx=1 target_idx=0 nr_regions=1 0-4096: 9 9")
    loaded = load(b"\n".join(lines))
    record = loaded.damon
    assert record is not None and len(record) == 6
    assert [t.target_id for t in record.targets] == [0, 1]
    assert loaded.skipped.counts == {"damos_before_apply of another scheme than scheme 0": 1}
    assert any("damos_before_apply" in w for w in loaded.warnings)
    assert snaps(record)[0] == (("kdamond.0", 0, 0), 10 * S - S // 10, 10 * S,
                                ((0, 4096, 0, 0), (4096, 8192, 0, 1)))


def test_assembler_event_api_for_every_reader() -> None:
    skipped = SkipCounter()
    asm = SnapshotAssembler(ClockDomain.PERF, "src", skipped)
    for k in range(3):
        asm.add_event("damon:damon_aggregated", "kdamond.0 77", (1 + k) * S,
                      b"target_id=0 nr_regions=1 0-4096: 1 0", f"src:{k + 1}")
    asm.add_event("damon:damon_monitor_intervals_tune", "kdamond.0 77", 3 * S + 1,
                  b"sample_us=50000", "src:4")
    asm.add_event("damon:damon_new_event", "kdamond.0 77", 4 * S, b"x=1", "src:5")
    # both intervals given: the tuned aggregation interval keeps their ratio (kernel rule)
    record = asm.finish(sample_interval_ns=5_000_000, aggr_interval_ns=100_000_000)
    assert record is not None
    assert (record.sample_interval_ns, record.aggr_interval_ns) == (50_000_000, 1_000_000_000)
    assert asm.events == {"damon_aggregated": 3, "damon_monitor_intervals_tune": 1,
                          "damon_new_event": 1}
    assert skipped.counts == {"DAMON event damon_new_event (not used)": 1}


def test_first_interval_rule() -> None:
    # damo: start = first_end - (last_end - first_end) / (n - 1), truncated
    assert first_interval_ns([5000, 6000, 7001], None) == 1001
    assert 5000 - first_interval_ns([5000, 6000, 7001], None) == int(5000 - (7001 - 5000) / 2)
    assert first_interval_ns([10, 20, 31], None, tuned=True) == 10
    assert first_interval_ns([10], 7) == 7
    assert first_interval_ns([10], None) == 0


def test_lone_snapshot_without_fake_borrows_another_targets_interval() -> None:
    text = (FORMATS / "damo-3.4.3.perf_script").read_bytes().split(b"\n")
    target1_first_only = [line for line in text if b"target_id=0" in line or
                          (b"target_id=1" in line and b"5000.100000" in line)]
    got = snaps(load(b"\n".join(target1_first_only)).damon)  # type: ignore[arg-type]
    lone = [g for g in got if g[0] == T1]
    assert lone == [(T1, 5000 * S, 5000 * S + S // 10, ((2 ** 32, 5 * 2 ** 30, 2, 0),))]
    assert [g for g in got if g[0] == T0] == [s for s in EXPECTED if s[0] == T0]


def test_trace_cmd_unknown_comm_is_resolved_by_pid() -> None:
    """trace-cmd prints `<...>-PID` until it has recorded the comm: still the same kdamond."""
    text = (TRACE_CMD / "report.flags.txt").read_bytes()
    lines = text.split(b"\n")
    lines[1] = lines[1].replace(b"kdamond.0-4452", b"<...>-4452")
    lines[2] = lines[2].replace(b"kdamond.0-4452", b"<...>-4452")
    loaded = load(b"\n".join(lines))
    assert snaps(loaded.damon) == EXPECTED  # type: ignore[arg-type]
    assert [t.kdamond for t in loaded.damon.targets] == ["kdamond.0", "kdamond.0"]  # type: ignore
