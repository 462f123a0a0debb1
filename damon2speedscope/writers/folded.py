"""Folded stacks: one line per distinct stack and its count, for flame-graph tools.

Two formats, both sorted and ending in a newline:

``collapsed`` (:func:`render_collapsed`): our own frame names, as in the speedscope file::

    comm;[memory burst 1: 5.2–15.3 s, peak WSS 514 MiB];main;run;butterfly 1834

The count is the number of samples. With a DAMON record, the frame after the thread frame is
the memory burst the sample falls in (:func:`burst_names_for_samples`). A ``;`` inside a name
becomes ``:`` (it separates frames).

``folded`` (:func:`render_folded`): what Brendan Gregg's ``stackcollapse-perf.pl``
(FlameGraph) prints for the same ``perf script`` text, byte for byte (checked against
FlameGraph's own expected outputs in ``tests/test_folded_corpora.py``). Its rules, re-stated
(the script is CDDL; nothing of its code is used here):

* thread frame: ``comm`` with spaces as ``_``; prefix ``pid`` → ``comm-PID``, ``tid`` →
  ``comm-PID/TID`` (PID ``?`` when the text had only a tid);
* a frame line is ``ADDR FUNC (MOD)``, split at the last `` (`` that a ``)`` follows; other
  lines are not frames; a ``+0x..`` offset ending FUNC is dropped; FUNC starting with ``(``
  is dropped (the script takes it for a process name: C++ ``(anonymous namespace)::f`` too);
* FUNC is split at ``->`` (perf's old inline chains): parts after the first get ``_[i]``;
* ``[unknown]`` becomes ``[MOD's file name]``, or ``[unknown]`` when MOD is unknown too;
* ``;`` → ``:``; unless FUNC looks like a Go method (``.(...).``), everything from the first
  ``(`` that does not open ``(anonymous namespace)`` is dropped; ``"`` and ``'`` are dropped;
* when the thread frame starts with ``java``, a leading ``L`` is dropped from names with ``/``;
* annotations: ``kernel`` adds ``_[k]`` when MOD starts with ``[`` or ends with ``vmlinux``
  (and does not say unknown); ``jit`` adds ``_[j]`` for ``/tmp/perf-N.map`` and
  ``jitted-N-N.so`` MODs;
* the count is the sum of the samples' periods, 1 for a sample without one.

Where the two tools see different samples, ours wins, by design: the event is the reader's
choice (the first sampling event with callchains, the script takes the first event it meets);
a header is anchored on its time field (the script takes the first number after the comm as
the tid, so a comm like ``Thread 2`` is cut); source lines (``-F +srcline``) are never frames;
the script drops a last sample that no blank line ends, we keep it. Frame names are written
from the raw bytes of the text, the thread frame from the model's comm (a non-UTF-8 comm comes
out as ``\\xNN``). Not implemented: the script's ``--addrs``, ``--inline``, ``--context``,
``--srcline`` and ``--event-filter`` (the reader's ``event=`` chooses the event).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np

from .. import frames as names
from ..analysis.bursts import Burst
from ..analysis.wss import IntervalSeries
from ..model import PerfSamples, Thread

PREFIXES = ("comm", "pid", "tid")
"""Thread frame: command name, ``comm-PID``, ``comm-PID/TID`` (stackcollapse-perf.pl's
default, ``--pid``, ``--tid``)."""
ANNOTATIONS = ("kernel", "jit")
"""``_[k]`` on kernel frames, ``_[j]`` on JIT frames (stackcollapse-perf.pl's ``--kernel``,
``--jit``; ``--all`` is both)."""

_SC_FRAME = re.compile(rb"^\s*(\w+)\s*(.+) \((.*)\)")
_SC_OFFSET = re.compile(rb"\+0x[\da-f]+$")
_GO_METHOD = re.compile(rb"\.\(.*\)\.")
_PAREN_TAIL = re.compile(rb"\((?!anonymous namespace\)).*")
_KERNEL_MOD = re.compile(rb"^\[|vmlinux$")
_JIT_MOD = re.compile(rb"/tmp/perf-\d+\.map|/jitted-\d+-\d+\.so")


def burst_names_for_samples(
    samples: PerfSamples,
    series: IntervalSeries | None,
    bursts: Sequence[Burst],
    origin_ns: int,
) -> list[str | None]:
    """The memory-burst frame name of every sample (in ``samples`` order).

    A sample goes by its own time ``t``: burst ``b`` when ``b.start_ns <= t < b.end_ns`` (as
    the burst attribution of ``--summary`` counts it), else ``[no memory burst]`` when ``t``
    lies in a DAMON interval, else ``[no DAMON snapshot]``. Without a DAMON record
    (``series is None``) every entry is None. Names are the speedscope file's: times counted
    from ``origin_ns``, the timeline start (``Timeline.start_ns``, the ``startValue`` of every
    profile in the document).
    """
    n = len(samples)
    if series is None:
        return [None] * n
    t = samples.time_ns
    labels: list[str | None] = [
        names.burst_name(b.number, b.start_ns - origin_ns, b.end_ns - origin_ns, b.peak_wss)
        for b in bursts
    ]
    labels += [names.NO_BURST, names.NO_SNAPSHOT]
    code = np.full(n, len(bursts) + 1, dtype=np.int64)  # no DAMON snapshot
    if len(series):
        k = np.searchsorted(series.start_ns, t, side="right") - 1
        inside = (k >= 0) & (t < series.end_ns[np.clip(k, 0, None)])
        code[inside] = len(bursts)
    for i, b in enumerate(bursts):
        code[(t >= b.start_ns) & (t < b.end_ns)] = i
    return [labels[c] for c in code.tolist()]


def _thread_frame(thread: Thread, prefix: str, spaces: bool) -> str:
    comm = thread.comm if spaces else thread.comm.replace(" ", "_")
    pid = "?" if thread.pid is None else str(thread.pid)
    if prefix == "tid":
        return f"{comm}-{pid}/{thread.tid}"
    if prefix == "pid":
        return f"{comm}-{pid}"
    if prefix == "comm":
        return comm
    raise ValueError(f"prefix must be one of {', '.join(PREFIXES)}, not {prefix!r}")


def _groups(samples: PerfSamples, extra: np.ndarray | None,
            weights: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(thread, extra, stack, summed weight) of every distinct combination."""
    cols = [samples.thread.astype(np.int64), samples.stack.astype(np.int64)]
    cols.insert(1, extra if extra is not None else np.zeros(len(samples), dtype=np.int64))
    if not len(samples):
        return []
    rows, inverse = np.unique(np.stack(cols, axis=1), axis=0, return_inverse=True)
    sums = np.zeros(len(rows), dtype=np.int64)
    np.add.at(sums, inverse.reshape(-1), weights)
    return [(int(r[0]), int(r[1]), int(r[2]), int(s))
            for r, s in zip(rows.tolist(), sums.tolist(), strict=True)]


