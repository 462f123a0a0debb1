"""Every DAMON record format damo ever wrote, read from its bytes: tests/data/damon/formats/ holds
one example per format and damo version (each written by that version's own writer; see its
README.md), all of the same dataset: 2 targets × 3 snapshots ending at 5000.1/5000.2/5000.3 s.

Other test modules import the helpers (``snaps``, ``EXPECTED``, ``load``) from here.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from damon2speedscope.clock import ClockDomain
from damon2speedscope.errors import FormatError, InputError
from damon2speedscope.model import DamonRecord
from damon2speedscope.readers import InputKind, LoadedInput, ReadOptions, load_input
from damon2speedscope.readers.damo_json import parse_damo_json
from damon2speedscope.readers.detect import detect
from damon2speedscope.readers.recfmt import MAGIC, looks_like_v0

DATA = Path(__file__).resolve().parent / "data" / "damon"
FORMATS = DATA / "formats"

Region = tuple[int, int, int, int]
Snap = tuple[tuple[str, int, int], int, int, tuple[Region, ...]]

A, B, C = 93824992231424, 93824992411648, 93824992542720
D, E = 140737347846144, 140737349943296
G, H, J = 4294967296, 4831838208, 5368709120
T0 = ("kdamond.0", 0, 0)
T1 = ("kdamond.0", 0, 1)
S = 1_000_000_000
EXPECTED: list[Snap] = [
    (T0, 5000 * S, 5000 * S + S // 10, ((A, B, 0, 3), (B, C, 12, 0), (D, E, 20, 5))),
    (T1, 5000 * S, 5000 * S + S // 10, ((G, J, 2, 0),)),
    (T0, 5000 * S + S // 10, 5000 * S + 2 * S // 10,
     ((A, B, 0, 4), (B, C, 15, 1), (D, E, 19, 6))),
    (T1, 5000 * S + S // 10, 5000 * S + 2 * S // 10, ((G, H, 0, 0), (H, J, 8, 0))),
    (T0, 5000 * S + 2 * S // 10, 5000 * S + 3 * S // 10,
     ((A, 93824992346112, 1, 0), (93824992346112, C, 9, 0), (D, E, 20, 7))),
    (T1, 5000 * S + 2 * S // 10, 5000 * S + 3 * S // 10, ((G, H, 0, 1), (H, J, 10, 1))),
]
"""The dataset as every example must read: (target, start ns, end ns, regions) in time order."""


def without_age(expected: list[Snap]) -> list[Snap]:
    return [(t, s, e, tuple((a, b, n, -1) for a, b, n, _ in r)) for t, s, e, r in expected]


def snaps(record: DamonRecord) -> list[Snap]:
    """The record as plain tuples, snapshot by snapshot in the model's order."""
    out: list[Snap] = []
    for k in range(len(record)):
        lo, hi = int(record.region_offset[k]), int(record.region_offset[k + 1])
        t = record.targets[int(record.snapshot_target[k])]
        regions = tuple(zip(record.region_start[lo:hi].tolist(), record.region_end[lo:hi].tolist(),
                            record.nr_accesses[lo:hi].tolist(), record.age[lo:hi].tolist(),
                            strict=True))
        out.append(((t.kdamond, t.context, t.target_id), int(record.start_ns[k]),
                    int(record.end_ns[k]), regions))
    return out


def load(data: bytes, source: str = "input", **options: Any) -> LoadedInput:
    """Read bytes under a neutral name: detection must never look at the name."""
    return load_input(data, source, None, ReadOptions(**options))


def record_of(data: bytes, **options: Any) -> DamonRecord:
    loaded = load(data, **options)
    assert loaded.damon is not None
    return loaded.damon


VERSIONED = sorted(p.name for p in FORMATS.iterdir()
                   if p.name.startswith("damo-v") or p.name in (
                       "damo-3.4.3.json", "damo-3.4.3.json_compressed",
                       "damo-3.4.3.perf_script"))


def _kind_by_name(name: str) -> InputKind:
    if name.endswith(".json_compressed"):
        return InputKind.DAMO_JSON_COMPRESSED
    if name.endswith(".json"):
        return InputKind.DAMO_JSON
    if name.endswith(".record"):
        return InputKind.DAMON_RECFMT
    return InputKind.PERF_SCRIPT


# -- every example, every version -------------------------------------------------------------


