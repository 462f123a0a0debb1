"""Prove that the speedscope harness really runs speedscope 1.25.0's importer.

The helpers in ``speedscope_importer`` are used by other tests to check that
the files damon2speedscope writes open in speedscope; these tests check the
harness itself: known-good files import with the right numbers, files that
speedscope rejects are reported as failures with speedscope's own message, and
speedscope's own sample profile gives the result speedscope's own test suite
expects.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from speedscope_importer import (
    SPEEDSCOPE_VERSION,
    ensure_speedscope,
    import_with_speedscope,
    run_speedscope_import,
)

SCHEMA_URL = "https://www.speedscope.app/file-format-schema.json"
SAMPLE_DIR = Path(__file__).resolve().parent / "data" / "speedscope_sample"


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _evented(events: Sequence[tuple[str, int, float]], **extra: Any) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "type": "evented",
        "name": "ev",
        "unit": "milliseconds",
        "startValue": 0,
        "endValue": 10,
        "events": [{"type": t, "frame": f, "at": at} for t, f, at in events],
    }
    profile.update(extra)
    return profile


def _doc(
    profiles: list[dict[str, Any]], frames: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "shared": {"frames": frames},
        "profiles": profiles,
    }
    doc.update(extra)
    return doc


TWO_FRAMES: list[dict[str, Any]] = [
    {"name": "main", "file": "main.c", "line": 1},
    {"name": "child"},
]
GOOD_EVENTS: list[tuple[str, int, float]] = [("O", 0, 0), ("O", 1, 2), ("C", 1, 5), ("C", 0, 10)]


def _good_doc() -> dict[str, Any]:
    return _doc(
        [
            _evented(GOOD_EVENTS),
            {
                "type": "sampled",
                "name": "sa",
                "unit": "bytes",
                "startValue": 0,
                "endValue": 10,
                "samples": [[0], [0, 1], [0, 1], [1]],
                "weights": [1, 2, 3, 4],
            },
        ],
        TWO_FRAMES,
        name="my group",
        activeProfileIndex=1,
        exporter="hand-written",
    )


# --- setup -----------------------------------------------------------------


def test_speedscope_is_installed_at_the_pinned_version() -> None:
    node_dir = ensure_speedscope()
    meta = json.loads(
        (node_dir / "node_modules" / "speedscope" / "package.json").read_text(encoding="utf-8")
    )
    assert meta["name"] == "speedscope"
    assert meta["version"] == SPEEDSCOPE_VERSION == "1.25.0"
    pinned = json.loads((node_dir / "package.json").read_text(encoding="utf-8"))
    assert pinned["dependencies"]["speedscope"] == "1.25.0"


def test_missing_node_is_an_error_not_a_skip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty dir: no node, no npm
    with pytest.raises(RuntimeError, match="`node` was not found"):
        ensure_speedscope.__wrapped__()


def test_wrong_speedscope_version_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = ensure_speedscope() / "node_modules" / "speedscope"
    fake = tmp_path / "speedscope"
    shutil.copytree(real, fake)
    meta = json.loads((fake / "package.json").read_text(encoding="utf-8"))
    meta["version"] = "1.24.0"
    (fake / "package.json").write_text(json.dumps(meta), encoding="utf-8")
    (fake / "dist" / "release" / "release.txt").write_text("speedscope@1.24.0\n", encoding="utf-8")
    monkeypatch.setenv("SPEEDSCOPE_DIR", str(fake))
    with pytest.raises(RuntimeError, match=r"expected 1\.25\.0"):
        ensure_speedscope.__wrapped__()
    # the node script checks too, on its own
    proc = subprocess.run(
        ["node", str(ensure_speedscope() / "import_check.js"), os.devnull],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SPEEDSCOPE_DIR": str(fake)},
    )
    assert proc.returncode == 2
    assert "expected speedscope 1.25.0" in proc.stderr


# --- (a) valid files -------------------------------------------------------


def test_hand_written_file_imports_with_the_right_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path / "good.speedscope.json", _good_doc())
    [result] = import_with_speedscope(path, frame_names=True)
    assert result["ok"] is True
    assert result["file"] == str(path)
    assert result["importedAs"] == "speedscope json file"
    assert result["speedscope"] == "1.25.0"
    assert result["name"] == "my group"
    assert result["indexToView"] == 1
    ev, sa = result["profiles"]

    assert ev["name"] == "ev"
    assert ev["unit"] == "milliseconds"
    assert ev["totalWeight"] == 10
    assert ev["totalNonIdleWeight"] == 10
    assert ev["calls"] == 2  # main, then child inside it
    assert ev["frames"] == ev["profileFrames"] == 2
    assert ev["frameNames"] == ["child", "main"]
    assert ev["maxDepth"] == 2
    assert ev["samples"] == 3  # [0,2) main, [2,5) main;child, [5,10) main

    assert sa["name"] == "sa"
    assert sa["unit"] == "bytes"
    assert sa["totalWeight"] == 1 + 2 + 3 + 4
    # speedscope merges the two consecutive identical [main, child] samples
    assert sa["samples"] == 3
    assert sa["calls"] == 3  # main, child under main, then child at the root
    assert sa["frames"] == 2
    assert sa["maxDepth"] == 2


def test_detection_by_schema_url_without_speedscope_suffix(tmp_path: Path) -> None:
    doc = _doc([_evented(GOOD_EVENTS)], TWO_FRAMES)
    [result] = import_with_speedscope(_write(tmp_path / "profile.json", doc))
    assert result["importedAs"] == "speedscope json file"
    # no group name in the file: speedscope takes the first profile's name
    assert result["name"] == "ev"
    assert result["indexToView"] == 0
    assert [p["name"] for p in result["profiles"]] == ["ev"]


def test_utf8_names_and_demangling_like_the_app(tmp_path: Path) -> None:
    frames = [{"name": "héllo → 世界"}, {"name": "_ZN3foo3barEv"}]
    doc = _doc(
        [
            {
                "type": "sampled",
                "name": "p",
                "unit": "none",
                "startValue": 0,
                "endValue": 2,
                "samples": [[0, 1]],
                "weights": [2],
            }
        ],
        frames,
    )
    [result] = import_with_speedscope(_write(tmp_path / "u.speedscope.json", doc), frame_names=True)
    assert result["profiles"][0]["frameNames"] == ["foo::bar()", "héllo → 世界"]


def test_numbers_match_an_independent_computation(tmp_path: Path) -> None:
    rng = random.Random(1234)
    frames = [{"name": f"f{i}"} for i in range(40)]
    samples = [[rng.randrange(40) for _ in range(rng.randint(1, 9))] for _ in range(3000)]
    weights = [rng.randint(1, 50) for _ in samples]
    doc = _doc(
        [
            {
                "type": "sampled",
                "name": "rnd",
                "unit": "nanoseconds",
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        ],
        frames,
    )
    path = _write(tmp_path / "rnd.speedscope.json", doc)
    [result] = import_with_speedscope(path, frame_names=True)
    [prof] = result["profiles"]
    used = {f for s in samples for f in s}
    assert prof["totalWeight"] == sum(weights)
    assert prof["frames"] == prof["profileFrames"] == len(used)
    assert prof["frameNames"] == sorted(f"f{i}" for i in used)
    assert prof["maxDepth"] == max(len(s) for s in samples)
    merged = sum(1 for i, s in enumerate(samples) if i == 0 or s != samples[i - 1])
    assert prof["samples"] == merged


# --- (b) files speedscope rejects ------------------------------------------


def test_mismatched_close_order_is_rejected(tmp_path: Path) -> None:
    bad: list[tuple[str, int, float]] = [("O", 0, 0), ("O", 1, 2), ("C", 0, 5), ("C", 1, 10)]
    path = _write(tmp_path / "bad.speedscope.json", _doc([_evented(bad)], TWO_FRAMES))
    message = 'Tried to leave frame "main" while frame "child" was at the top at 5'
    with pytest.raises(AssertionError, match=re.escape(message)):
        import_with_speedscope(path)


def test_unclosed_frame_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path / "open.speedscope.json", _doc([_evented([("O", 0, 0)])], TWO_FRAMES))
    with pytest.raises(AssertionError, match="non-empty stack"):
        import_with_speedscope(path)


def test_unknown_profile_type_is_rejected(tmp_path: Path) -> None:
    doc = _doc([_evented(GOOD_EVENTS, type="weird")], TWO_FRAMES)
    with pytest.raises(AssertionError, match="profile #0 was not imported"):
        import_with_speedscope(_write(tmp_path / "weird.speedscope.json", doc))


def test_garbage_is_unrecognized(tmp_path: Path) -> None:
    path = tmp_path / "garbage.bin"
    path.write_bytes(random.Random(7).randbytes(4096))
    with pytest.raises(AssertionError, match="Unrecognized format"):
        import_with_speedscope(path)


def test_failures_are_reported_per_file(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.speedscope.json", _good_doc())
    bad = _write(
        tmp_path / "bad.speedscope.json",
        _doc([_evented([("O", 0, 0), ("O", 1, 1), ("C", 0, 2), ("C", 1, 3)])], TWO_FRAMES),
    )
    results = run_speedscope_import(good, bad, good)
    assert [r["ok"] for r in results] == [True, False, True]
    assert results[1]["file"] == str(bad)
    assert "Tried to leave frame" in results[1]["error"]
    assert "profiles" not in results[1]


# --- (c) speedscope's own sample profiles ----------------------------------


def test_speedscope_sample_profile_matches_speedscope_snapshot() -> None:
    # Expected values: speedscope's Jest snapshot
    # src/import/__snapshots__/linux-tools-perf.test.ts.snap, "forks.linux-perf.txt"
    [result] = import_with_speedscope(SAMPLE_DIR / "forks.linux-perf.txt", frame_names=True)
    assert result["importedAs"] == "output of linux perf script"
    assert result["name"] == "forks.linux-perf.txt"
    assert result["indexToView"] == 0
    profiles = result["profiles"]
    assert len(profiles) == 4
    names = [p["name"] for p in profiles]
    assert names == ["forks tid: 9", "swapper", "forks tid: 11", "forks tid: 10"]
    assert [p["frames"] for p in profiles] == [7, 2, 6, 6]
    assert profiles[0]["totalWeight"] == pytest.approx(0.13909899999271147)
    assert profiles[0]["unit"] == "seconds"
    # the app demangles after import: _Z5gammav -> gamma()
    assert "gamma()" in profiles[0]["frameNames"]


def test_example_profile_shipped_in_the_npm_package(tmp_path: Path) -> None:
    # The collapsed-stack example the speedscope app offers to load; the bundle
    # renames it with a content hash, so restore the original name.
    release = ensure_speedscope() / "node_modules" / "speedscope" / "dist" / "release"
    [shipped] = release.glob("perf-vertx-stacks-01-collapsed-all-*.txt")
    path = tmp_path / "perf-vertx-stacks-01-collapsed-all.txt"
    shutil.copyfile(shipped, path)
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    [result] = import_with_speedscope(path)
    assert result["importedAs"] == "collapsed stack format"
    [prof] = result["profiles"]
    assert prof["totalWeight"] == sum(c for _, c in stacks)
    assert prof["frames"] == len({f for s, _ in stacks for f in s})
    assert prof["maxDepth"] == max(len(s) for s, _ in stacks)
