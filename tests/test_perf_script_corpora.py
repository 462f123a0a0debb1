"""The perf script reader on every third-party ``perf script`` text we have.

1. speedscope's own importer, through its Jest snapshot
   (``src/import/__snapshots__/linux-tools-perf.test.ts.snap``): for each profile (one per
   ``comm pid tid``), the time-ordered stacks WITH their durations. The durations are what
   speedscope computes from the sample times (a sample weighs half the gaps to its
   neighbours); we compute them the same way from the times we parsed, so a wrong time, thread
   or frame fails the test.
2. Our own speedscope file of the same text: the same stacks in the same order. Differences by
   design: absolute times and idle gaps (a sample covers the period before it, not half the
   gaps); and EXCEPTIONS below.
3. Every input of both corpora: every sample header becomes a sample of its event and every
   frame line a frame.
"""

from __future__ import annotations

import gzip
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from damon2speedscope import InputBytes, convert
from damon2speedscope.model import PerfSamples, Thread
from damon2speedscope.readers.perf_script import parse_perf_script

CORPORA = Path(__file__).resolve().parent / "data" / "corpora"
SPEEDSCOPE = CORPORA / "speedscope"
PROFILES = SPEEDSCOPE / "sample" / "profiles" / "linux-perf"
SNAPSHOT = SPEEDSCOPE / "src" / "import" / "__snapshots__" / "linux-tools-perf.test.ts.snap.gz"
# the snapshot's test names one file differently from the sample folder it reads
FILE_OF_TEST = {"simple-with-pids": "simple-with-pid"}
# (test, profile name) whose document-level comparison differs, with the reason
EXCEPTIONS = {
    ("forks.linux-perf.txt 2", "swapper"):
        "tid 0 (swapper) is idle on four CPUs at once, so two samples can have the same time; "
        "our time-order view gives a sample the time since the previous sample of its thread, "
        "so the second one has no width and is not drawn (speedscope gives it half the gap to "
        "the next one). The model-level test checks every one of these samples.",
}


