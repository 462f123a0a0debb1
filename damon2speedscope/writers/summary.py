"""The ``--summary`` JSON: what was found, on which clock, and what was skipped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis.align import Alignment
from ..analysis.attribution import BurstAttribution, FunctionScore
from ..analysis.bursts import Burst
from ..analysis.wss import IntervalSeries
from ..model import PerfSamples, SkipCounter

if TYPE_CHECKING:
    from ..readers import LoadedInput
    from .speedscope import Timeline


def _scores(scores: list[FunctionScore]) -> list[dict[str, Any]]:
    return [{"name": f.name, "share": f.share, "lift": f.lift, "samples": f.samples}
            for f in scores]


def build_summary(
    series: IntervalSeries | None,
    bursts: list[Burst],
    attribution: list[BurstAttribution],
    samples: PerfSamples | None,
    timeline: Timeline,
    alignment: Alignment | None,
    skipped: SkipCounter,
    clock: str,
    inputs: list[dict[str, Any]],
) -> dict[str, Any]:
    """The ``--summary`` document; ``inputs`` as :func:`describe_input` gives them."""
    snapshots: list[dict[str, Any]] = []
    if series is not None:
        for k in range(len(series)):
            snapshots.append({"start_ns": int(series.start_ns[k]), "end_ns": int(series.end_ns[k]),
                              "wss_bytes": int(series.wss[k]),
                              "access_bytes": int(series.access[k])})
    by_number = {a.burst.number: a for a in attribution}
    threads: list[dict[str, Any]] = []
    if samples is not None and len(samples):
        counts = np.bincount(samples.thread, minlength=len(samples.threads))
        for t, thread in enumerate(samples.threads):
            if counts[t] == 0:
                continue
            row: dict[str, Any] = {"comm": thread.comm}
            if thread.pid is not None:
                row["pid"] = thread.pid
            row["tid"] = thread.tid
            row["samples"] = int(counts[t])
            threads.append(row)
    summary: dict[str, Any] = {
        "inputs": inputs,
        "clock": clock,
        "start_ns": timeline.start_ns,
        "end_ns": timeline.end_ns,
        "snapshots": snapshots,
        "bursts": [_burst(b, by_number.get(b.number)) for b in bursts],
        "threads": threads,
        "skipped": dict(sorted(skipped.counts.items())),
    }
    if samples is not None:
        summary["event"] = samples.event
        summary["samples"] = len(samples)
    if alignment is not None:
        summary["alignment"] = {
            "method": alignment.mapping.method,
            "damon_clock": alignment.mapping.source.value,
            "perf_clock": alignment.mapping.target.value,
            "offset_ns": alignment.mapping.offset_ns,
            "uncertainty_ns": alignment.mapping.uncertainty_ns,
            "damon_span_ns": [alignment.damon_span.start_ns, alignment.damon_span.end_ns],
            "perf_span_ns": [alignment.perf_span.start_ns, alignment.perf_span.end_ns],
            "overlap_ns": alignment.overlap_ns,
        }
    return summary


def _burst(b: Burst, a: BurstAttribution | None) -> dict[str, Any]:
    row: dict[str, Any] = {"number": b.number, "start_ns": b.start_ns, "end_ns": b.end_ns,
                           "peak_wss_bytes": b.peak_wss}
    if a is not None:
        row["samples"] = a.samples
        row["top_functions"] = _scores(a.inclusive)
        row["top_leaf_functions"] = _scores(a.leaf)
    return row


def describe_input(li: LoadedInput) -> dict[str, Any]:
    """One input's row of the summary: its name, format, compression, events and clock."""
    row: dict[str, Any] = {"source": li.source, "format": li.kind.value}
    if li.compression:
        row["compression"] = li.compression
    if li.events:
        row["events"] = dict(sorted(li.events.items()))
    if li.header is not None:
        row["clock"] = li.header.clock_name
    return row
