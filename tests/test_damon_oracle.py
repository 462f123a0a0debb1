"""Parity with the reference: damo 3.4.3 itself reads every example, and we must agree.

damo runs in a subprocess (tests/data/damon/damo_oracle.py imports damo's own reader modules;
``damo report wss`` is run as a command too). Compared per target: snapshot count, start and
end times, region tuples (start, end, nr_accesses samples, age in aggregation intervals) and
the WSS of every snapshot.

Where damo cannot read a file, the test says so and checks that it indeed cannot:

* the legacy binary record (recfmt): damo 3.4.3 has no reader for it any more;
* plain json: damo detects formats with ``file -b`` and expects ``JSON data``; newer libmagic
  says ``JSON text data``, so damo hands the file to ``perf script`` and fails;
* the ``damo_record_ver`` wrapper: damo's reader misspells the key (``damo_reocrd_ver``).

* a system-wide ``perf script`` with callchains (damo's line splitter fails on them).

Known, intended differences, each shown by a test: damo turns ``secs.usecs`` into ns through a
float (sometimes 1 ns low; we parse the digits); damo reads a snapshot's
``sample_interval_us`` back 1000× too large (its writer prints nanoseconds); damo counts a
tracepoint event perf recorded twice as a region (we drop the copy: golden/mtphases); damo
ignores the kdamond of tracepoint events, so it would merge two kdamonds' ``target_id=0`` (we
keep them apart).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_damon_formats import FORMATS, load, snaps

from damon2speedscope.analysis.wss import wss_per_snapshot
from damon2speedscope.model import DamonRecord

HERE = Path(__file__).resolve().parent
ORACLE = HERE / "data" / "damon" / "damo_oracle.py"
TRACE_CMD = HERE / "data" / "damon" / "trace_cmd"
FFT = HERE.parent / "golden" / "fftlike"
RECORDINGS = HERE / "data" / "recordings"
DAMO = Path(sys.executable).parent / "damo"

pytest.importorskip("damo", reason="damo 3.4.3 is a test dependency (pyproject [test])")

CASES: list[tuple[str, Path]] = (
    [("json", p) for p in sorted(FORMATS.glob("*.json")) if "kdamonds" not in p.name]
    + [("json_compressed", p) for p in sorted(FORMATS.glob("*.json_compressed"))]
    + [("perf-script", p) for p in sorted(FORMATS.glob("*perf_script*"))]
    + [("trace-cmd-report", p) for p in sorted(TRACE_CMD.glob("*.txt"))]
    + [("auto", p) for p in sorted(FORMATS.glob("*.json_compressed"))]
    + [("auto", p) for p in sorted(FORMATS.glob("*.perf_script"))]
    + [("auto", FORMATS / "damo-3.4.3.json")]
    + [("auto", p) for p in sorted(FORMATS.glob("*.record"))]
    + [("json_compressed", FFT / "damon.json_compressed"),
       ("perf-script", FFT / "damon.perf_script.txt"),
       ("perf-script", RECORDINGS / "fftlike-mono" / "damon.mono.perf_script.txt"),
       ("perf-script", RECORDINGS / "fftlike-combined" / "combined.script.txt")]
)


@pytest.fixture(scope="module")
def damo() -> dict[tuple[str, str], dict[str, Any]]:
    """damo's reading of every case, in one process."""
    args = [str(ORACLE)] + [a for kind, path in CASES for a in (kind, str(path))]
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True,
                         cwd=FORMATS, timeout=600)
    lines = out.stdout.splitlines()
    assert len(lines) == len(CASES), out.stderr
    return {(kind, path.name): json.loads(line)
            for (kind, path), line in zip(CASES, lines, strict=True)}