@pytest.mark.parametrize("name", VERSIONED)
def test_every_damo_version_reads_as_the_dataset(name: str) -> None:
    loaded = load((FORMATS / name).read_bytes())
    assert loaded.kind is _kind_by_name(name)
    assert loaded.damon is not None
    expected = without_age(EXPECTED) if name.endswith(".record") else EXPECTED
    assert snaps(loaded.damon) == expected
    assert loaded.damon.clock is ClockDomain.PERF
    assert loaded.skipped.counts == {}


def test_the_examples_cover_every_format_and_version() -> None:
    kinds = {_kind_by_name(n) for n in VERSIONED}
    assert kinds == {InputKind.DAMO_JSON, InputKind.DAMO_JSON_COMPRESSED,
                     InputKind.DAMON_RECFMT, InputKind.PERF_SCRIPT}
    versions = {n.split(".json")[0].split(".record")[0].split(".perf_script")[0]
                for n in VERSIONED}
    assert {"damo-v1.6.8", "damo-v1.8.2", "damo-v2.0.1", "damo-v2.9.9", "damo-v3.3.0",
            "damo-3.4.3"} <= versions


def test_intervals_come_from_the_record_when_it_has_them() -> None:
    new = record_of((FORMATS / "damo-3.4.3.json").read_bytes())
    assert (new.sample_interval_ns, new.aggr_interval_ns) == (5_000_000, 100_000_000)
    old = record_of((FORMATS / "damo-v2.4.9.json").read_bytes())  # "intervals": null
    assert (old.sample_interval_ns, old.aggr_interval_ns) == (None, None)


# -- legacy binary record (recfmt) ------------------------------------------------------------


def recfmt(entries: list[tuple[int, int, list[tuple[int, list[tuple[int, int, int]]]]]],
           version: int | None = 2, order: str = "<") -> bytes:
    """A legacy record built field by field from the format description."""
    out = b"" if version is None else MAGIC + struct.pack(order + "i", version)
    tid = "i" if version == 1 else "Q"
    for sec, nsec, targets in entries:
        out += struct.pack(order + "qqI", sec, nsec, len(targets))
        for target_id, regions in targets:
            out += struct.pack(order + tid + "I", target_id, len(regions))
            for start, end, nr in regions:
                out += struct.pack(order + "QQI", start, end, nr)
    return out


