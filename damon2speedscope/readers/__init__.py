"""Readers: bytes of any supported recording → model objects.

:func:`load_input` detects the format from the bytes and returns whatever the input held:
DAMON snapshots, perf callchain samples, or both (a combined perf.data).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..clock import ClockDomain
from ..model import DamonRecord, PerfSamples, SkipCounter
from .damo_json import decompress_zlib, parse_damo_json
from .detect import InputKind, detect
from .perf_data import PerfDataHeader, read_header, run_perf_script
from .perf_script import SampleFilter, parse_perf_script

__all__ = ["InputKind", "LoadedInput", "ReadOptions", "SampleFilter", "detect", "load_input"]


@dataclass(frozen=True)
class ReadOptions:
    """How to read inputs: event choice, thread filter, declared clock, perf to run."""

    event: str | None = None
    sample_filter: SampleFilter = field(default_factory=SampleFilter)
    clock: ClockDomain | None = None
    perf: str | None = None
    buildid_dir: str | None = None


@dataclass
class LoadedInput:
    source: str
    kind: InputKind
    damon: DamonRecord | None
    samples: PerfSamples | None
    skipped: SkipCounter
    warnings: list[str] = field(default_factory=list)
    header: PerfDataHeader | None = None
    clock_declared: bool = False


def load_input(
    data: bytes, source: str, path: str | None = None, options: ReadOptions | None = None
) -> LoadedInput:
    """Read one input. ``path`` lets perf.data go to ``perf`` without a temporary copy."""
    options = options or ReadOptions()
    kind = detect(data, source)
    if kind is InputKind.DAMO_JSON_COMPRESSED:
        record = parse_damo_json(decompress_zlib(data, source), source, options.clock)
        return LoadedInput(source, kind, record, None, SkipCounter(),
                           clock_declared=options.clock is not None)
    if kind is InputKind.DAMO_JSON:
        record = parse_damo_json(data, source, options.clock)
        return LoadedInput(source, kind, record, None, SkipCounter(),
                           clock_declared=options.clock is not None)
    if kind is InputKind.PERF_DATA:
        return _load_perf_data(data, source, path, options)
    clock = options.clock or ClockDomain.PERF
    result = parse_perf_script(data, source, clock, options.event, options.sample_filter)
    return LoadedInput(source, kind, result.damon, result.samples, result.skipped,
                       clock_declared=options.clock is not None)


def _load_perf_data(
    data: bytes, source: str, path: str | None, options: ReadOptions
) -> LoadedInput:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="damon2speedscope-") as tmp:
        if path is None:
            path = str(Path(tmp) / "input.perf.data")
            Path(path).write_bytes(data)
        header = read_header(path, source, options.perf)
        output = run_perf_script(path, source, header, options.perf, options.buildid_dir)
    clock = options.clock or header.clock
    result = parse_perf_script(output.text, source, clock, options.event, options.sample_filter)
    warnings = [f"{source}: perf: {w}" for w in output.warnings]
    return LoadedInput(source, InputKind.PERF_DATA, result.damon, result.samples,
                       result.skipped, warnings, header, options.clock is not None)
