"""``trace-cmd report`` text of DAMON tracepoints (what ``damo record --tracer trace-cmd``
records and damo converts).

A trace-cmd line joins comm and pid with ``-`` and may have a latency-flags column (trace-cmd
3.2 and some distributions omit it)::

    kdamond.0-1234  [000] .....  5000.100000: damon_aggregated: target_id=0 nr_regions=3 ...
    kdamond.0-1234  [000] 5000.100000: damon:damon_aggregated: target_id=0 nr_regions=3 ...

The event name comes with or without its ``damon:`` system. Every DAMON event goes to
:class:`~damon2speedscope.readers.damon_events.SnapshotAssembler`, which counts
``damos_before_apply`` and ``damon_monitor_intervals_tune`` lines and builds the snapshots.
trace-cmd's header lines (``cpus=2``, ``version = 6``, ``CPU 1 is empty``) are ignored; every
other line that is not an event, and events of other tracepoints, are counted as skipped, and
``CPU:N [LOST M EVENTS]`` counts the M lost events. A ``<...>-PID`` thread (trace-cmd had not
recorded the comm yet) is the ``kdamond.N`` that the same pid is called elsewhere in the trace.

Clock: trace-cmd's default trace clock is ``local``, the clock perf uses too
(:attr:`ClockDomain.PERF`); a trace recorded with ``trace-cmd record -C mono`` needs ``--clock
mono``. (Counter clocks like ``x86-tsc`` print cycles, not seconds: not supported.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..clock import ClockDomain
from ..model import DamonRecord, SkipCounter
from ..units import parse_time_field_ns
from .damon_events import SnapshotAssembler

TRACE_CMD_LINE = re.compile(
    rb"^\s*(?P<comm>.*?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
    rb"(?:(?P<flags>[.dXN][^\s]*)\s+)?(?P<secs>\d+)\.(?P<frac>\d+):\s+"
    rb"(?P<event>[A-Za-z_][\w]*(?::[A-Za-z_][\w]*)?):(?:\s+|$)(?P<payload>.*)$"
)
"""One trace-cmd report event line; detection uses it to tell trace-cmd from perf script."""
_KDAMOND_PID = re.compile(rb"^\s*(kdamond\.\d+)-(\d+)\s+\[", re.M)
_HEADER_LINE = re.compile(rb"^\s*(?:cpus=\d+|version = \d+|CPU \d+ is empty)\s*$")
_LOST = re.compile(rb"\[LOST (\d{1,18}) EVENTS\]")


@dataclass
class TraceCmdResult:
    damon: DamonRecord | None
    skipped: SkipCounter
    events: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def parse_trace_cmd(
    data: bytes, source: str, clock: ClockDomain = ClockDomain.PERF
) -> TraceCmdResult:
    """Parse a whole ``trace-cmd report`` text."""
    skipped = SkipCounter()
    assembler = SnapshotAssembler(clock, source, skipped)
    other: dict[str, int] = {}
    # trace-cmd prints "<...>" for a comm it has not recorded; the pid names the kdamond then
    comms = {m[2]: m[1] for m in _KDAMOND_PID.finditer(data)}
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        m = TRACE_CMD_LINE.match(line)
        where = f"{source}:{lineno}"
        if m is None:
            lost = _LOST.search(line)
            if lost is not None:
                skipped.add("events lost by trace-cmd ([LOST N EVENTS])", where, int(lost[1]))
            elif not _HEADER_LINE.match(line):
                skipped.add("trace-cmd line not understood", where)
            continue
        event = m["event"].decode("ascii")
        kind = event.rsplit(":", 1)[-1]
        if not (kind.startswith(("damon_", "damos_")) or event.startswith("damon:")):
            other[event] = other.get(event, 0) + 1
            skipped.add(f"trace-cmd event {event} (not a DAMON event)", where)
            continue
        comm = m["comm"].strip()
        if comm == b"<...>":
            comm = comms.get(m["pid"], comm)
        thread = f"{comm.decode('utf-8', 'replace')} {int(m['pid'])}"
        assembler.add_event(event, thread, parse_time_field_ns(m["secs"], m["frac"]),
                            m["payload"], where)
    record = assembler.finish()
    events = dict(assembler.events)
    events.update(other)
    return TraceCmdResult(record, skipped, events, assembler.notes)


def looks_like_trace_cmd(head: bytes, max_lines: int = 200) -> bool:
    """Most event-looking lines among the first ``max_lines`` are trace-cmd's ``comm-pid [cpu]``.

    perf script puts whitespace between comm and pid (``kdamond.0  4452 [000]``), so its lines
    never match :data:`TRACE_CMD_LINE`; trace-cmd's never have a separate pid column.
    """
    trace_cmd = 0
    events = 0
    for line in head.split(b"\n")[:max_lines]:
        if b": " not in line and not line.rstrip().endswith(b":"):
            continue
        if re.search(rb"\s\d+\.\d+:\s", line) is None:
            continue
        events += 1
        if TRACE_CMD_LINE.match(line):
            trace_cmd += 1
    return trace_cmd > 0 and trace_cmd * 2 > events
