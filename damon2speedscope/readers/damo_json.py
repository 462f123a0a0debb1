"""damo's ``json`` and ``json_compressed`` (zlib) records.

damo 3.x writes numbers as strings with thousands separators (``"4,294,967,296"``), times as
strings of nanoseconds, ``nr_accesses`` as ``{"samples", "percent"}``, ``age`` as
``{"usec", "aggr_intervals"}`` and ``intervals`` possibly null; older versions wrote plain
numbers. Times above 10^17 ns can only be epoch times: those records are on the wall clock.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson

from ..clock import ClockDomain
from ..errors import InputError
from ..model import DamonRecord, DamonTarget
from .damon_events import build_record

WALL_CLOCK_MIN_NS = 10**17  # ~3 years of uptime; epoch ns are ~1.7e18


def is_zlib(data: bytes) -> bool:
    return len(data) >= 2 and data[0] == 0x78 and (data[0] * 256 + data[1]) % 31 == 0


def decompress_zlib(data: bytes, source: str) -> bytes:
    try:
        return zlib.decompress(data)
    except zlib.error as exc:
        raise InputError(f"corrupt or truncated zlib data (json_compressed): {exc}", source,
                         offset=0) from None


def number(value: Any, what: str, source: str) -> int:
    """A damo number: int, or a string possibly with thousands separators."""
    if isinstance(value, bool):
        raise InputError(f"{what}: expected a number, got {value!r}", source)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.replace(",", "").strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            whole, _, frac = text.partition(".")
            if whole.lstrip("-").isdigit() and (not frac or frac.isdigit()):
                return int(whole)
        except ValueError:
            pass
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise InputError(f"{what}: expected a number, got {value!r}", source)


def _accesses(value: Any, source: str) -> int:
    if isinstance(value, dict):
        if "samples" in value and value["samples"] is not None:
            return number(value["samples"], "nr_accesses.samples", source)
        raise InputError(f"nr_accesses without samples: {value!r}", source)
    return number(value, "nr_accesses", source)


def _age(value: Any, source: str) -> int:
    if value is None:
        return -1
    if isinstance(value, dict):
        aggr = value.get("aggr_intervals")
        return -1 if aggr is None else number(aggr, "age.aggr_intervals", source)
    if isinstance(value, str) and not value.replace(",", "").strip().isdigit():
        return -1
    return number(value, "age", source)


def _intervals(record: dict[str, Any], source: str) -> tuple[int | None, int | None]:
    intervals = record.get("intervals")
    if not isinstance(intervals, dict):
        return None, None
    sample = intervals.get("sample_us")
    aggr = intervals.get("aggr_us")
    return (
        None if sample is None else number(sample, "intervals.sample_us", source) * 1000,
        None if aggr is None else number(aggr, "intervals.aggr_us", source) * 1000,
    )


def parse_damo_json(data: bytes, source: str, clock: ClockDomain | None = None) -> DamonRecord:
    """Parse damo's json record; the clock is PERF unless the times are epoch (WALL)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", source) from None
    if isinstance(doc, dict) and "records" in doc:
        doc = doc["records"]
    if not isinstance(doc, list):
        raise InputError("damo JSON record: expected a list of records", source)
    targets: list[DamonTarget] = []
    snap_target: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    regions: list[list[tuple[int, int, int, int]]] = []
    sample_ns: int | None = None
    aggr_ns: int | None = None
    for index, record in enumerate(doc):
        if not isinstance(record, dict) or not isinstance(record.get("snapshots"), list):
            raise InputError(f"damo JSON record {index}: expected an object with 'snapshots'",
                             source)
        kdamond = record.get("kdamond_idx")
        context = record.get("context_idx")
        target_id = record.get("target_id")
        target = DamonTarget(
            f"kdamond.{kdamond if kdamond is not None else 0}",
            number(context, "context_idx", source) if context is not None else 0,
            number(target_id, "target_id", source) if target_id is not None else index,
        )
        targets.append(target)
        sample_ns, aggr_ns = _intervals(record, source)
        for snap in record["snapshots"]:
            if not isinstance(snap, dict) or not isinstance(snap.get("regions"), list):
                raise InputError(f"damo JSON record {index}: snapshot without 'regions'", source)
            try:
                snap_regions = [
                    (
                        number(r["start"], "region start", source),
                        number(r["end"], "region end", source),
                        _accesses(r["nr_accesses"], source),
                        _age(r.get("age"), source),
                    )
                    for r in snap["regions"]
                ]
                start_ns = number(snap["start_time"], "start_time", source)
                end_ns = number(snap["end_time"], "end_time", source)
            except (KeyError, TypeError) as exc:
                raise InputError(
                    f"damo JSON record {index}: snapshot or region lacks {exc}", source
                ) from None
            if any(end < start for start, end, _, _ in snap_regions):
                raise InputError(f"damo JSON record {index}: region ends before it starts",
                                 source)
            snap_target.append(len(targets) - 1)
            starts.append(start_ns)
            ends.append(end_ns)
            regions.append(snap_regions)
    if not ends:
        raise InputError("damo JSON record holds no snapshot", source)
    if clock is None:
        clock = ClockDomain.WALL if min(ends) >= WALL_CLOCK_MIN_NS else ClockDomain.PERF
    return build_record(clock, targets, snap_target, starts, ends, regions, sample_ns, aggr_ns)
