"""Burst attribution, the memory-weighted profile and the heat view on real recordings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import GOLDEN
from conversions import Replay, check_document, convert_files, profile_named

from damon2speedscope import frames as names
from damon2speedscope.analysis.heat import max_accesses
from damon2speedscope.writers.speedscope import ViewOptions

FFT = GOLDEN / "fftlike"
MT = GOLDEN / "mtphases"


def test_fftlike_attribution_names_the_phases_functions() -> None:
    """Bursts 1 and 2 are the FFT passes: their top function is butterfly (FFT1DOnce's only
    callee; FFT1DOnce itself is hidden by frame-pointer unwinding), burst 3 is Transpose.
    main/run_for are in every burst's stacks too, but with lift ≈ 1 they rank below."""
    conv = convert_files(FFT / "damon.json_compressed", FFT / "perf.script.txt")
    bursts = conv.summary["bursts"]
    assert [b["top_functions"][0]["name"] for b in bursts] == [
        "butterfly", "butterfly", "Transpose"]
    assert [b["top_leaf_functions"][0]["name"] for b in bursts] == [
        "butterfly", "butterfly", "Transpose"]
    for b in bursts:
        top = b["top_functions"][0]
        assert top["share"] > 0.99 and top["lift"] > 1.5
        main = next(f for f in b["top_functions"] if f["name"] == "main")
        assert main["share"] == 1.0 and 0.9 < main["lift"] < 1.2
        assert set(b["top_functions"][0]) == {"name", "share", "lift", "samples"}


def test_mtphases_attribution_follows_the_threads() -> None:
    conv = convert_files(MT / "damon.perf_script.txt", MT / "perf.script.txt", top_functions=3)
    tops = [b["top_functions"][0]["name"] for b in conv.summary["bursts"]]
    assert tops[1:] == ["stream_pass", "chase"]
    assert tops[0].startswith("__memset")  # both workers filling their buffers
    assert all(len(b["top_functions"]) <= 3 for b in conv.summary["bursts"])


def test_report_prints_the_table() -> None:
    proc = subprocess.run([sys.executable, "-m", "damon2speedscope",
                           str(FFT / "damon.json_compressed"), str(FFT / "perf.script.txt"),
                           "--report", "-o", "/dev/null"],
                          capture_output=True, text=True, check=True, timeout=300)
    lines = proc.stderr.splitlines()
    heads = [ln for ln in lines if ln.startswith("[memory burst")]
    assert len(heads) == 3
    assert re.match(r"^  butterfly\s+100\.0%\s+1\.7\d$", lines[lines.index(heads[0]) + 2])
    assert re.match(r"^  Transpose\s+100\.0%\s+2\.\d\d$", lines[lines.index(heads[2]) + 2])


def test_memory_weighted_profile_weighs_each_interval_by_its_wss(tmp_path: Path) -> None:
    conv = convert_files(FFT / "damon.json_compressed", FFT / "perf.script.txt")
    assert conv.series is not None and conv.samples is not None
    doc = conv.document
    memory = profile_named(doc, names.MEMORY_PROFILE_NAMES["wss"])
    assert memory["type"] == "sampled" and memory["unit"] == "bytes"
    frame_names = [f["name"] for f in doc["shared"]["frames"]]
    by_interval: dict[str, int] = {}
    for stack, weight in zip(memory["samples"], memory["weights"], strict=True):
        assert frame_names[stack[1]] == names.thread_frame_name("fftlike 11464")
        by_interval[frame_names[stack[0]]] = by_interval.get(frame_names[stack[0]], 0) + weight
    # each interval with samples contributes its WSS (less < n_k bytes of integer division)
    t = conv.samples.time_ns
    k = np.searchsorted(conv.series.start_ns, t, side="right") - 1
    ok = (k >= 0) & (t < conv.series.end_ns[np.maximum(k, 0)])
    present = np.unique(k[ok])
    expected = int(conv.series.wss[present].sum())
    assert expected - len(t) <= memory["endValue"] <= expected
    # Left Heavy: the function carrying most bytes is butterfly (FFT ran at the highest WSS)
    per_function: dict[str, int] = {}
    for stack, weight in zip(memory["samples"], memory["weights"], strict=True):
        leaf = frame_names[stack[-1]]
        per_function[leaf] = per_function.get(leaf, 0) + weight
    assert max(per_function, key=lambda n: per_function[n]) == "butterfly"
    imported = check_document(doc, tmp_path)
    got = next(p for p in imported["profiles"] if p["name"] == memory["name"])
    assert got["unit"] == "bytes" and got["totalWeight"] == memory["endValue"]