def _gunzip(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def _snapshot() -> dict[str, tuple[str, list[str]]]:
    """Jest export title → (profile name, stack lines)."""
    text = _gunzip(SNAPSHOT).decode()
    out: dict[str, tuple[str, list[str]]] = {}
    for m in re.finditer(r"^exports\[`importFromLinuxPerf ([^`]+)`\] = `\n(.*?)^`;$", text,
                         re.S | re.M):
        name = re.search(r'^  "name": (".*"),$', m[2], re.M)
        stacks = re.search(r'^  "stacks": \[\n(.*?)^  \],$', m[2], re.S | re.M)
        if name and stacks:
            out[m[1]] = (json.loads(name[1]),
                         [json.loads(ln.strip().rstrip(",")) for ln in stacks[1].splitlines()])
    return out


EXPORTS = _snapshot()


def _input(title: str) -> Path:
    test = title.split(".linux-perf.txt")[0]
    return PROFILES / f"{FILE_OF_TEST.get(test, test)}.linux-perf.txt.gz"


def _speedscope_name(thread: Thread) -> str:
    """speedscope's profile name: parts that are empty or 0 are left out."""
    parts = [thread.comm] if thread.comm else []
    if thread.pid:
        parts.append(f"pid: {thread.pid}")
    if thread.tid:
        parts.append(f"tid: {thread.tid}")
    return " ".join(parts)


def _frame_name(name: str, file: str | None) -> str:
    return f"??? ({file})" if name == "[unknown]" else name


def _to_fixed(x: float) -> str:
    """JavaScript's ``Number.prototype.toFixed(2)``: exact value, ties away from zero."""
    return str(Decimal(x).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _seconds(v: float) -> str:
    """speedscope's TimeFormatter('seconds')."""
    if v / 60 >= 1:
        minutes = int(v // 60)
        return f"{minutes}:{int(v - minutes * 60):02d}"
    if v >= 1:
        return _to_fixed(v) + "s"
    if v / 0.001 >= 1:
        return _to_fixed(v / 0.001) + "ms"
    if v / 1e-6 >= 1:
        return _to_fixed(v / 1e-6) + "\u00b5s"
    return _to_fixed(v / 1e-9) + "ns"


def _profiles(samples: PerfSamples) -> dict[str, list[tuple[float, tuple[str, ...]]]]:
    """speedscope name → (time as speedscope parses it, frame names) in time order."""
    table = samples.table
    out: dict[str, list[tuple[float, tuple[str, ...]]]] = {}
    for th, t, st in zip(samples.thread.tolist(), samples.time_ns.tolist(),
                         samples.stack.tolist(), strict=True):
        seconds = float(f"{t // 10**9}.{t % 10**9 // 1000:06d}")  # the text's 6 digits
        names = tuple(_frame_name(table.frames[f].name, table.frames[f].file)
                      for f in table.stacks[st])
        out.setdefault(_speedscope_name(samples.threads[th]), []).append((seconds, names))
    return out


def _as_speedscope(seq: list[tuple[float, tuple[str, ...]]]) -> list[str]:
    """speedscope's StackListProfileBuilder.appendSampleWithTimestamp, then its dump."""
    stacks: list[tuple[str, ...]] = []
    weights: list[float] = []

    def append(stack: tuple[str, ...], weight: float) -> None:
        if weight == 0:
            return
        if stacks and stacks[-1] == stack:
            weights[-1] += weight
        else:
            stacks.append(stack)
            weights.append(weight)

    pending: tuple[tuple[str, ...], float, float] | None = None
    for t, stack in seq:
        if pending is not None:
            middle = (t + pending[2]) / 2
            append(pending[0], middle - pending[1])
            pending = (stack, middle, t)
        else:
            pending = (stack, t, t)
    assert pending is not None
    if stacks:
        append(pending[0], pending[2] - pending[1])
        return [f"{';'.join(s)} {_seconds(w)}" for s, w in zip(stacks, weights, strict=True)]
    return [f"{';'.join(pending[0])} 1"]  # one sample: weight 1, no unit


def test_snapshot_has_every_profile() -> None:
    assert (SPEEDSCOPE / "LICENSE.txt").is_file()
    assert len(EXPORTS) == 12
    for title in EXPORTS:
        assert _input(title).is_file(), title


@pytest.mark.parametrize("title", sorted(EXPORTS))
def test_model_matches_speedscope_snapshot(title: str) -> None:
    name, expected = EXPORTS[title]
    result = parse_perf_script(_gunzip(_input(title)), _input(title).name)
    assert result.samples is not None
    assert not result.skipped
    profiles = _profiles(result.samples)
    # profiles in order of first sample, numbered like the snapshot's exports
    number = int(title.rsplit(" ", 1)[1])
    assert list(profiles)[number - 1] == name
    assert _as_speedscope(profiles[name]) == expected


def _document_stacks(document: dict[str, Any], profile_name: str) -> list[str]:
    """The stacks of one of our evented profiles between event times, repeats merged."""
    frames = document["shared"]["frames"]
    profile = next(p for p in document["profiles"] if p["name"] == profile_name)
    events = profile["events"]
    open_frames: list[int] = []
    out: list[str] = []
    for k, event in enumerate(events):
        if event["type"] == "O":
            open_frames.append(event["frame"])
        else:
            assert open_frames.pop() == event["frame"]
        if open_frames and (k + 1 == len(events) or events[k + 1]["at"] > event["at"]):
            stack = ";".join(_frame_name(frames[f]["name"], frames[f].get("file"))
                             for f in open_frames)
            if not out or out[-1] != stack:
                out.append(stack)
    return out


@pytest.mark.parametrize("title", sorted(EXPORTS))
def test_our_speedscope_file_has_the_snapshot_stacks_in_order(title: str) -> None:
    name, expected = EXPORTS[title]
    path = _input(title)
    conv = convert([InputBytes(path.name, _gunzip(path))])
    assert conv.samples is not None
    label = next(t.label for t in conv.samples.threads if _speedscope_name(t) == name)
    ours = _document_stacks(conv.document, label)
    theirs: list[str] = []
    for line in expected:
        stack = line.rsplit(" ", 1)[0]
        if not theirs or theirs[-1] != stack:
            theirs.append(stack)
    if (title, name) in EXCEPTIONS:
        assert ours != theirs
        # what is missing is only samples at an instant another sample of the thread has
        times = conv.samples.time_ns[conv.samples.thread == next(
            i for i, t in enumerate(conv.samples.threads) if t.label == label)]
        assert len(set(times.tolist())) < len(times)
        assert set(ours) <= set(theirs)
        return
    assert ours == theirs


def _all_inputs() -> list[Path]:
    flamegraph = CORPORA / "FlameGraph"
    return sorted([*flamegraph.glob("test/perf-*.txt.gz"),
                   flamegraph / "example-perf-stacks.txt.gz", *PROFILES.glob("*.txt.gz")])


_HEADER = re.compile(rb"^\S.*\s(?:\d+/)?\d+(?:\s+\[\d+\])?(?:\s+\d+\.\d+:)?\s+(?:\d+\s+)?\S+:\s*$")


@pytest.mark.parametrize("path", _all_inputs(), ids=lambda p: p.name)
def test_every_header_and_frame_line_of_every_corpus_input(path: Path) -> None:
    data = _gunzip(path)
    lines = [ln for ln in data.split(b"\n") if not ln.startswith(b"#")]
    header_lines = [ln for ln in lines if _HEADER.match(ln)]
    headers = len(header_lines)
    timed = any(re.search(rb"\s\d+\.\d+:", ln) for ln in header_lines)
    frame_lines = sum(1 for ln in lines if ln.strip() and _HEADER.match(ln) is None)
    result = parse_perf_script(data, path.name)
    assert result.samples is not None
    assert sum(result.events.values()) == headers > 0
    other = sum(n for reason, n in result.skipped.counts.items()
                if reason.startswith("samples of other event"))
    assert result.skipped.counts.keys() <= {f"samples of other event {e}" for e in result.events}
    assert len(result.samples) + other == headers
    frames = 0
    for event in result.events:
        one = parse_perf_script(data, path.name, event=event).samples
        assert one is not None
        frames += sum(len(one.table.stacks[s]) for s in one.stack.tolist())
    assert frames == frame_lines
    table = result.samples.table
    assert not any("+0x" in f.name or f.name.endswith(" ") for f in table.frames)
    assert result.untimed == (0 if timed else len(result.samples))
