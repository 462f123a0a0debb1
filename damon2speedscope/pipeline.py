"""The library's front door: loaded inputs → aligned model → analysis → documents.

``convert`` takes already-read inputs (bytes with their names), so it can run on streams and
in tests without touching the file system; :mod:`cli` does all the opening and writing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from . import __version__
from .analysis.align import Alignment, Span, align, choose_mapping
from .analysis.attribution import BurstAttribution, attribute
from .analysis.bursts import Burst, BurstParams, find_bursts
from .analysis.wss import IntervalSeries, interval_series
from .errors import ClockError, InputError, SkipLimitError, UsageError
from .model import DamonRecord, PerfSamples, SkipCounter
from .readers import Buffer, LoadedInput, ReadOptions, load_inputs
from .readers.perf_script import FILTERED_REASON
from .writers.speedscope import (
    DocumentWriter,
    Timeline,
    ViewOptions,
    document_writer,
    sample_span,
)
from .writers.summary import build_summary, describe_input


@dataclass(frozen=True)
class InputBytes:
    """One input as the CLI read it: its name for messages, bytes, and path if it has one."""

    source: str
    data: Buffer
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


STAGES = ("read", "align", "analyse", "write")
"""The stages :func:`convert` times (``timings``): reading and parsing the inputs, putting
DAMON on the perf clock, WSS/bursts/attribution/summary, and producing the speedscope file."""


@contextmanager
def _stage(timings: dict[str, float] | None, name: str) -> Iterator[None]:
    if timings is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


@dataclass
class Conversion:
    """Everything one conversion produced; ``document`` is the speedscope file's content.

    The document is produced when first asked for: ``document`` builds it as Python data,
    :meth:`write_document` writes the same bytes as ``orjson.dumps(document)`` without ever
    holding the document (memory bounded by the model, not by the output's size). The burst
    attribution and the summary are computed when first asked for too: writing the file alone
    does not pay for them.
    """

    warnings: list[str]
    skipped: SkipCounter
    damon: DamonRecord | None
    samples: PerfSamples | None
    series: IntervalSeries | None
    bursts: list[Burst]
    alignment: Alignment | None
    timeline: Timeline | None = None
    timings: dict[str, float] | None = None
    """Seconds per stage (:data:`STAGES`) when :func:`convert` was asked to time them."""
    writer: DocumentWriter | None = field(default=None, repr=False)
    top_functions: int = ConvertOptions.top_functions
    inputs: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """The summary's description of each input (:func:`describe_input`)."""
    _document: dict[str, Any] | None = field(default=None, repr=False)
    _attribution: list[BurstAttribution] | None = field(default=None, repr=False)
    _summary: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def attribution(self) -> list[BurstAttribution]:
        """Per burst, the functions that go with it (:func:`attribute`)."""
        if self._attribution is None:
            samples = self.samples
            self._attribution = attribute(samples, self.bursts, self.top_functions) if (
                samples is not None and len(samples) and self.bursts) else []
        return self._attribution

    @property
    def summary(self) -> dict[str, Any]:
        """The ``--summary`` document: WSS, bursts with their functions, alignment, skips."""
        if self._summary is None:
            assert self.timeline is not None, "convert() always sets the timeline"
            clock = (self.damon.clock.value if self.damon is not None else
                     self.samples.clock.value if self.samples is not None else "none")
            self._summary = build_summary(self.series, self.bursts, self.attribution,
                                          self.samples, self.timeline, self.alignment,
                                          self.skipped, clock, self.inputs)
        return self._summary

    @property
    def document(self) -> dict[str, Any]:
        if self._document is None:
            assert self.writer is not None
            with _stage(self.timings, "write"):
                self._document = self.writer.to_dict()
        return self._document

    def document_json(self) -> Iterator[bytes]:
        """The bytes of ``orjson.dumps(document)``, piece by piece."""
        assert self.writer is not None
        return self.writer.json()

    def write_document(self, out: IO[bytes]) -> int:
        """Write the speedscope file to ``out``; returns its size in bytes."""
        size = 0
        with _stage(self.timings, "write"):
            for part in self.document_json():
                out.write(part)
                size += len(part)
        return size


def _pick(loaded: list[LoadedInput]) -> tuple[LoadedInput | None, LoadedInput | None]:
    damon_inputs = [li for li in loaded if li.damon is not None]
    perf_inputs = [li for li in loaded if li.samples is not None and len(li.samples)]
    if len(damon_inputs) > 1:
        names = ", ".join(li.source for li in damon_inputs)
        raise UsageError(f"more than one input holds a DAMON record ({names}); give one")
    if len(perf_inputs) > 1:
        names = ", ".join(li.source for li in perf_inputs)
        raise UsageError(f"more than one input holds perf callchain samples ({names}); give one")
    for li in loaded:
        if li.damon is None and (li.samples is None or not len(li.samples)):
            raise InputError(_nothing_usable(li), li.source)
    if not damon_inputs and not perf_inputs:
        raise UsageError("no input given")
    return (damon_inputs[0] if damon_inputs else None, perf_inputs[0] if perf_inputs else None)


def _nothing_usable(li: LoadedInput) -> str:
    """Why an input gave nothing to convert: it is an error, never an input silently unused."""
    reason = f"holds neither DAMON snapshots nor perf samples (read as {li.kind.value})"
    filtered = li.skipped.counts.get(FILTERED_REASON)
    if filtered:
        reason = f"no perf sample is left after --pid/--tid/--comm ({filtered} filtered out)"
    elif li.skipped:
        top = sorted(li.skipped.counts.items(), key=lambda kv: -kv[1])[:3]
        reason += "; skipped " + "; ".join(f"{n} {what} (first at {li.skipped.first_at[what]})"
                                           for what, n in top)
    return reason


def convert(inputs: list[InputBytes], options: ConvertOptions | None = None,
            timings: dict[str, float] | None = None) -> Conversion:
    """Read, align and analyse ``inputs``; ``timings`` (if given) receives seconds per stage."""
    options = options or ConvertOptions()
    with _stage(timings, "read"):
        loaded = load_inputs([(i.data, i.source, i.path) for i in inputs], options.read)
    with _stage(timings, "align"):
        record, samples, span, alignment, warnings, skipped = _align(loaded, options)
    with _stage(timings, "analyse"):
        return _analyse(inputs, options, loaded, record, samples, span, alignment, warnings,
                        skipped, timings)


def _align(loaded: list[LoadedInput], options: ConvertOptions) -> tuple[
        DamonRecord | None, PerfSamples | None, Span | None, Alignment | None, list[str],
        SkipCounter]:
    """The DAMON record on the samples' clock; ``span`` is the samples' (None without any)."""
    skipped = SkipCounter()
    warnings: list[str] = []
    for li in loaded:
        skipped.merge(li.skipped)
        warnings.extend(li.warnings)
    damon_in, perf_in = _pick(loaded)
    record = damon_in.damon if damon_in is not None else None
    samples = perf_in.samples if perf_in is not None else None
    span = Span(*sample_span(samples)) if samples is not None and len(samples) else None
    alignment: Alignment | None = None
    if record is not None and samples is not None and span is not None:
        reference = None
        header = perf_in.header if perf_in is not None else None
        if header is not None and header.reference_wall_ns is not None \
                and header.reference_clock_ns is not None:
            reference = (header.reference_wall_ns, header.reference_clock_ns)
        try:
            mapping = choose_mapping(record.clock, samples.clock, options.damon_offset_ns,
                                     reference)
            record, alignment = align(record, mapping, span)
        except ClockError as exc:
            perf_source = perf_in.source if perf_in is not None else "?"
            raise ClockError(f"{damon_in.source if damon_in is not None else '?'}: {exc} "
                             f"(perf samples: {perf_source})") from None
        warnings.extend(alignment.warnings)
    elif record is not None and options.damon_offset_ns:
        record = record.shifted(options.damon_offset_ns, record.clock)
    if samples is not None and perf_in is not None:
        unresolved = _unresolved_leaves(samples, perf_in.source)
        if unresolved:
            warnings.append(unresolved)
    return record, samples, span, alignment, warnings, skipped


UNRESOLVED_SHARE = 0.5
"""Share of samples ending in ``[unknown]`` that is worth a warning: a burst attributed to
``[unknown]`` tells the user nothing, and the usual cause (symbols missing) has a fix."""


def _unresolved_leaves(samples: PerfSamples, source: str) -> str | None:
    """A warning when most samples end in a function perf could not name."""
    table = samples.table
    if not len(samples) or not table.stacks:
        return None
    unknown_frames = {i for i, f in enumerate(table.frames) if f.name == "[unknown]"}
    leaf_unknown = np.array([bool(s) and s[-1] in unknown_frames for s in table.stacks],
                            dtype=bool)
    hits = leaf_unknown[samples.stack]
    share = float(hits.mean())
    if share < UNRESOLVED_SHARE:
        return None
    per_stack = np.bincount(samples.stack[hits], minlength=len(table.stacks))
    by_file: Counter[str] = Counter()
    for stack in np.flatnonzero(per_stack).tolist():
        by_file[table.frames[table.stacks[stack][-1]].file or "?"] += int(per_stack[stack])
    top = ", ".join(name for name, _ in by_file.most_common(3))
    return (f"{source}: {share:.0%} of the samples end in an [unknown] function (in {top}): "
            "perf had no symbols for them; convert where the program was recorded, or give "
            "its perf archive (--buildid-dir)")


def _analyse(inputs: list[InputBytes], options: ConvertOptions, loaded: list[LoadedInput],
             record: DamonRecord | None, samples: PerfSamples | None, span: Span | None,
             alignment: Alignment | None, warnings: list[str], skipped: SkipCounter,
             timings: dict[str, float] | None) -> Conversion:
    series = interval_series(record) if record is not None and len(record) else None
    bursts = find_bursts(series, options.bursts) if series is not None else []
    starts: list[int] = []
    ends: list[int] = []
    if series is not None:
        starts.append(int(series.start_ns.min()))
        ends.append(int(series.end_ns.max()))
    if span is not None:
        starts.append(span.start_ns)
        ends.append(span.end_ns)
    timeline = Timeline(series, bursts, min(starts), max(ends), record)
    if skipped:
        total = sum(skipped.counts.values())
        detail = "; ".join(f"{n} {reason} (first at {skipped.first_at[reason]})"
                           for reason, n in sorted(skipped.counts.items()))
        if options.strict:
            where = skipped.first_at[min(skipped.counts)]
            raise SkipLimitError(f"--strict: skipped {total}: {detail}", where)
        warnings.append(f"skipped {total}: {detail}")
    name = options.name or " + ".join(i.source for i in inputs)
    with _stage(timings, "write"):
        writer = document_writer(name, f"damon2speedscope@{__version__}", samples, timeline,
                                 options.views)
    return Conversion(warnings, skipped, record, samples, series, bursts, alignment, timeline,
                      timings, writer, options.top_functions,
                      [describe_input(li) for li in loaded])

