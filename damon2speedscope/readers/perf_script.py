"""``perf script`` text → callchain samples and DAMON tracepoint snapshots.

What the reader understands (each has a test in ``tests/test_perf_script_*.py``):

* Sample headers of any perf version: ``comm [pid/]tid [cpu] secs.frac: [period] event:``,
  with or without pid, ``[cpu]`` and period, in one file mixed. The header is anchored on its
  ``secs.frac:`` time field, so column widths do not matter and a comm may hold spaces,
  parentheses or digits; the event name may hold colons (``cpu-clock:ppp``,
  ``sched:sched_switch``) and be padded. simpleperf's ``report_sample.py`` text (tabs between
  the fields, frames indented or not) reads the same way. A header without a time field
  (``comm tid event:``, old perf) is read only when NO sample of the text has a time: then the
  samples are placed in file order, :data:`UNTIMED_SPACING_NS` apart, and
  :attr:`PerfScriptResult.untimed` says so; otherwise such samples are skipped and counted.
* Several events in one text: by default the samples of the first sampling event that has
  callchains are kept (``event=`` picks another); the samples of every other event are
  counted in :attr:`PerfScriptResult.skipped`. DAMON tracepoints go to the DAMON assembler.
* Frame lines ``addr symbol+0xoff (dso)``: the dso is the LAST parenthesised group (so a
  symbol may contain spaces and parentheses, ``(anonymous namespace)::f``, ``operator()``,
  and a dso may read ``/x.so (deleted)``); the ``+0x`` offsets of symbol and dso
  (``--symoff``, ``dsoff``) are dropped. ``[unknown]`` stays the name. An ``(inlined)`` frame
  takes the dso of the real frame at the same address below it, if any. Source lines
  (``-F +srcline``) are not frames; their ``(inlined)`` mark applies to the frame above.
  simpleperf's ``tracing data:`` lines are the event's payload (as the tail of a tracepoint
  header is in perf's text): not used.
* ``#`` comment lines (``--header``), ``PERF_RECORD_*`` side-band lines (``--show-*-events``,
  counted), CRLF line ends, a last sample without a trailing blank line, stacks of any depth
  (nothing here recurses).
* Names are decoded as UTF-8; bytes that are not UTF-8 are written as ``\\xNN``
  (``backslashreplace``): two different byte strings never become one name, and the JSON
  writer (orjson rejects lone surrogates) can always write them. Each distinct name affected
  is counted in :attr:`PerfScriptResult.skipped` under :data:`NON_UTF8_REASON`.

Speed: callchain blocks repeat heavily, so a block is interned by its bytes before any of its
frames is parsed, and a sample that is one header plus an already seen block costs two regex
matches (time, event) and three dict lookups (callchain block, thread columns, event).

Threads are ``(comm, pid, tid)``: a thread that changes its name (``exec``, ``prctl``) is one
:class:`Thread` per name, as perf, stackcollapse-perf.pl and speedscope's importer show it.
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..clock import ClockDomain
from ..errors import InputError
from ..model import (
    TIME_LIMIT_NS,
    DamonRecord,
    Frame,
    FrameTable,
    PerfSamples,
    SkipCounter,
    Thread,
    root_first,
)
from ..units import parse_time_field_ns
from .damon_events import SnapshotAssembler

DAMON_AGGREGATED = "damon_aggregated"
UNTIMED_SPACING_NS = 1_000_000
"""Spacing of samples placed in file order when the text has no time field at all."""
NON_UTF8_REASON = "names with non-UTF-8 bytes (written as \\xNN)"
FILTERED_REASON = "samples filtered out by --pid/--tid/--comm"

_TIME = re.compile(rb"\s(\d+)\.(\d+):(?=\s|$)")
_EVENT = re.compile(rb"\s*(?:(\d+)\s+)?(\S+?):(?=\s|$)\s*")
_PREFIX = re.compile(
    rb"^\s*(.*?)\s*(?<!\S)(?:(-?\d+)/)?(-?\d+)(?:\s+\[\d+\])?\s*$", re.DOTALL
)
_UNTIMED = re.compile(
    rb"^(\S.*?\s(?:-?\d+/)?-?\d+(?:\s+\[\d+\])?)\s+(?:(\d+)\s+)?(\S+?):\s*$"
)
_FRAME = re.compile(rb"^\s*([0-9a-fA-F]+)(?:\s+(.*?))?\s*$", re.DOTALL)
_OFFSET = re.compile(rb"\+0x[0-9a-fA-F]+$")
_INLINED = b" (inlined)"
_TRACING_DATA = b"tracing data:"
_TIME_BASED_EVENTS = ("cpu-clock", "task-clock")
_DAMON_SYSTEMS = ("damon", "damos")
_ID_LIMIT = 1 << 31


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
    untimed: int = 0
    """Samples whose header had no time field, placed in file order (see module docs)."""
    notes: list[str] = field(default_factory=list)
    """What the reader should tell the user (e.g. from the DAMON assembler)."""


@dataclass
class _EventSamples:
    time_ns: list[int] = field(default_factory=list)  # -1: the header had no time field
    thread: list[int] = field(default_factory=list)
    stack: list[int] = field(default_factory=list)
    period: list[int] = field(default_factory=list)
    with_callchain: int = 0
    untimed: int = 0
    first_untimed: str = ""
    arrays: list[tuple[npt.NDArray[np.int64], ...]] = field(default_factory=list)
    """(time_ns, thread, stack, period) parts from :mod:`.perf_script_fast`, in file order
    (a text is read by one reader or the other, so these and the lists never mix)."""

    def __len__(self) -> int:
        return len(self.time_ns) + sum(len(a[0]) for a in self.arrays)


class _Slot:
    """Everything one event name in a header leads to, looked up once per sample."""

    __slots__ = ("count", "damon", "name", "samples")

    def __init__(self, name: str, samples: _EventSamples | None, damon: bool = False) -> None:
        self.name = name
        self.samples = samples
        self.damon = damon
        self.count = 0


@dataclass(frozen=True)
class _Line:
    """One callchain line, parsed once: a frame, or a source line (``name is None``)."""

    name: str | None
    dso: str | None
    addr: bytes
    inlined: bool
    marks_inlined: bool = False  # a source line ending in "(inlined)"


def event_matches(event: str, wanted: str) -> bool:
    """``--event cpu-clock`` selects ``cpu-clock:ppp`` and ``cpu-clock/freq=199/`` too."""
    if event == wanted:
        return True
    base = re.split(r"[:/]", event, maxsplit=1)[0]
    return base == wanted or event.rstrip("/:") == wanted.rstrip("/:")


def split_dso(rest: bytes) -> tuple[bytes, bytes | None]:
    """``sym (dso)`` → (sym, dso) from the LAST parenthesised group; (rest, None) without one.

    The group is matched by balancing parentheses from the end, so ``f(int) (/a (deleted))``
    gives ``/a (deleted)``; an unbalanced tail falls back to the last `` (``.
    """
    if not rest.endswith(b")"):
        return rest, None
    depth = 0
    for i in range(len(rest) - 1, -1, -1):
        c = rest[i]
        if c == 0x29:  # )
            depth += 1
        elif c == 0x28:  # (
            depth -= 1
            if depth == 0:
                if i == 0:
                    return b"", rest[1:-1]
                if rest[i - 1] in b" \t":
                    return rest[:i].rstrip(), rest[i + 1 : -1]
                break
    cut = rest.rfind(b" (")
    if cut < 0:
        return rest, None
    return rest[:cut].rstrip(), rest[cut + 2 : -1]


def _thread_fields(prefix: bytes) -> tuple[bytes, int | None, int]:
    """``comm [pid/]tid [cpu]`` before the time field; damo's own writer puts ``xxxx`` there."""
    m = _PREFIX.match(prefix)
    if m is not None:
        pid = int(m[2]) if m[2] is not None else None
        return m[1], pid, int(m[3])
    rest = prefix.strip()
    head, _, last = rest.rpartition(b" ")
    if last.startswith(b"[") and last.endswith(b"]"):
        rest = head.rstrip()
        head, _, last = rest.rpartition(b" ")
    if last and head.strip() and set(last) == {ord("x")}:
        head2, _, last2 = head.rstrip().rpartition(b" ")
        if last2 and set(last2) == {ord("x")} and head2.strip():
            head = head2
        return head.strip(), None, -1
    return rest, None, -1


class _Parser:
    def __init__(self, source: str, clock: ClockDomain, sample_filter: SampleFilter) -> None:
        self.source = source
        self.clock = clock
        self.filter = sample_filter
        self.skipped = SkipCounter()
        self.table = FrameTable()
        self.table.raw_stacks = []
        self.block_stack: dict[bytes, int] = {}
        self.line_cache: dict[bytes, _Line | None] = {}
        self.prefix_fields: dict[bytes, tuple[str, int | None, int]] = {}
        self.prefix_thread: dict[bytes, int] = {}
        self.prefix_label: dict[bytes, str] = {}
        self.thread_index: dict[tuple[str, int | None, int], int] = {}
        self.threads: list[Thread] = []
        self.thread_kept: list[bool] = []
        self.slots: dict[bytes, _Slot] = {}
        self.events: dict[str, _EventSamples] = {}
        self.damon = SnapshotAssembler(clock, source, self.skipped)
        self.filtered = 0
        self.non_utf8: set[str] = set()
        self.notes: list[str] = []
        self.empty_stack = self._intern(b"", (), ())

    # -- text → samples ------------------------------------------------------------------

    def parse(self, data: bytes) -> None:
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        lineno = 1
        block_stack = self.block_stack
        for block in data.split(b"\n\n"):
            start = lineno
            lineno += block.count(b"\n") + 2
            # fast path: a header line and a callchain block seen before (and so known to
            # hold frame lines only); anything else goes line by line
            nl = block.find(b"\n")
            stack = None if nl <= 0 or block[0] in b"#\t" else block_stack.get(block[nl + 1 :])
            if stack is None:
                self._general(block, start)
            else:
                self._header(block[:nl], start, (), stack)

    def _general(self, block: bytes, lineno: int) -> None:
        """Any block, line by line: comments, side-band lines, headers without blank lines."""
        header: bytes | None = None
        time: re.Match[bytes] | None = None
        header_line = 0
        frames: list[bytes] = []
        for offset, line in enumerate(block.split(b"\n")):
            where = lineno + offset
            if not line or line[:1] == b"#" or not line.strip():
                if header is not None and not line.strip():
                    self._header(header, header_line, frames, None, time)
                    header = None
                continue
            m = None if line[:1] == b"\t" else _TIME.search(line)
            if m is not None:
                if header is not None:
                    self._header(header, header_line, frames, None, time)
                header, time, header_line, frames = line, m, where, []
                continue
            if header is None:
                if _UNTIMED.match(line) is not None:
                    header, time, header_line, frames = line, None, where, []
                elif line.startswith(b"PERF_RECORD_") or b" PERF_RECORD_" in line:
                    self.skipped.add("PERF_RECORD_* side-band line", self._where(where))
                elif line[:1] in b" \t" or _FRAME.match(line) is not None:
                    self.skipped.add("callchain line outside a sample", self._where(where))
                else:
                    self.skipped.add("line not understood", self._where(where))
                continue
            frames.append(line)
        if header is not None:
            self._header(header, header_line, frames, None, time)

    def _where(self, lineno: int) -> str:
        return f"{self.source}:{lineno}"

    def _header(self, header: bytes, lineno: int, frames: list[bytes] | tuple[()],
                stack: int | None = None, m: re.Match[bytes] | None = None) -> None:
        """One sample (or DAMON event) from its header line and callchain lines.

        ``stack`` is the callchain already interned by the caller; ``m`` the header's time
        match if the caller has it (``None``: search it, and try a header without time).
        """
        if m is None:
            m = _TIME.search(header)
        if m is not None:
            frac = m[2]
            if len(frac) == 6:
                time_ns = int(m[1]) * 1_000_000_000 + int(frac) * 1_000
            else:
                time_ns = parse_time_field_ns(m[1], frac)
            if time_ns >= TIME_LIMIT_NS:
                raise InputError(f"time {m[1].decode()}.{frac.decode()} s is out of range "
                                 "(2^62 ns at most)", self.source, lineno)
            prefix = header[: m.start()]
            em = _EVENT.match(header, m.end())
        else:
            um = _UNTIMED.match(header)
            if um is None:
                self.skipped.add("line not understood", self._where(lineno))
                return
            time_ns = -1
            prefix = um[1]
            em = _EVENT.match(header, um.end(1))
        if em is None:
            rest = header[m.end() if m is not None else 0 :].lstrip()
            if rest.startswith(b"PERF_RECORD_"):
                self.skipped.add("PERF_RECORD_* side-band line", self._where(lineno))
            else:
                self.skipped.add("sample header without an event name", self._where(lineno))
            return
        raw_event = em[2]
        slot = self.slots.get(raw_event)
        if slot is None:
            slot = self.slots[raw_event] = self._slot(raw_event)
        samples = slot.samples
        if samples is None:
            if slot.damon:
                slot.count += 1
                if time_ns < 0:
                    self.skipped.add("DAMON event without a time field", self._where(lineno))
                    return
                label = self.prefix_label.get(prefix)
                if label is None:
                    comm, pid, tid = self._fields(prefix, lineno)
                    label = self.prefix_label[prefix] = \
                        f"{comm} {pid if pid is not None else tid}"
                self.damon.add_event(slot.name, label, time_ns, header[em.end() :],
                                     self._where(lineno))
            else:
                self.skipped.add("PERF_RECORD_* side-band line", self._where(lineno))
            return
        slot.count += 1
        thread = self.prefix_thread.get(prefix)
        if thread is None:
            thread = self.prefix_thread[prefix] = self._thread(self._fields(prefix, lineno))
        if not self.thread_kept[thread]:
            self.filtered += 1
            return
        if stack is None:
            stack = self._stack(frames, lineno) if frames else self._empty_stack()
        if time_ns < 0:
            samples.untimed += 1
            if not samples.first_untimed:
                samples.first_untimed = self._where(lineno)
        samples.time_ns.append(time_ns)
        samples.thread.append(thread)
        samples.stack.append(stack)
        period = em[1]
        if period and len(period) > 18:
            raise InputError(f"implausible sample period {period.decode()}", self.source, lineno)
        samples.period.append(int(period) if period else 0)
        if stack != self.empty_stack:
            samples.with_callchain += 1

    def _slot(self, raw_event: bytes) -> _Slot:
        if raw_event.startswith(b"PERF_RECORD_"):
            return _Slot("", None, damon=False)
        event = self._text(raw_event)
        if event.split(":", 1)[0] in _DAMON_SYSTEMS or event.startswith(("damos_", "damon_")):
            return _Slot(event, None, damon=True)
        samples = self.events.get(event)
        if samples is None:
            samples = self.events[event] = _EventSamples()
        return _Slot(event, samples)

    def _text(self, raw: bytes) -> str:
        try:
            return raw.decode()
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "backslashreplace")
            self.non_utf8.add(text)
            return text

    def _fields(self, prefix: bytes, lineno: int) -> tuple[str, int | None, int]:
        fields = self.prefix_fields.get(prefix)
        if fields is None:
            raw_comm, pid, tid = _thread_fields(prefix)
            if not -_ID_LIMIT <= tid < _ID_LIMIT or (
                    pid is not None and not -_ID_LIMIT <= pid < _ID_LIMIT):
                raise InputError(f"implausible pid/tid {pid}/{tid} (perf's are 32-bit)",
                                 self.source, lineno)
            fields = self.prefix_fields[prefix] = (self._text(raw_comm), pid, tid)
        return fields

    def _thread(self, key: tuple[str, int | None, int]) -> int:
        index = self.thread_index.get(key)
        if index is None:
            index = self.thread_index[key] = len(self.threads)
            thread = Thread(*key)
            self.threads.append(thread)
            self.thread_kept.append(self.filter.keeps(thread))
        return index

    # -- callchains ----------------------------------------------------------------------

    def _empty_stack(self) -> int:
        return self.empty_stack

    def _stack(self, frames: list[bytes], lineno: int) -> int:
        block = b"\n".join(frames)
        stack = self.block_stack.get(block)
        if stack is not None:
            return stack
        parsed: list[tuple[_Line, bytes]] = []
        for offset, raw in enumerate(frames):
            if raw.strip() == _TRACING_DATA:
                break  # simpleperf's event payload (the header's tail in perf's own text)
            line = self.line_cache.get(raw, _MISSING)
            if line is _MISSING:
                line = self.line_cache[raw] = self._line(raw)
            if line is None:
                self.skipped.add("callchain line not understood",
                                 self._where(lineno + 1 + offset))
                continue
            if line.name is None:
                if line.marks_inlined and parsed and not parsed[-1][0].inlined:
                    above, raw_above = parsed[-1]
                    parsed[-1] = (_Line(above.name, None, above.addr, True), raw_above)
                continue
            parsed.append((line, raw))
        leaf_first: list[Frame] = []
        for k, (line, _) in enumerate(parsed):
            assert line.name is not None
            dso = line.dso
            if line.inlined:
                dso = None
                for below, _ in parsed[k + 1 :]:
                    if below.addr != line.addr:
                        break
                    if not below.inlined:
                        dso = below.dso
                        break
            leaf_first.append(Frame(line.name, dso))
        indices = root_first([self.table.frame(f) for f in leaf_first])  # interned in text order
        raw_lines = tuple(raw for _, raw in reversed(parsed))
        return self._intern(block, indices, raw_lines)

    def _intern(self, block: bytes, root_first: tuple[int, ...],
                raw_lines: tuple[bytes, ...]) -> int:
        before = len(self.table.stacks)
        stack = self.table.stack(root_first)
        if len(self.table.stacks) > before:
            assert self.table.raw_stacks is not None
            self.table.raw_stacks.append(raw_lines)
        self.block_stack[block] = stack
        return stack

    def _line(self, raw: bytes) -> _Line | None:
        m = _FRAME.match(raw)
        if m is None:
            if raw.rstrip().endswith(_INLINED):
                return _Line(None, None, b"", False, marks_inlined=True)
            if raw[:1] == b" " and raw[:2] == b"  ":
                return _Line(None, None, b"", False)  # a source line (-F +srcline)
            return None
        addr, rest = m[1], m[2] or b""
        sym, dso = split_dso(rest)
        inlined = dso == b"inlined"
        if inlined:
            dso = None
        sym = _OFFSET.sub(b"", sym)
        if dso is not None:
            dso = _OFFSET.sub(b"", dso)
        name = self._text(sym) if sym else "[unknown]"
        if not rest:  # an address alone (perf script -F ip)
            name = addr.decode("ascii")
        return _Line(name, self._text(dso) if dso else None, addr, inlined)

    # -- result --------------------------------------------------------------------------

    def result(self, event: str | None) -> PerfScriptResult:
        damon = self.damon.finish()
        chosen = self._choose_event(event)
        samples = None
        untimed = 0
        if chosen is not None:
            for other, ev in self.events.items():
                if other != chosen:
                    self.skipped.add(f"samples of other event {other}", self.source,
                                     len(ev))
            samples, untimed = self._pack(chosen, self.events[chosen])
        elif self.events and event is not None:
            names = ", ".join(self.events)
            raise InputError(f"no samples of event {event!r} (events with samples: {names})",
                             self.source)
        if self.filtered:
            self.skipped.add(FILTERED_REASON, self.source, self.filtered)
        if self.non_utf8:
            self.skipped.add(NON_UTF8_REASON, self.source, len(self.non_utf8))
        notes = list(self.damon.notes) + self.notes
        if untimed:
            notes.append(f"{self.source}: no sample has a time field: {untimed} samples are "
                         f"placed in file order, {UNTIMED_SPACING_NS} ns apart")
        counts: dict[str, int] = {}
        for slot in self.slots.values():
            if slot.name:
                counts[slot.name] = counts.get(slot.name, 0) + slot.count
        return PerfScriptResult(samples, damon, self.skipped, counts, untimed, notes)

    def _choose_event(self, wanted: str | None) -> str | None:
        if wanted is not None:
            return next((e for e in self.events if event_matches(e, wanted)), None)
        with_chains = [e for e, s in self.events.items() if s.with_callchain]
        if with_chains:
            return with_chains[0]
        return next(iter(self.events), None)

    def _pack(self, event: str, ev: _EventSamples) -> tuple[PerfSamples, int]:
        if ev.arrays:
            time_ns, thread64, stack64, period = (np.concatenate(parts) for parts in zip(
                *ev.arrays, strict=True))
            thread = thread64.astype(np.int32)
            stack = stack64.astype(np.int32)
        else:
            time_ns = np.array(ev.time_ns, dtype=np.int64)
            thread = np.array(ev.thread, dtype=np.int32)
            stack = np.array(ev.stack, dtype=np.int32)
            period = np.array(ev.period, dtype=np.int64)
        untimed = 0
        if ev.untimed == len(ev):
            untimed = ev.untimed
            time_ns = np.arange(untimed, dtype=np.int64) * UNTIMED_SPACING_NS
        elif ev.untimed:
            self.skipped.add("sample without a time field (others have one)", ev.first_untimed,
                             ev.untimed)
            keep = time_ns >= 0
            time_ns, thread, stack, period = time_ns[keep], thread[keep], stack[keep], period[keep]
        thread = self._merged_threads()[thread]
        backwards = int(np.count_nonzero(time_ns[1:] < time_ns[:-1]))
        if backwards:
            self.notes.append(f"{self.source}: time goes backwards {backwards} times from one "
                              f"{event} sample to the next; the samples are used sorted by "
                              "time (texts joined together? perf script --no-ordering?)")
        order = np.argsort(time_ns, kind="stable")
        samples = PerfSamples(
            clock=self.clock,
            event=event,
            table=self.table,
            threads=list(self.threads),
            time_ns=time_ns[order],
            thread=thread[order],
            stack=stack[order],
            period=period[order],
            period_is_ns=event.startswith(_TIME_BASED_EVENTS),
        )
        return samples, untimed


    def _merged_threads(self) -> npt.NDArray[np.int32]:
        """Thread index → index to use: a pid-less header's thread becomes the one thread
        with the same comm and tid whose headers gave the pid (a text mixing both styles)."""
        with_pid: dict[tuple[str, int], list[int]] = {}
        for i, t in enumerate(self.threads):
            if t.pid is not None:
                with_pid.setdefault((t.comm, t.tid), []).append(i)
        remap = np.arange(len(self.threads), dtype=np.int32)
        for i, t in enumerate(self.threads):
            same = with_pid.get((t.comm, t.tid), [])
            if t.pid is None and len(same) == 1:
                remap[i] = same[0]
        return remap


_MISSING: _Line | None = _Line("", None, b"", False)


def parse_perf_script(
    data: bytes | mmap.mmap,
    source: str,
    clock: ClockDomain = ClockDomain.PERF,
    event: str | None = None,
    sample_filter: SampleFilter | None = None,
    *,
    fast: bool = True,
) -> PerfScriptResult:
    """Parse a whole ``perf script`` text; samples of the first event with callchains by default.

    Text in the shape perf writes is read with array operations (:mod:`.perf_script_fast`,
    same result); ``fast=False`` reads it line by line like any other text."""
    from . import perf_script_fast

    parser = _Parser(source, clock, sample_filter or SampleFilter())
    if not fast or not perf_script_fast.parse_into(parser, data):
        parser = _Parser(source, clock, sample_filter or SampleFilter())
        parser.parse(data if isinstance(data, bytes) else bytes(data))
    return parser.result(event)