def damo_view(result: dict[str, Any]) -> dict[int, list[tuple[int, int, list[tuple[int, ...]]]]]:
    """damo's records → {target_id: [(start, end, [(start, end, samples, age)])]}."""
    view: dict[int, list[tuple[int, int, list[tuple[int, ...]]]]] = {}
    for record in result["records"]:
        aggr_us = record["intervals"][1] if record["intervals"] else None
        rows = view.setdefault(record["target_id"], [])
        for s in record["snapshots"]:
            regions: list[tuple[int, ...]] = []
            for start, end, samples, aggr, usec in s["regions"]:
                if aggr is None:  # damo's own conversion (DamonAge.add_unset_unit)
                    aggr = int(usec / aggr_us) if usec is not None and aggr_us else -1
                regions.append((start, end, samples, aggr))
            # damo keeps the first start as a float and writes it truncated ('%d')
            rows.append((int(s["start"]), int(s["end"]), regions))
    return view


def our_view(record: DamonRecord) -> dict[int, list[tuple[int, int, list[tuple[int, ...]]]]]:
    view: dict[int, list[tuple[int, int, list[tuple[int, ...]]]]] = {}
    for target, start, end, regions in snaps(record):
        view.setdefault(target[2], []).append((start, end, [tuple(r) for r in regions]))
    return view


def our_wss(record: DamonRecord) -> dict[str, list[int]]:
    wss = wss_per_snapshot(record)
    out: dict[str, list[int]] = {}
    for k in range(len(record)):
        target = record.targets[int(record.snapshot_target[k])]
        out.setdefault(str(target.target_id), []).append(int(wss[k]))
    return out


READABLE = [(k, p) for k, p in CASES
            if not p.name.endswith(".record") and not (k == "auto" and p.suffix == ".json")
            and p.name != "combined.script.txt"]


def damo_seconds_to_ns(text: str) -> int:
    """How damo turns a trace's ``secs.usecs`` into ns: through a float (can be 1 ns off)."""
    return int(float(text) * 1000000000)


def _within_one_ns(ours: list[tuple[int, int, Any]], theirs: list[tuple[int, int, Any]]
                   ) -> list[tuple[int, int, Any]]:
    """``theirs`` with times that are 1 ns from ours replaced by ours (checked separately)."""
    fixed = []
    for (s, e, _), (ts, te, regions) in zip(ours, theirs, strict=True):
        fixed.append((s if abs(ts - s) <= 1 else ts, e if abs(te - e) <= 1 else te, regions))
    return fixed


@pytest.mark.parametrize("kind, path", READABLE, ids=[f"{k}:{p.name}" for k, p in READABLE])
def test_same_snapshots_and_wss_as_damo(kind: str, path: Path,
                                        damo: dict[tuple[str, str], dict[str, Any]]) -> None:
    reference = damo[(kind, path.name)]
    assert "error" not in reference, reference
    record = load(path.read_bytes()).damon
    assert record is not None
    ours, theirs = our_view(record), damo_view(reference)
    assert sorted(ours) == sorted(theirs)
    for target in theirs:
        assert len(ours[target]) == len(theirs[target])
        if kind in ("perf-script", "trace-cmd-report") or path.suffix == ".perf_script":
            theirs[target] = _within_one_ns(ours[target], theirs[target])
        assert ours[target] == theirs[target], (path.name, target)
    assert our_wss(record) == reference["wss"]


def test_one_ns_differences_are_damos_float_arithmetic(
        damo: dict[tuple[str, str], dict[str, Any]]) -> None:
    """damo computes ``int(float('2062.401853') * 1e9)`` = 2062401852999; we parse the digits
    (2062401853000). Every end time damo reports is exactly that float conversion of the
    trace's text, and ours is exact."""
    path = RECORDINGS / "fftlike-mono" / "damon.mono.perf_script.txt"
    times = re.findall(r"^.*? (\d+\.\d+): damon:damon_aggregated: .* nr_regions=(\d+) ",
                       path.read_text(), re.M)
    firsts = []
    i = 0
    while i < len(times):
        firsts.append(times[i][0])
        i += int(times[i][1])
    theirs = [row[1] for row in damo_view(damo[("perf-script", path.name)])[0]]
    assert theirs == [damo_seconds_to_ns(t) for t in firsts]
    record = load(path.read_bytes()).damon
    assert record is not None
    exact = [int(t.replace(".", "")) * 1000 for t in firsts]
    assert record.end_ns.tolist() == exact
    assert sum(a != b for a, b in zip(exact, theirs, strict=True)) == 1


