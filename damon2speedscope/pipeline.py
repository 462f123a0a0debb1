"""The library's front door: loaded inputs → aligned model → analysis → documents.

``convert`` takes already-read inputs (bytes with their names), so it can run on streams and
in tests without touching the file system; :mod:`cli` does all the opening and writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .analysis.align import Alignment, Span, align, choose_mapping
from .analysis.attribution import BurstAttribution, attribute
from .analysis.bursts import Burst, BurstParams, find_bursts
from .analysis.wss import IntervalSeries, interval_series
from .errors import InputError, SkipLimitError, UsageError
from .model import DamonRecord, PerfSamples, SkipCounter
from .readers import LoadedInput, ReadOptions, load_input
from .writers.speedscope import Timeline, ViewOptions, build_document, sample_span
from .writers.summary import build_summary


@dataclass(frozen=True)
class InputBytes:
    """One input as the CLI read it: its name for messages, bytes, and path if it has one."""

    source: str
    data: bytes
    path: str | None = None


@dataclass(frozen=True)
class ConvertOptions:
    read: ReadOptions = field(default_factory=ReadOptions)
    bursts: BurstParams = field(default_factory=BurstParams)
    damon_offset_ns: int = 0
    strict: bool = False
    name: str | None = None
    views: ViewOptions = field(default_factory=ViewOptions)
    top_functions: int = 5


@dataclass
class Conversion:
    """Everything one conversion produced; ``document`` is the speedscope file's content."""

    document: dict[str, Any]
    summary: dict[str, Any]
    warnings: list[str]
    skipped: SkipCounter
    damon: DamonRecord | None
    samples: PerfSamples | None
    series: IntervalSeries | None
    bursts: list[Burst]
    alignment: Alignment | None
    attribution: list[BurstAttribution] = field(default_factory=list)


def _pick(loaded: list[LoadedInput]) -> tuple[LoadedInput | None, LoadedInput | None]:
    damon_inputs = [li for li in loaded if li.damon is not None]
    perf_inputs = [li for li in loaded if li.samples is not None and len(li.samples)]
    if len(damon_inputs) > 1:
        names = ", ".join(li.source for li in damon_inputs)
        raise UsageError(f"more than one input holds a DAMON record ({names}); give one")
    if len(perf_inputs) > 1:
        names = ", ".join(li.source for li in perf_inputs)
        raise UsageError(f"more than one input holds perf callchain samples ({names}); give one")
    if not damon_inputs and not perf_inputs:
        for li in loaded:
            raise InputError("holds neither DAMON snapshots nor perf samples", li.source)
        raise UsageError("no input given")
    return (damon_inputs[0] if damon_inputs else None, perf_inputs[0] if perf_inputs else None)


def convert(inputs: list[InputBytes], options: ConvertOptions | None = None) -> Conversion:
    options = options or ConvertOptions()
    loaded = [load_input(i.data, i.source, i.path, options.read) for i in inputs]
    skipped = SkipCounter()
    warnings: list[str] = []
    for li in loaded:
        skipped.merge(li.skipped)
        warnings.extend(li.warnings)
    damon_in, perf_in = _pick(loaded)
    record = damon_in.damon if damon_in is not None else None
    samples = perf_in.samples if perf_in is not None else None
    alignment: Alignment | None = None
    if record is not None and samples is not None and len(samples):
        reference = None
        header = perf_in.header if perf_in is not None else None
        if header is not None and header.reference_wall_ns is not None \
                and header.reference_clock_ns is not None:
            reference = (header.reference_wall_ns, header.reference_clock_ns)
        mapping = choose_mapping(record.clock, samples.clock, options.damon_offset_ns, reference)
        first, last = sample_span(samples)
        record, alignment = align(record, mapping, Span(first, last))
        warnings.extend(alignment.warnings)
    elif record is not None and options.damon_offset_ns:
        record = record.shifted(options.damon_offset_ns, record.clock)
    series = interval_series(record) if record is not None and len(record) else None
    bursts = find_bursts(series, options.bursts) if series is not None else []
    starts: list[int] = []
    ends: list[int] = []
    if series is not None:
        starts.append(int(series.start_ns.min()))
        ends.append(int(series.end_ns.max()))
    if samples is not None and len(samples):
        first, last = sample_span(samples)
        starts.append(first)
        ends.append(last)
    timeline = Timeline(series, bursts, min(starts), max(ends), record)
    if skipped:
        total = sum(skipped.counts.values())
        detail = "; ".join(f"{n} {reason} (first at {skipped.first_at[reason]})"
                           for reason, n in sorted(skipped.counts.items()))
        if options.strict:
            raise SkipLimitError(f"--strict: skipped {total}: {detail}")
        warnings.append(f"skipped {total}: {detail}")
    name = options.name or " + ".join(i.source for i in inputs)
    document = build_document(name, f"damon2speedscope@{__version__}", samples, timeline,
                              options.views)
    attribution = attribute(samples, bursts, options.top_functions) if (
        samples is not None and len(samples) and bursts) else []
    summary = build_summary(series, bursts, attribution, samples, timeline, alignment, skipped,
                            record.clock.value if record is not None else
                            (samples.clock.value if samples is not None else "none"),
                            loaded)
    return Conversion(document, summary, warnings, skipped, record, samples, series, bursts,
                      alignment, attribution)

