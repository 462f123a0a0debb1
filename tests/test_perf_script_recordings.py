"""Each real recording reads the same from its perf.data (through ``perf script``, symbolized
with its ``perf archive``) as from the ``perf script`` text made on the recording machine.

perf.data goes through ``perf script --ns -F <explicit fields>`` (9-digit times, pid/tid
columns); the text files are plain ``perf script`` (6 digits, tid only): times are compared
in µs, threads by (comm, tid).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, GOLDEN

from damon2speedscope.model import DamonRecord, PerfSamples
from damon2speedscope.readers import LoadedInput, ReadOptions, load_input

RECORDINGS = DATA / "recordings"
PAIRS = [
    # (perf archive, perf.data, text, samples, DAMON snapshots)
    ("fftlike", GOLDEN / "fftlike" / "perf.data", GOLDEN / "fftlike" / "perf.script.txt",
     15232, 0),
    ("fftlike", GOLDEN / "fftlike" / "damon.perf.data",
     GOLDEN / "fftlike" / "damon.perf_script.txt", 0, 14),
    ("mtphases", GOLDEN / "mtphases" / "perf.data", GOLDEN / "mtphases" / "perf.script.txt",
     10398, 0),
    ("mtphases", GOLDEN / "mtphases" / "damon.perf.data",
     GOLDEN / "mtphases" / "damon.perf_script.txt", 0, 9),
    ("fftlike-mono", RECORDINGS / "fftlike-mono" / "perf.mono.data",
     RECORDINGS / "fftlike-mono" / "perf.mono.script.txt", 9268, 0),
    ("fftlike-mono", RECORDINGS / "fftlike-mono" / "damon.mono.perf.data",
     RECORDINGS / "fftlike-mono" / "damon.mono.perf_script.txt", 0, 9),
    ("fftlike-combined", RECORDINGS / "fftlike-combined" / "combined.perf.data",
     RECORDINGS / "fftlike-combined" / "combined.script.txt", 6136, 6),
]


def _load(path: Path, options: ReadOptions | None = None) -> LoadedInput:
    return load_input(path.read_bytes(), path.name, str(path), options)


def _samples(s: PerfSamples) -> list[tuple[str, int, int, tuple[str, ...], int]]:
    t = s.table
    return [(s.threads[th].comm, s.threads[th].tid, tm // 1000,
             tuple(t.frames[f].name for f in t.stacks[st]), p)
            for th, tm, st, p in zip(s.thread.tolist(), s.time_ns.tolist(), s.stack.tolist(),
                                     s.period.tolist(), strict=True)]


def _damon(d: DamonRecord) -> dict[str, list[int]]:
    """Everything read; the start of a target's FIRST snapshot is not read but derived from the
    mean interval of its snapshot ends, which a 6-digit text rounds: compared within 1 µs."""
    out = {name: getattr(d, name).tolist() for name in (
        "snapshot_target", "region_offset", "region_start", "region_end", "nr_accesses", "age")}
    out["end_us"] = (d.end_ns // 1000).tolist()
    first = {int(t): i for i, t in reversed(list(enumerate(d.snapshot_target.tolist())))}
    out["start_us"] = [s // 1000 for i, s in enumerate(d.start_ns.tolist())
                       if i not in first.values()]
    return out


def _first_starts(d: DamonRecord) -> np.ndarray:
    first = {int(t): i for i, t in reversed(list(enumerate(d.snapshot_target.tolist())))}
    return d.start_ns[sorted(first.values())]


@pytest.mark.parametrize("archive, data, text, n_samples, n_snapshots", PAIRS,
                         ids=[f"{a}:{d.name}" for a, d, *_ in PAIRS])
def test_perf_data_and_its_text_read_the_same(archive: str, data: Path, text: Path,
                                              n_samples: int, n_snapshots: int,
                                              buildid_dirs: dict[str, str]) -> None:
    binary = _load(data, ReadOptions(buildid_dir=buildid_dirs[archive]))
    plain = _load(text)
    assert binary.skipped.counts == plain.skipped.counts
    if n_samples:
        assert binary.samples is not None and plain.samples is not None
        assert binary.samples.event == plain.samples.event
        ours, theirs = _samples(binary.samples), _samples(plain.samples)
        assert len(ours) == n_samples
        assert ours == theirs
        # and the perf.data side really had its own columns: pids and nanoseconds
        assert all(t.pid is not None for t in binary.samples.threads)
        assert all(t.pid is None for t in plain.samples.threads)
        assert np.any(binary.samples.time_ns % 1000 != 0)
        assert not np.any(plain.samples.time_ns % 1000 != 0)
    else:
        assert binary.samples is None or len(binary.samples) == 0
        assert plain.samples is None or len(plain.samples) == 0
    if n_snapshots:
        assert binary.damon is not None and plain.damon is not None
        assert len(binary.damon) == n_snapshots
        assert _damon(binary.damon) == _damon(plain.damon)
        diff = _first_starts(binary.damon) - _first_starts(plain.damon)
        assert np.all(np.abs(diff) <= 1000)
    else:
        assert binary.damon is None and plain.damon is None