def render_collapsed(
    samples: PerfSamples,
    burst_names: Sequence[str | None] | None = None,
    prefix: str = "comm",
) -> bytes:
    """``thread;[burst;]root;...;leaf COUNT`` lines, our frame names, sample counts.

    ``burst_names`` is one entry per sample (:func:`burst_names_for_samples`); None entries
    (or no list) put no burst frame. ``prefix`` names the thread frame as in
    :data:`PREFIXES`, keeping spaces in the comm.
    """
    extra: np.ndarray | None = None
    labels: list[str | None] = [None]
    if burst_names is not None:
        if len(burst_names) != len(samples):
            raise ValueError(f"{len(burst_names)} burst names for {len(samples)} samples")
        index: dict[str | None, int] = {None: 0}
        codes = [index.setdefault(b, len(index)) for b in burst_names]
        labels = list(index)
        extra = np.array(codes, dtype=np.int64)
    frames = [f.name.replace(";", ":") for f in samples.table.frames]
    counts: dict[str, int] = {}
    for thread, burst, stack, count in _groups(samples, extra,
                                               np.ones(len(samples), dtype=np.int64)):
        parts = [_thread_frame(samples.threads[thread], prefix, spaces=True).replace(";", ":")]
        label = labels[burst]
        if label is not None:
            parts.append(label.replace(";", ":"))
        parts.extend(frames[f] for f in samples.table.stacks[stack])
        key = ";".join(parts)
        counts[key] = counts.get(key, 0) + count
    return "".join(f"{key} {counts[key]}\n" for key in sorted(counts)).encode()