def test_recfmt_multitarget_kernel_layout_is_monotonic_coarse() -> None:
    record = record_of((FORMATS / "damo-2020-adjust.multitarget.recfmt_v2.record").read_bytes())
    assert record.clock is ClockDomain.MONOTONIC_COARSE
    got = snaps(record)
    assert [g[0] for g in got] == [T0, T1] * 5
    # ends every 200 ms; the first snapshot starts one mean interval (200 ms) before its end
    assert [g[2] for g in got[::2]] == [5000 * S + k * S // 10 for k in (1, 3, 5, 7, 9)]
    assert [g[1] for g in got[::2]] == [4999 * S + 9 * S // 10] + [g[2] for g in got[:-2:2]]
    assert got[0][3] == ((A, B, 2, -1), (B, C, 21, -1))
    assert got[1][3] == ((G, J, 1, -1),)


def test_recfmt_versions_0_1_2_and_both_byte_orders() -> None:
    entries = [(7, 5, [(3, [(10, 20, 1)])]), (7, 500_000_005, [(3, [(10, 20, 4), (20, 30, 0)])]),
               (8, 5, [(2**64 - 5, [(0, 4096, 2)])])]
    expected_ids = {0: 2**64 - 5, 1: -5, 2: 2**64 - 5}
    for version in (0, 1, 2):
        for order in ("<", ">"):
            ids = entries if version != 1 else [
                (s, n, [(t if t < 2**31 else t - 2**64, r) for t, r in tg]) for s, n, tg in entries]
            data = recfmt(ids, None if version == 0 else version, order)
            loaded = load(data)
            assert loaded.kind is InputKind.DAMON_RECFMT, (version, order)
            got = snaps(loaded.damon)  # type: ignore[arg-type]
            assert [g[0][2] for g in got] == [3, 3, expected_ids[version]]
            assert [g[2] for g in got] == [7 * S + 5, 7 * S + 500_000_005, 8 * S + 5]
            # first of target 3: one mean interval before; lone target: no interval known
            assert [g[1] for g in got] == [7 * S + 5 - 500_000_000, 7 * S + 5,
                                           8 * S + 5 - 500_000_000]
            assert got[1][3] == ((10, 20, 4, -1), (20, 30, 0, -1))


def test_recfmt_truncation_is_an_error_at_the_entry_offset() -> None:
    data = (FORMATS / "damo-v2.0.1.record").read_bytes()
    # entries: 3 of target 0 (92 bytes each), then target 1's of 52, 72, 72 bytes
    for length, entry_at in ((len(data) - 7, 420), (len(data) - 45, 368), (25, 20)):
        with pytest.raises(InputError, match="truncated entry") as err:
            load(data[:length])
        assert err.value.offset is not None and entry_at <= err.value.offset < length
        assert f"input@{err.value.offset}: DAMON recfmt v2" in str(err.value)
    with pytest.raises(InputError, match=r"input@16: truncated recfmt header"):
        load(data[:18])
    with pytest.raises(InputError, match=r"input@16: .*unknown DAMON recfmt version 9"):
        load(MAGIC + struct.pack("<i", 9) + data[20:])


def test_recfmt_bad_entry_values_are_errors_with_offsets() -> None:
    good = recfmt([(5, 0, [(0, [(10, 20, 1)])]), (6, 0, [(0, [(30, 20, 1)])])])
    with pytest.raises(InputError, match=r"region ends before it starts") as err:
        load(good)
    assert err.value.offset == 20 + 20 + 12 + 20 + 20 + 12
    bad_nsec = recfmt([(5, 1_000_000_000, [(0, [(10, 20, 1)])])])
    with pytest.raises(InputError, match=r"@20: .*tv_nsec"):
        load(bad_nsec)


def test_recfmt_version_0_is_detected_only_when_the_whole_file_parses() -> None:
    v0 = (FORMATS / "damo-v2.0.1.record").read_bytes()[20:]
    assert detect(v0, "x") is InputKind.DAMON_RECFMT
    assert snaps(record_of(v0)) == without_age(EXPECTED)
    # one byte more or less, or an implausible value anywhere: not a v0 record
    assert looks_like_v0(v0 + b"\x00") is None
    assert looks_like_v0(v0[:-1]) is None
    broken = bytearray(v0)
    broken[8:16] = struct.pack("<q", 2_000_000_000)  # tv_nsec of the first entry
    assert looks_like_v0(bytes(broken)) is None
    with pytest.raises(FormatError, match="binary data of no known format"):
        load(bytes(broken))
    # text, JSON, compressed data and every other example never pass for one
    for path in FORMATS.iterdir():
        assert looks_like_v0(path.read_bytes()) is None or path.name.endswith(".record")
    rng = np.random.default_rng(3)
    for _ in range(200):
        blob = rng.integers(0, 256, int(rng.integers(52, 400)), dtype=np.uint8).tobytes()
        assert looks_like_v0(blob) is None


# -- damo JSON: every shape -------------------------------------------------------------------


def _region(start: Any, end: Any, samples: Any = 1, age: Any = None) -> dict[str, Any]:
    return {"start": start, "end": end, "nr_accesses": {"samples": samples, "percent": None},
            "age": {"usec": None, "aggr_intervals": age}}


def _doc(records: Any) -> bytes:
    return json.dumps(records, indent=1).encode()


def test_json_numbers_in_every_spelling() -> None:
    doc = [{"target_id": 0, "snapshots": [{
        "start_time": "1,000", "end_time": 3000, "regions": [
            _region("4,096", "8 KiB", "3", "7"),
            _region(8192, "12,288", 2, 9),
            {"start": "12288", "end": "16384", "nr_accesses": 5, "age": 4},  # oldest shape
            {"start": 16384, "end": 20480, "nr_accesses": {"samples": 1}, "age": None},
        ]}]}]
    (snap,) = snaps(record_of(_doc(doc)))
    assert snap[1:3] == (1000, 3000)
    assert snap[3] == ((4096, 8192, 3, 7), (8192, 12288, 2, 9), (12288, 16384, 5, 4),
                       (16384, 20480, 1, -1))


def test_json_human_times_ages_and_intervals() -> None:
    doc = [{"kdamond_idx": 0, "context_idx": 0, "target_id": 0,
            "intervals": {"sample_us": "5 ms", "aggr_us": "100 ms", "ops_update_us": "1 s"},
            "snapshots": [{"start_time": "1 s 900 ms", "end_time": "2 s", "regions": [
                {"start": 0, "end": 4096, "nr_accesses": {"samples": None, "percent": "50 %"},
                 "age": {"usec": "2 s 500 ms", "aggr_intervals": None}},
                {"start": 4096, "end": 8192, "nr_accesses": {"samples": None, "percent": 5},
                 "age": {"usec": "-1 ms", "aggr_intervals": None}},
                {"start": 8192, "end": 12288, "nr_accesses": {"samples": 1, "percent": None},
                 "age": {"usec": "250000", "aggr_intervals": None}},
            ]}]}]
    record = record_of(_doc(doc))
    assert (record.sample_interval_ns, record.aggr_interval_ns) == (5_000_000, 100_000_000)
    (snap,) = snaps(record)
    assert snap[1:3] == (1_900_000_000, 2_000_000_000)
    # percent × (aggr/sample = 20) / 100, truncated; usec / aggr_us, truncated toward zero
    assert snap[3] == ((0, 4096, 10, 25), (4096, 8192, 1, 0), (8192, 12288, 1, 2))


def test_json_usec_ages_without_intervals_are_unknown_and_said() -> None:
    doc = [{"target_id": 0, "intervals": None, "snapshots": [{"start_time": 1, "end_time": 2,
            "regions": [{"start": 0, "end": 4096, "nr_accesses": {"samples": 2, "percent": None},
                         "age": {"usec": "250000", "aggr_intervals": None}}]}]}]
    notes: list[str] = []
    record = parse_damo_json(_doc(doc), "rec.json", notes=notes)
    (snap,) = snaps(record)
    assert snap[3] == ((0, 4096, 2, -1),)
    assert notes == ["rec.json: 1 region ages are given in microseconds only and the record "
                     "has no aggregation interval to convert them: those ages are unknown (-1)"]


def test_json_percent_without_intervals_is_an_error() -> None:
    doc = [{"target_id": 0, "intervals": None, "snapshots": [{"start_time": 1, "end_time": 2,
            "regions": [{"start": 0, "end": 1, "nr_accesses": {"samples": None, "percent": 5},
                         "age": None}]}]}]
    with pytest.raises(InputError, match="percentage"):
        load(_doc(doc))


def test_json_target_ids_beyond_2_63_and_null() -> None:
    big = 2**64 - 4096
    doc = [{"target_id": big, "snapshots": [{"start_time": 1, "end_time": 2,
                                             "regions": [_region(0, 4096)]}]},
           {"target_id": str(big - 1), "snapshots": [{"start_time": 1, "end_time": 2,
                                                      "regions": [_region(0, 8192)]}]},
           {"target_id": None, "snapshots": [{"start_time": 1, "end_time": 2,
                                              "regions": [_region(0, 1)]}]}]
    record = record_of(_doc(doc))
    assert [t.target_id for t in record.targets] == [big, big - 1, -1]
    assert [s[3][0][1] for s in snaps(record)] == [4096, 8192, 1]


def test_json_sample_interval_us_written_in_ns_by_damo() -> None:
    """damo formats sample_interval_us with its µs formatter in raw mode, which prints ns."""
    def doc(intervals: Any, value: Any) -> bytes:
        return _doc([{"target_id": 0, "intervals": intervals, "snapshots": [
            {"start_time": 0, "end_time": 100_000_000, "regions": [_region(0, 1)],
             "sample_interval_us": value}]}])
    # no intervals: the plain number is nanoseconds (damo's writer)
    assert record_of(doc(None, "5000000")).sample_interval_ns == 5_000_000
    # human text is exact
    assert record_of(doc(None, "5 ms")).sample_interval_ns == 5_000_000
    # a genuine µs value is recognised against the record's intervals ...
    assert record_of(doc({"sample_us": "500000", "aggr_us": "5000000"}, "500000")) \
        .sample_interval_ns == 500_000_000
    # ... and the record's intervals win when present
    assert record_of(doc({"sample_us": "5000", "aggr_us": "100000"}, "5000000")) \
        .sample_interval_ns == 5_000_000


def test_json_wrapper_records_key_and_single_record_documents() -> None:
    records = json.loads((FORMATS / "damo-3.4.3.json").read_bytes())
    wrapped = {"damo_record_ver": 1, "damo_records": {"damon_records": {
        "kdamonds": [{"state": "on"}], "record_list": records}}}
    loaded = load(_doc(wrapped))
    assert snaps(loaded.damon) == EXPECTED  # type: ignore[arg-type]
    assert loaded.warnings == []
    assert snaps(record_of(_doc({"records": records}))) == EXPECTED
    single = snaps(record_of(_doc(records[1])))
    assert single == [s for s in EXPECTED if s[0] == T1]
    newer = dict(wrapped, damo_record_ver=2)
    assert "damo_record_ver 2" in load(_doc(newer)).warnings[0]


def test_json_snapshot_records_merge_and_schemes_are_kept_apart() -> None:
    """`damo record --snapshot` writes one record per snapshot; tried regions carry schemes."""
    def rec(end: int, scheme: int | None = None, target: Any = 0) -> dict[str, Any]:
        return {"kdamond_idx": 0, "context_idx": 0, "scheme_idx": scheme, "target_id": target,
                "intervals": {"sample_us": "5000", "aggr_us": "100000"},
                "snapshots": [{"start_time": None, "end_time": end,
                               "regions": [_region(0, 4096, 1, 0)]}]}
    loaded = load(_doc([rec(10**9), rec(2 * 10**9), rec(3 * 10**9, scheme=0)]))
    record = loaded.damon
    assert record is not None and len(record.targets) == 1 and len(record) == 2
    assert loaded.skipped.counts == {
        "damo JSON record of DAMOS scheme 0 tried regions (the target has full snapshots)": 1}
    # without a start_time: the previous end; the first: one mean interval (1 s) before
    assert [(s[1], s[2]) for s in snaps(record)] == [(0, 10**9), (10**9, 2 * 10**9)]
    # scheme-only records (target_id null): read, one scheme per target
    tried = load(_doc([rec(10**9, 2, None), rec(2 * 10**9, 2, None), rec(10**9, 3, None)]))
    assert tried.damon is not None and len(tried.damon) == 2
    assert [t.target_id for t in tried.damon.targets] == [-1]
    assert sum(tried.skipped.counts.values()) == 1


def test_json_fake_snapshot_is_dropped() -> None:
    doc = [{"target_id": 0, "snapshots": [
        {"start_time": 900, "end_time": 1000, "regions": [_region(0, 4096, 3, 1)]},
        {"start_time": 1000, "end_time": 1100, "regions": [_region(0, 0, -1, -1)]}]}]
    loaded = load(_doc(doc))
    assert snaps(loaded.damon) == [(T0, 900, 1000, ((0, 4096, 3, 1),))]  # type: ignore[arg-type]
    assert loaded.skipped.counts == {"damo placeholder snapshot (0-0: -1 -1)": 1}


@pytest.mark.parametrize("text, message, offset", [
    (b'[{"target_id": 0, "snapshots": [{"start_time": 1, "end_time": 2, "regions": [',
     "truncated", None),
    (b'[{"target_id": 0, "snapshots": [{"start_time": 1 "end_time": 2}]}]', "not valid JSON",
     49),
    (b'[{"target_id": 0}]', "without 'snapshots'", 1),
    (b'[{"target_id": 0, "snapshots": []}]', "holds no snapshot", None),
    (b'[{"snapshots": [{"start_time": 1, "end_time": 2, "regions": [{"start": 9, "end": 1, '
     b'"nr_accesses": 1, "age": 1}]}]}]', "ends before it starts", None),
    (b'[{"snapshots": [{"start_time": 1, "end_time": 2, "regions": [{"start": "x", "end": 1, '
     b'"nr_accesses": 1, "age": 1}]}]}]', "expected a number", None),
    (b'[] []', "extra data", 3),
    (b'[{"snapshots": [{"start_time": 1, "end_time": 2e18, "regions": []}, '
     b'{"start_time": 1, "end_time": 3, "regions": []}]}]', "mixes epoch", None),
])
def test_json_errors(text: bytes, message: str, offset: int | None) -> None:
    with pytest.raises(InputError, match=message) as err:
        load(text)
    if offset is not None:
        assert err.value.offset == offset


def test_json_side_files_are_named_not_misread() -> None:
    for name, side in [("damo-3.4.3.kdamonds.example.json", ".kdamonds"),
                       ("damo-3.4.3.sidecar.mem_footprint", ".mem_footprint"),
                       ("damo-3.4.3.sidecar.vmas", ".vmas"),
                       ("damo-3.4.3.sidecar.proc_stats", ".proc_stats")]:
        with pytest.raises(FormatError, match=f"damo's `{side}` side file"):
            load((FORMATS / name).read_bytes())


def test_json_parsing_is_streamed_in_small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """A window much smaller than one snapshot still reads everything exactly (values are
    re-read when they do not fit, numbers split across windows are joined)."""
    from damon2speedscope.readers import damo_json
    data = b"\xef\xbb\xbf" + (FORMATS / "damo-3.4.3.json").read_bytes()
    for window in (1, 7, 64, 333):
        monkeypatch.setattr(damo_json, "WINDOW", window)
        assert snaps(record_of(data)) == EXPECTED


# -- DAMON_STAT / snapshot records: wall clock ------------------------------------------------


def test_damon_stat_snapshot_is_wall_clock() -> None:
    loaded = load((FORMATS / "damo-3.4.3.damon_stat_snapshot.json").read_bytes())
    record = loaded.damon
    assert record is not None and record.clock is ClockDomain.WALL
    (snap,) = snaps(record)
    end = 1_764_100_000_000_000_000
    assert snap == (("damon_stat", 0, 0), end - 100_000_000, end,
                    ((0, 1 << 30, 0, 25), (1 << 30, 2 << 30, 10, 0)))
    assert (record.sample_interval_ns, record.aggr_interval_ns) == (5_000_000, 100_000_000)


def test_snapshot_record_without_start_starts_one_aggregation_interval_before() -> None:
    doc = json.loads((FORMATS / "damo-3.4.3.damon_stat_snapshot.json").read_bytes())
    del doc[0]["snapshots"][0]["start_time"]
    (snap,) = snaps(record_of(_doc(doc)))
    assert snap[1] == snap[2] - 100_000_000


def test_declared_clock_wins() -> None:
    data = (FORMATS / "damo-3.4.3.json").read_bytes()
    assert record_of(data, clock=ClockDomain.MONOTONIC).clock is ClockDomain.MONOTONIC
    rec = (FORMATS / "damo-2020-adjust.multitarget.recfmt_v2.record").read_bytes()
    assert record_of(rec, clock=ClockDomain.PERF).clock is ClockDomain.PERF


# -- pickle: always refused -------------------------------------------------------------------


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_is_refused_and_never_loaded(protocol: int,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def trap(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("pickle must never be loaded")
    monkeypatch.setattr(pickle, "loads", trap)
    monkeypatch.setattr(pickle, "load", trap)
    monkeypatch.setattr(pickle, "Unpickler", trap)
    records = json.loads((FORMATS / "damo-3.4.3.json").read_bytes())
    data = pickle.dumps(records, protocol=protocol)
    with pytest.raises(FormatError, match="pickle: refused") as err:
        load(data)
    assert err.value.offset == 0
    import gzip
    with pytest.raises(FormatError, match="pickle: refused"):
        load(gzip.compress(data))


def test_text_ending_in_a_dot_is_not_taken_for_pickle() -> None:
    text = (FORMATS / "damo-3.4.3.perf_script").read_bytes().rstrip(b"\n") + b"."
    assert detect(text, "x") is InputKind.PERF_SCRIPT


def test_json_kdamonds_contexts_and_targets_are_kept_apart() -> None:
    def rec(kdamond: Any, context: Any, target: Any, start: int, end_time: int = 100
            ) -> dict[str, Any]:
        return {"kdamond_idx": kdamond, "context_idx": context, "target_id": target,
                "snapshots": [{"start_time": end_time - 100, "end_time": end_time,
                               "regions": [_region(start, start + 4096, 1, 0)]}]}
    record = record_of(_doc([rec(0, 0, 0, 0), rec(0, 1, 0, 4096), rec(1, 0, 0, 8192),
                             rec(None, None, 0, 12288, 200), rec("1", "0", "0", 16384, 200)]))
    assert [t.label for t in record.targets] == [
        "kdamond.0 ctx 0 target 0", "kdamond.0 ctx 1 target 0", "kdamond.1 ctx 0 target 0"]
    # null indices are kdamond 0 / context 0, as damo reads them; the same target merges.
    # Equal end times: ordered by target. (A target's own snapshots must end one after the
    # other: a repeated end time is skipped, see tests/test_bad_inputs.py.)
    assert [(int(t), s[3][0][0]) for t, s in zip(record.snapshot_target, snaps(record),
                                                 strict=True)] == [
        (0, 0), (1, 4096), (2, 8192), (0, 12288), (2, 16384)]