def test_damo_cannot_read_a_perf_script_with_samples(
        damo: dict[tuple[str, str], dict[str, Any]]) -> None:
    """A system-wide `perf script` with callchains besides the tracepoint: damo's line
    splitter fails on the callchain lines. We read its 6 snapshots."""
    assert "IndexError" in damo[("perf-script", "combined.script.txt")]["error"]
    record = load((RECORDINGS / "fftlike-combined" / "combined.script.txt").read_bytes()).damon
    assert record is not None and len(record) == 6


def test_damo_misreads_sample_interval_us_we_do_not(
        damo: dict[tuple[str, str], dict[str, Any]]) -> None:
    reference = damo[("json", "damo-3.4.3.damon_stat_snapshot.json")]
    (snapshot,) = reference["records"][0]["snapshots"]
    assert snapshot["sample_interval_us"] == 5_000_000  # 5 s according to damo: its bug
    record = load((FORMATS / "damo-3.4.3.damon_stat_snapshot.json").read_bytes()).damon
    assert record is not None and record.sample_interval_ns == 5_000_000  # 5 ms


@pytest.mark.parametrize("name", sorted(p.name for p in FORMATS.glob("*.record")))
def test_damo_cannot_read_the_legacy_record(
        name: str, damo: dict[tuple[str, str], dict[str, Any]]) -> None:
    """damo 3.4.3 dropped recfmt: it hands the file to perf and fails. We read it; its
    content must be the dataset damo reads from the same version's perf_script."""
    assert "perf" in damo[("auto", name)]["error"]
    record = load((FORMATS / name).read_bytes()).damon
    assert record is not None
    if "multitarget" in name:
        return  # a different dataset (see test_damon_formats)
    reference = damo_view(damo[("perf-script", "damo-v2.0.1.perf_script")])
    without_ages = {t: [(s, e, [(*r[:3], -1) for r in regions]) for s, e, regions in rows]
                    for t, rows in reference.items()}
    assert our_view(record) == without_ages


def test_damo_file_b_detection_of_plain_json(
        damo: dict[tuple[str, str], dict[str, Any]]) -> None:
    """damo asks `file -b` for the type; it matches only 'JSON data' exactly."""
    result = damo[("auto", "damo-3.4.3.json")]
    file_says = subprocess.run(["file", "-b", str(FORMATS / "damo-3.4.3.json")],
                               capture_output=True, text=True).stdout.strip() \
        if shutil.which("file") else None
    if file_says == "JSON data":
        assert "error" not in result
    else:  # e.g. 'JSON text data': damo takes it for perf.data and fails
        assert "error" in result and "perf" in result["error"]
    assert load((FORMATS / "damo-3.4.3.json").read_bytes()).damon is not None


def test_damo_cannot_read_the_record_ver_wrapper(tmp_path: Path) -> None:
    records = json.loads((FORMATS / "damo-3.4.3.json").read_bytes())
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"damo_record_ver": 1, "damo_records": {"damon_records": {
        "kdamonds": [], "record_list": records}}}))
    out = subprocess.run([sys.executable, str(ORACLE), "json", str(path)], capture_output=True,
                         text=True, check=True)
    assert "error" in json.loads(out.stdout)
    ours = load(path.read_bytes()).damon
    plain = load((FORMATS / "damo-3.4.3.json").read_bytes()).damon
    assert ours is not None and plain is not None and snaps(ours) == snaps(plain)


def _damo_report_wss(path: Path) -> dict[str, list[int]]:
    out = subprocess.run(
        [str(DAMO), "report", "wss", "--input", str(path), "--raw_number", "--all_wss",
         "--sortby", "time", "--exclude_samples", "0", "--per_target"],
        capture_output=True, text=True, check=True, timeout=300).stdout
    result: dict[str, list[int]] = {}
    target = ""
    for line in out.splitlines():
        if line.startswith("# target_id"):
            target = line.split()[-1]
            result[target] = []
        elif line.strip() and not line.startswith("#"):
            result[target].append(int(line.split()[1]))
    return result