def fold_frame_line(line: bytes, java: bool = False, kernel: bool = False,
                    jit: bool = False) -> list[bytes]:
    """The stackcollapse-perf.pl names (root first) of one raw ``perf script`` frame line."""
    m = _SC_FRAME.match(line)
    if m is None:
        return []
    rawfunc = _SC_OFFSET.sub(b"", m[2], count=1)
    mod = m[3]
    if rawfunc.startswith(b"("):
        return []
    parts = rawfunc.split(b"->")
    while parts and not parts[-1]:
        parts.pop()  # Perl's split drops trailing empty fields
    out: list[bytes] = []
    for func in parts:
        if func == b"[unknown]":
            base = mod.rsplit(b"/", 1)[-1] if mod != b"[unknown]" else b"unknown"
            func = b"[" + base + b"]"
        func = func.replace(b";", b":")
        if _GO_METHOD.search(func) is None:
            func = _PAREN_TAIL.sub(b"", func, count=1)
        func = func.replace(b'"', b"").replace(b"'", b"")
        if java and func.startswith(b"L") and b"/" in func:
            func = func[1:]
        if out:
            if b"_[i]" not in func:
                func += b"_[i]"
        elif kernel and _KERNEL_MOD.search(mod) is not None and b"unknown" not in mod:
            func += b"_[k]"
        elif jit and _JIT_MOD.search(mod) is not None and b"_[j]" not in func:
            func += b"_[j]"
        out.append(func)
    return out


def render_folded(
    samples: PerfSamples,
    prefix: str = "comm",
    annotate: Collection[str] = (),
) -> bytes:
    """stackcollapse-perf.pl's output for these samples (see the module docs for the rules).

    ``prefix`` is one of :data:`PREFIXES`, ``annotate`` a subset of :data:`ANNOTATIONS`. It
    needs the raw callchain lines the perf script reader keeps (``FrameTable.raw_stacks``);
    without them each frame is rebuilt as ``NAME (FILE)`` from the model.
    """
    unknown = set(annotate) - set(ANNOTATIONS)
    if unknown:
        raise ValueError(f"annotate must be among {', '.join(ANNOTATIONS)}, not "
                         f"{', '.join(sorted(unknown))}")
    kernel, jit = "kernel" in annotate, "jit" in annotate
    table = samples.table
    raw_stacks = table.raw_stacks
    if raw_stacks is None:
        raw_stacks = [
            tuple(b"0 " + table.frames[f].name.encode() + (
                b"" if table.frames[f].file is None else
                b" (" + (table.frames[f].file or "").encode() + b")") for f in stack)
            for stack in table.stacks
        ]
    weights = np.where(samples.period > 0, samples.period, 1).astype(np.int64)
    folded_lines: dict[tuple[bytes, bool], list[bytes]] = {}
    counts: dict[bytes, int] = {}
    for thread, _, stack, count in _groups(samples, None, weights):
        pname = _thread_frame(samples.threads[thread], prefix, spaces=False).encode()
        java = pname.startswith(b"java")
        parts = [pname]
        for line in raw_stacks[stack]:
            cached = folded_lines.get((line, java))
            if cached is None:
                cached = folded_lines[(line, java)] = fold_frame_line(line, java, kernel, jit)
            parts.extend(cached)
        key = b";".join(parts)
        counts[key] = counts.get(key, 0) + count
    return b"".join(key + b" %d\n" % counts[key] for key in sorted(counts))
