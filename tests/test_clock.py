"""One clock for everything: every supported pairing, and the errors for the rest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import GOLDEN
from conversions import check_document, convert_files

from damon2speedscope.analysis.align import PERF_MONO_TOLERANCE_NS
from damon2speedscope.clock import ClockDomain, ClockedNs, ClockMapping, require_same_clock
from damon2speedscope.errors import ClockError
from damon2speedscope.readers.perf_data import parse_header
from damon2speedscope.writers.speedscope import Timeline, build_document

MT = GOLDEN / "mtphases"


def test_times_of_two_clocks_cannot_meet() -> None:
    a = ClockedNs(5, ClockDomain.PERF)
    b = ClockedNs(3, ClockDomain.WALL)
    with pytest.raises(ClockError, match="cannot combine perf and wall"):
        a.minus(b)
    assert a.minus(ClockedNs(3, ClockDomain.PERF)) == 2
    mapping = ClockMapping(ClockDomain.WALL, ClockDomain.MONOTONIC, -10, 0, "test")
    with pytest.raises(ClockError):
        mapping.apply(np.zeros(1, dtype=np.int64), ClockDomain.PERF)
    require_same_clock(ClockDomain.MONOTONIC, ClockDomain.MONOTONIC)


def test_writer_refuses_series_and_samples_on_different_clocks() -> None:
    conv = convert_files(GOLDEN / "fftlike" / "damon.json_compressed",
                         GOLDEN / "fftlike" / "perf.script.txt")
    assert conv.series is not None and conv.samples is not None
    conv.series.clock = ClockDomain.WALL
    with pytest.raises(ClockError):
        build_document("x", "t", conv.samples, Timeline(conv.series, [], 0, 1))


def test_header_clock_facts(recordings: Path) -> None:
    text = (recordings / "fftlike-mono" / "perf.mono.header.txt").read_text()
    header = parse_header(text)
    assert header.clock is ClockDomain.MONOTONIC
    assert header.reference_wall_ns == 1795642135_169129000
    assert header.reference_clock_ns == 2025_380090669
    assert parse_header("# captured on: x\n").clock is ClockDomain.PERF


def test_perf_clock_with_perf_clock(buildid_dirs: dict[str, str]) -> None:
    fft = GOLDEN / "fftlike"
    conv = convert_files(fft / "damon.perf.data", fft / "perf.data",
                         buildid_dir=buildid_dirs["fftlike"])
    a = conv.summary["alignment"]
    assert (a["damon_clock"], a["perf_clock"], a["method"], a["uncertainty_ns"]) == (
        "perf", "perf", "same clock", 0)
    assert a["overlap_ns"] == a["perf_span_ns"][1] - a["perf_span_ns"][0]


def test_mono_with_mono(recordings: Path, buildid_dirs: dict[str, str]) -> None:
    mono = recordings / "fftlike-mono"
    conv = convert_files(mono / "damon.mono.perf.data", mono / "perf.mono.data",
                         buildid_dir=buildid_dirs["fftlike-mono"])
    assert conv.summary["alignment"]["method"] == "same clock"
    assert conv.summary["clock"] == "monotonic"


def test_perf_clock_text_with_mono_perf_data_uses_documented_tolerance(
        recordings: Path, buildid_dirs: dict[str, str]) -> None:
    """Text cannot tell its clock (taken as perf's); perf.data says monotonic."""
    mono = recordings / "fftlike-mono"
    conv = convert_files(mono / "damon.mono.perf_script.txt", mono / "perf.mono.data",
                         buildid_dir=buildid_dirs["fftlike-mono"])
    a = conv.summary["alignment"]
    assert a["damon_clock"] == "perf" and a["perf_clock"] == "monotonic"
    assert a["uncertainty_ns"] == PERF_MONO_TOLERANCE_NS == 2_000_000
    assert "CLOCK_MONOTONIC" in a["method"] and "±2 ms" in a["method"]
    declared = convert_files(mono / "damon.mono.perf_script.txt", mono / "perf.mono.data",
                             buildid_dir=buildid_dirs["fftlike-mono"],
                             read={"clock": ClockDomain.MONOTONIC})
    assert declared.summary["alignment"]["method"] == "same clock"


def test_combined_file_one_clock(recordings: Path, buildid_dirs: dict[str, str]) -> None:
    conv = convert_files(recordings / "fftlike-combined" / "combined.perf.data",
                         buildid_dir=buildid_dirs["fftlike-combined"])
    a = conv.summary["alignment"]
    assert (a["damon_clock"], a["perf_clock"], a["method"]) == ("monotonic", "monotonic",
                                                                "same clock")
    # DAMON started 4 s before the first CPU sample and ended 4 s before the last: partial
    assert any("covers 86.7% of the perf samples' span" in w for w in conv.warnings)


def test_wall_clock_snapshot_record_with_mono_perf_data(buildid_dirs: dict[str, str],
                                                        tmp_path: Path) -> None:
    """damon.wall.json is the real mono record moved to epoch ns via ITS perf.data reference
    pair (see tests/data/clock/make_wall_record.py); perf.data's own pair maps it back. The
    two pairs were taken a second apart, so the round trip is exact to about a microsecond.
    """
    mono = convert_files(MT / "damon.perf.data", MT / "perf.data",
                         buildid_dir=buildid_dirs["mtphases"])
    wall = convert_files(MT / "damon.wall.json", MT / "perf.data",
                         buildid_dir=buildid_dirs["mtphases"])
    a = wall.summary["alignment"]
    assert (a["damon_clock"], a["perf_clock"]) == ("wall", "monotonic")
    assert a["method"] == "perf.data reference time (TOD = monotonic)"
    assert wall.series is not None and mono.series is not None
    drift = wall.series.end_ns - mono.series.end_ns
    assert np.all(np.abs(drift) <= 2_000), drift
    assert [s["wss_bytes"] for s in wall.summary["snapshots"]] == [
        s["wss_bytes"] for s in mono.summary["snapshots"]]
    # snapshot records start one aggregation interval before their end
    assert all(s["end_ns"] - s["start_ns"] == 5_000_000_000 for s in wall.summary["snapshots"])
    assert [(b.first, b.last) for b in wall.bursts] == [(b.first, b.last) for b in mono.bursts]
    check_document(wall.document, tmp_path)


def test_wall_clock_record_without_a_reference_is_refused() -> None:
    with pytest.raises(ClockError, match="no mapping between them is known"):
        convert_files(MT / "damon.wall.json", MT / "perf.script.txt")


def _cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "damon2speedscope", *args], capture_output=True,
                          check=False, timeout=300)


