"""``perf script`` text → callchain samples and DAMON tracepoint snapshots.

The header line of a sample is anchored on its ``secs.frac:`` time field, so any perf version's
column widths, a comm with spaces, optional ``[cpu]`` and period columns all parse. Callchain
blocks repeat heavily, so each block is interned by its bytes before its frames are parsed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..clock import ClockDomain
from ..errors import InputError
from ..model import DamonRecord, Frame, FrameTable, PerfSamples, SkipCounter, Thread, root_first
from ..units import parse_time_field_ns
from .damon_events import SnapshotAssembler

DAMON_AGGREGATED = "damon_aggregated"
_TIME = re.compile(rb"\s(\d+)\.(\d+):(?=\s|$)")
_EVENT = re.compile(rb"\s*(?:(\d+)\s+)?(\S+?):(?=\s|$)\s*")
_IDS = re.compile(rb"^(-?\d+)(?:/(-?\d+))?$")
_CPU = re.compile(rb"^\[\d+\]$")
_FRAME = re.compile(rb"^\s*([0-9a-fA-F]+)\s+(.*?)\s*$")
_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")
_TIME_BASED_EVENTS = ("cpu-clock", "task-clock")


@dataclass(frozen=True)
class SampleFilter:
    """``--pid``/``--tid``/``--comm``: keep a sample when it matches every given set."""

    pids: frozenset[int] = frozenset()
    tids: frozenset[int] = frozenset()
    comms: frozenset[str] = frozenset()

    def keeps(self, thread: Thread) -> bool:
        if self.pids and thread.pid not in self.pids:
            return False
        if self.tids and thread.tid not in self.tids:
            return False
        return not self.comms or thread.comm in self.comms


@dataclass
class PerfScriptResult:
    """What one ``perf script`` text held: samples of the chosen event, DAMON snapshots, or both."""

    samples: PerfSamples | None
    damon: DamonRecord | None
    skipped: SkipCounter
    events: dict[str, int] = field(default_factory=dict)


@dataclass
class _EventSamples:
    time_ns: list[int] = field(default_factory=list)
    thread: list[int] = field(default_factory=list)
    stack: list[int] = field(default_factory=list)
    period: list[int] = field(default_factory=list)
    with_callchain: int = 0


def event_matches(event: str, wanted: str) -> bool:
    """``--event cpu-clock`` selects ``cpu-clock:ppp`` and ``cpu-clock/freq=199/`` too."""
    if event == wanted:
        return True
    base = re.split(r"[:/]", event, maxsplit=1)[0]
    return base == wanted or event.rstrip("/:") == wanted.rstrip("/:")


class _Parser:
    def __init__(self, source: str, clock: ClockDomain, sample_filter: SampleFilter) -> None:
        self.source = source
        self.clock = clock
        self.filter = sample_filter
        self.skipped = SkipCounter()
        self.table = FrameTable()
        self.block_stack: dict[bytes, int] = {}
        self.threads: dict[tuple[int | None, int], int] = {}
        self.thread_comms: list[Counter[str]] = []
        self.events: dict[str, _EventSamples] = {}
        self.event_counts: dict[str, int] = {}
        self.damon = SnapshotAssembler(clock, source, self.skipped)
        self.filtered = 0

    def parse(self, data: bytes) -> None:
        lines = data.split(b"\n")
        n = len(lines)
        i = 0
        while i < n:
            line = lines[i]
            i += 1
            if not line.strip() or line.startswith(b"#"):
                continue
            if line.startswith(b"\t") or (line[:1] == b" " and _TIME.search(line) is None):
                self.skipped.add("callchain line outside a sample", f"{self.source}:{i}")
                continue
            header_line = i
            start = i
            while i < n and lines[i].startswith((b"\t", b" ")) and _TIME.search(lines[i]) is None:
                i += 1
            self._sample(line, header_line, lines[start:i])

    def _sample(self, header: bytes, lineno: int, frames: list[bytes]) -> None:
        where = f"{self.source}:{lineno}"
        m = _TIME.search(header)
        if m is None:
            if header.startswith(b"PERF_RECORD_") or b" PERF_RECORD_" in header:
                self.skipped.add("PERF_RECORD_* side-band line", where)
            else:
                self.skipped.add("line not understood", where)
            return
        time_ns = parse_time_field_ns(m[1], m[2])
        em = _EVENT.match(header, m.end())
        if em is None:
            self.skipped.add("sample header without an event name", where)
            return
        event = em[2].decode("utf-8", "replace")
        self.event_counts[event] = self.event_counts.get(event, 0) + 1
        comm, pid, tid = _thread_fields(header[: m.start()])
        if event.endswith(DAMON_AGGREGATED):
            self.damon.add_payload(f"{comm} {pid if pid is not None else tid}", time_ns,
                                   header[em.end():], where)
            return
        if event.split(":")[0] in ("damon", "damos") or event.startswith(("damos_", "damon_")):
            self.skipped.add(f"DAMON event {event} (not used)", where)
            return
        key = (pid, tid)
        thread = self.threads.get(key)
        if thread is None:
            thread = len(self.threads)
            self.threads[key] = thread
            self.thread_comms.append(Counter())
        self.thread_comms[thread][comm] += 1
        if not self.filter.keeps(Thread(comm, pid, tid)):
            self.filtered += 1
            return
        samples = self.events.get(event)
        if samples is None:
            samples = self.events[event] = _EventSamples()
        samples.time_ns.append(time_ns)
        samples.thread.append(thread)
        samples.stack.append(self._stack(frames, lineno))
        samples.period.append(int(em[1]) if em[1] else 0)
        if frames:
            samples.with_callchain += 1

    def _stack(self, frames: list[bytes], lineno: int) -> int:
        block = b"\n".join(frames)
        stack = self.block_stack.get(block)
        if stack is None:
            leaf_first: list[int] = []
            for offset, raw in enumerate(frames):
                frame = self._frame(raw)
                if frame is None:
                    self.skipped.add(
                        "callchain line not understood", f"{self.source}:{lineno + 1 + offset}"
                    )
                    continue
                leaf_first.append(self.table.frame(frame))
            stack = self.table.stack(root_first(leaf_first))
            self.block_stack[block] = stack
        return stack

    @staticmethod
    def _frame(raw: bytes) -> Frame | None:
        m = _FRAME.match(raw)
        if m is None:
            return None
        rest = m[2]
        dso: str | None = None
        if rest.endswith(b")"):
            cut = rest.rfind(b" (")
            if cut < 0 and rest.startswith(b"("):
                cut = -1
            if cut >= -1:
                dso = rest[cut + 2 : -1].decode("utf-8", "replace")
                rest = rest[: max(cut, 0)]
        name = _OFFSET.sub("", rest.decode("utf-8", "replace")) or "[unknown]"
        return Frame(name, dso or None)

    def result(self, event: str | None) -> PerfScriptResult:
        damon = self.damon.finish()
        chosen = self._choose_event(event)
        samples = None
        if chosen is not None:
            for other, ev in self.events.items():
                if other != chosen:
                    self.skipped.add(f"samples of other event {other}", self.source,
                                     len(ev.time_ns))
            samples = self._pack(chosen, self.events[chosen])
        elif self.events and event is not None:
            names = ", ".join(self.events)
            raise InputError(f"no samples of event {event!r} (events with samples: {names})",
                             self.source)
        if self.filtered:
            self.skipped.add("samples filtered out by --pid/--tid/--comm", self.source,
                             self.filtered)
        return PerfScriptResult(samples, damon, self.skipped, dict(self.event_counts))

    def _choose_event(self, wanted: str | None) -> str | None:
        if wanted is not None:
            return next((e for e in self.events if event_matches(e, wanted)), None)
        with_chains = [e for e, s in self.events.items() if s.with_callchain]
        if with_chains:
            return with_chains[0]
        return next(iter(self.events), None)

    def _pack(self, event: str, ev: _EventSamples) -> PerfSamples:
        threads = [Thread("", None, 0)] * len(self.threads)
        for (pid, tid), index in self.threads.items():
            comm = self.thread_comms[index].most_common(1)[0][0]
            threads[index] = Thread(comm, pid, tid)
        time_ns = np.array(ev.time_ns, dtype=np.int64)
        order = np.argsort(time_ns, kind="stable")
        return PerfSamples(
            clock=self.clock,
            event=event,
            table=self.table,
            threads=threads,
            time_ns=time_ns[order],
            thread=np.array(ev.thread, dtype=np.int32)[order],
            stack=np.array(ev.stack, dtype=np.int32)[order],
            period=np.array(ev.period, dtype=np.int64)[order],
            period_is_ns=event.startswith(_TIME_BASED_EVENTS),
        )


def _thread_fields(prefix: bytes) -> tuple[str, int | None, int]:
    """``comm [pid/]tid [cpu]`` before the time field; damo's own writer puts ``xxxx`` there."""
    rest = prefix.rstrip()
    head, _, last = rest.rpartition(b" ")
    if _CPU.match(last):
        rest = head.rstrip()
        head, _, last = rest.rpartition(b" ")
    ids = _IDS.match(last)
    if ids is not None and head.strip():
        comm = head.strip().decode("utf-8", "replace")
        if ids[2] is not None:
            return comm, int(ids[1]), int(ids[2])
        return comm, None, int(ids[1])
    if last and head.strip() and set(last) == {ord("x")}:
        head2, _, last2 = head.rstrip().rpartition(b" ")
        if last2 and set(last2) == {ord("x")} and head2.strip():
            head = head2
        return head.strip().decode("utf-8", "replace"), None, -1
    return rest.strip().decode("utf-8", "replace"), None, -1


def parse_perf_script(
    data: bytes,
    source: str,
    clock: ClockDomain = ClockDomain.PERF,
    event: str | None = None,
    sample_filter: SampleFilter | None = None,
) -> PerfScriptResult:
    """Parse a whole ``perf script`` text; samples of the first event with callchains by default."""
    parser = _Parser(source, clock, sample_filter or SampleFilter())
    parser.parse(data)
    return parser.result(event)