@pytest.mark.skipif(not DAMO.exists() or shutil.which("file") is None,
                    reason="damo's command and `file` are needed")
@pytest.mark.parametrize("path", [FORMATS / "damo-3.4.3.json_compressed",
                                  FORMATS / "damo-v1.8.2.json_compressed",
                                  FORMATS / "damo-3.4.3.perf_script",
                                  FFT / "damon.json_compressed"], ids=lambda p: p.name)
def test_damo_report_wss_command(path: Path) -> None:
    record = load(path.read_bytes()).damon
    assert record is not None
    assert our_wss(record) == _damo_report_wss(path)


# -- the real recording -----------------------------------------------------------------------


def test_fftlike_json_compressed_and_perf_script_are_identical() -> None:
    packed = load((FFT / "damon.json_compressed").read_bytes())
    text = load((FFT / "damon.perf_script.txt").read_bytes())
    a, b = packed.damon, text.damon
    assert a is not None and b is not None and len(a) == 14
    assert a.targets == b.targets == [a.targets[0]] and a.targets[0].label == \
        "kdamond.0 ctx 0 target 0"
    assert a.clock is b.clock
    for name in ("snapshot_target", "start_ns", "end_ns", "region_offset", "region_start",
                 "region_end", "nr_accesses", "age"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert getattr(a, name).dtype == getattr(b, name).dtype, name
    assert packed.skipped.counts == text.skipped.counts == {}


def test_fftlike_wss_equals_damo_report() -> None:
    lines = (FFT / "damo-3.4.3-report-wss.txt").read_text().splitlines()
    reference = [int(line.split()[1]) for line in lines if line and not line.startswith("#")]
    avr = next(int(line.split()[-1]) for line in lines if line.startswith("# avr:"))
    for name in ("damon.json_compressed", "damon.perf_script.txt"):
        record = load((FFT / name).read_bytes()).damon
        assert record is not None
        wss = wss_per_snapshot(record).tolist()
        assert wss == reference, name
        assert int(np.mean(wss)) == avr


def test_mtphases_duplicated_event_is_where_we_differ_from_damo() -> None:
    """perf recorded one damon_aggregated event twice (same ns, same region; golden/mtphases
    README). We drop the copy; damo counts it as a region, so its snapshot 6 gets the copy and
    loses its last region, every later snapshot starts one region early, and a 1-region
    fragment becomes a 10th snapshot (WSS 0), which also shifts damo's first-snapshot start."""
    path = HERE.parent / "golden" / "mtphases" / "damon.perf_script.txt"
    out = subprocess.run([sys.executable, str(ORACLE), "perf-script", str(path)],
                         capture_output=True, text=True, check=True, timeout=300)
    theirs = damo_view(json.loads(out.stdout))[0]
    loaded = load(path.read_bytes())
    assert loaded.damon is not None and loaded.skipped.counts == {"duplicate DAMON event": 1}
    ours = our_view(loaded.damon)[0]
    assert (len(ours), len(theirs)) == (9, 10)
    assert len(theirs[9][2]) == 1
    assert ours[1:6] == theirs[1:6]  # untouched by the duplicate
    assert ours[0][1:] == theirs[0][1:]  # same end and regions; start from the mean interval
    dup = [r for r in theirs[6][2] if theirs[6][2].count(r) == 2]
    assert len(dup) == 2
    i = ours[6][2].index(dup[0])
    assert theirs[6][2] == [*ours[6][2][:i + 1], dup[0], *ours[6][2][i + 1:-1]]
    assert theirs[7][2][0] == ours[6][2][-1]  # our last region opens damo's next snapshot
    reference = [int(line.split()[1]) for line in
                 (path.parent / "damo-3.4.3-report-wss.txt").read_text().splitlines()
                 if line and not line.startswith("#")]
    wss = wss_per_snapshot(loaded.damon).tolist()
    assert reference[9] == 0 and wss[:6] + wss[7:] == reference[:6] + reference[7:9]