def test_no_overlap_is_an_error_with_both_spans(recordings: Path) -> None:
    damon = str(GOLDEN / "fftlike" / "damon.json_compressed")
    perf = str(recordings / "fftlike-mono" / "perf.mono.script.txt")
    proc = _cli(damon, perf)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.count("\n") == 1
    assert err.startswith(f"damon2speedscope: error: {damon}: DAMON record (")
    assert err.endswith(f"(perf samples: {perf})\n")
    assert "1949.760557–2021.439817 s) and perf samples (2025.442316–2053.017220 s) do not " \
        "overlap" in err


def test_damon_offset_can_repair_a_known_shift(recordings: Path) -> None:
    """A hand shift is applied on top of the mapping and reported in the method."""
    conv = convert_files(GOLDEN / "fftlike" / "damon.json_compressed",
                         recordings / "fftlike-mono" / "perf.mono.script.txt",
                         damon_offset_ns=75_000_000_000)
    assert conv.summary["alignment"]["method"] == "same clock + --damon-offset"
    assert conv.summary["alignment"]["offset_ns"] == 75_000_000_000


def test_monotonic_coarse_maps_to_monotonic_within_a_tick() -> None:
    from damon2speedscope.analysis.align import COARSE_TOLERANCE_NS, choose_mapping
    m = choose_mapping(ClockDomain.MONOTONIC_COARSE, ClockDomain.MONOTONIC)
    assert m.offset_ns == 0 and m.uncertainty_ns == COARSE_TOLERANCE_NS == 10_000_000
    assert "tick" in m.method
    with pytest.raises(ClockError):
        choose_mapping(ClockDomain.MONOTONIC_COARSE, ClockDomain.WALL)