def test_heat_view_names_each_intervals_hottest_ranges() -> None:
    conv = convert_files(FFT / "damon.json_compressed", FFT / "perf.script.txt")
    record = conv.damon
    assert record is not None
    doc = conv.document
    heat = profile_named(doc, names.HEAT_PROFILE_NAME)
    replay = Replay(doc, heat)
    full = max_accesses(record)
    k = 2  # an FFT interval
    lo, hi = int(record.region_offset[k]), int(record.region_offset[k + 1])
    # independent recomputation: merge touching accessed regions, rank by size × accesses
    merged: list[list[int]] = []
    for s, e, a in zip(record.region_start[lo:hi].tolist(), record.region_end[lo:hi].tolist(),
                       record.nr_accesses[lo:hi].tolist(), strict=True):
        if a > 0 and merged and merged[-1][1] == s:
            merged[-1][1] = e
            merged[-1][2] += (e - s) * a
        elif a > 0:
            merged.append([s, e, (e - s) * a])
    merged.sort(key=lambda m: (-m[2], m[0]))
    expected = [names.hot_range_name(s, e, min(1.0, w / ((e - s) * full)))
                for s, e, w in merged[:5]]
    mid = (int(record.start_ns[k]) + int(record.end_ns[k])) // 2
    stack = replay.at(mid)
    assert stack[0].startswith("[memory burst 1:")
    assert list(stack[1:]) == expected
    assert re.match(r"^\[hot 0x[0-9a-f]+–0x[0-9a-f]+ [\d.]+ [KMG]iB \d+%\]$", expected[0])


def test_views_can_be_chosen(tmp_path: Path) -> None:
    conv = convert_files(FFT / "damon.json_compressed", FFT / "perf.script.txt",
                         views=ViewOptions(frozenset({"threads", "heat"})))
    assert [p["name"] for p in conv.document["profiles"]] == [
        "fftlike 11464", names.HEAT_PROFILE_NAME]
    assert conv.document["activeProfileIndex"] == 0
    check_document(conv.document, tmp_path)
    access = convert_files(FFT / "damon.json_compressed", FFT / "perf.script.txt",
                           views=ViewOptions(frozenset({"memory"}), memory_signal="access"))
    (memory,) = access.document["profiles"]
    assert memory["name"] == names.MEMORY_PROFILE_NAMES["access"]
    proc = subprocess.run([sys.executable, "-m", "damon2speedscope",
                           str(FFT / "damon.json_compressed"), "--views", "threads,colour"],
                          capture_output=True, text=True,
                          check=False, timeout=300)
    assert proc.returncode == 2 and "--views: unknown colour" in proc.stderr


def test_heat_ranges_are_named_by_mapping_with_a_vmas_side_file(tmp_path: Path) -> None:
    """A vaddr record plus damo's `.vmas` side file beside it: hot ranges name their mapping."""
    import json

    from damon2speedscope.readers.vmas import parse_vmas

    formats = Path(__file__).parent / "data" / "damon" / "formats"
    real = parse_vmas((formats / "damo-3.4.3.sidecar.vmas").read_bytes(), "x")
    assert [(m.pid, len(m.names), set(m.names)) for m in real] == [(6998, 5, {"python3.11"})]
    record = tmp_path / "damon.data"
    record.write_bytes((formats / "damo-3.4.3.json").read_bytes())
    vmas = [{"time": 1.5, "procvmas": [
        {"pid": 1234, "vmas": [{"start": 93824992231424, "end": 93824992542720,
                                "name": "/usr/bin/app"},
                               {"start": 140737347846144, "end": 140737349943296,
                                "name": "[stack]"}]},
        {"pid": 1235, "vmas": []}]}]
    (tmp_path / "damon.data.vmas").write_text(json.dumps(vmas))
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-m", "damon2speedscope", str(record), "-o", str(out),
                           "--validate"], capture_output=True, text=True, check=False,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    hot = [f["name"] for f in doc["shared"]["frames"] if f["name"].startswith("[hot ")]
    assert any(n.endswith(" app]") for n in hot) and any(n.endswith(" [stack]]") for n in hot)
    # target 1 (the second process) has no mapping covering its range: no name appended
    assert any(n.startswith("[hot 0x100000000–") and n.endswith("%]") for n in hot)
    bad = tmp_path / "bad.vmas"
    bad.write_text('{"procvmas": 1}')
    proc = subprocess.run([sys.executable, "-m", "damon2speedscope", str(record), "--vmas",
                           str(bad)], capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr == f"damon2speedscope: error: {bad}: .vmas side file: expected a list " \
        "of snapshots\n"
