"""damo's ``json`` and ``json_compressed`` records, every version (v1.8.2 → 3.4.3), streamed.

Shapes read (every one seen in a damo release's writer, plus the ones its reader accepts):

* the document is a list of records, or the ``{"damo_record_ver": 1, "damo_records":
  {"damon_records": {"kdamonds": [...], "record_list": [records]}}}`` wrapper (damo 3.4.3's
  reader misspells the key and cannot read it; we can), or ``{"records": [...]}``, or a
  single record object;
* a record: ``kdamond_idx``/``context_idx``/``scheme_idx`` (absent or null in old versions:
  0 as damo assumes), ``target_id`` (an int of any size, a string, or null: -1 here, "no
  target id", as tried-regions snapshots write), ``intervals`` (null, or ``sample_us``/
  ``aggr_us`` as numbers, digit strings or human text like ``"5 ms"``), ``data_source``
  (``"damon_stat"`` names the kdamond ``damon_stat``), ``snapshots``;
* numbers as ints or strings with thousands separators (``"93,824,992,231,424"``), sizes
  with units (``"4 KiB"``), times as nanosecond strings or human text (``"2 s 500 ms"``);
* ``nr_accesses`` as ``{"samples", "percent"}`` (percent-only is converted with the
  record's intervals, ``int(percent × aggr/sample / 100)`` like damo) or a plain number;
* ``age`` as ``{"usec", "aggr_intervals"}`` (usec-only is converted to aggregation intervals,
  truncated toward zero like damo; -1 without intervals), a plain number, or null (-1);
* a snapshot's ``sample_interval_us``: damo writes it with its microsecond formatter in
  machine mode, which prints NANOSECONDS (a bug: damo 3.4.3 reads back 1000× the value). So a
  plain number is taken as microseconds only when that is closer (by ratio) to the record's
  ``intervals.sample_us`` than nanoseconds are; without intervals it is nanoseconds, what
  every damo writer of the field printed. Human text (``"5 ms"``) is exact. The record's
  sample interval is ``intervals.sample_us`` when present, else the snapshots' value.

Records of the same (kdamond, context, target) are one target (``damo record --snapshot``
writes one record per snapshot). Records with a ``scheme_idx`` hold the regions a DAMOS scheme
tried, not a whole snapshot: they are used only for targets that have no record without one,
and for one scheme per target (the others are counted as skipped). damo's fake ``0-0: -1 -1``
snapshot, if a converted file kept it, is dropped as in the text formats.

Times and clock: snapshots carry ``start_time`` and ``end_time`` (nanoseconds). A missing
start is the previous end of the same target, or for snapshot records end minus the
aggregation interval. Times of at least 10^17 ns can only be epoch times: such records
(``damo record --snapshot``, DAMON_STAT) are on :attr:`ClockDomain.WALL`; the others come from
tracepoints (:attr:`ClockDomain.PERF`) unless the caller declares the clock.

Memory: the text is never decoded whole. A window of it (:data:`WINDOW` characters, grown only
while one value does not fit) is parsed value by value with the standard library's C JSON
scanner, and each snapshot is turned into flat integer arrays and dropped before the next is
read. A json_compressed input is inflated in pieces into that window, so neither the whole
inflated text nor a whole decoded document ever exists.
"""

from __future__ import annotations

import array
import codecs
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ..clock import ClockDomain
from ..errors import FormatError, InputError
from ..model import TIME_LIMIT_NS, DamonRecord, DamonTarget, SkipCounter
from .compression import ZLIB, is_zlib, iter_decompress
from .damon_events import NOT_LATER_REASON, pack_record, snapshot_starts

WALL_CLOCK_MIN_NS = 10**17  # ~3 years of uptime; epoch ns are ~1.7e18
WINDOW = 1 << 20
"""Characters of JSON text decoded ahead of the parser (the window doubles for a larger value)."""

_INT32_MAX = (1 << 31) - 1
_UINT64_MAX = (1 << 64) - 1
_MISSING = -(1 << 63)

_TIME_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
                  "m": 60_000_000_000, "min": 60_000_000_000, "h": 3_600_000_000_000,
                  "d": 86_400_000_000_000}
_TIME_TERM = re.compile(r"\s*([+-]?[\d,]*\.?\d+(?:[eE][+-]?\d+)?)\s*(ns|us|µs|ms|min|s|m|h|d)"
                        r"(?![A-Za-z])")
_SIZE_UNITS = {"B": 1}
for _i, _p in enumerate("KMGTPE", start=1):
    for _suffix in (_p, _p + "B", _p + "iB"):
        _SIZE_UNITS[_suffix] = 1 << (10 * _i)
_SIZE = re.compile(r"^\s*([+-]?[\d,]*\.?\d+)\s*([KMGTPE]?i?B|[KMGTPE])\s*$")
_WS = re.compile(r"[ \t\n\r]*")


def is_zlib_json(data: bytes) -> bool:
    """zlib-compressed, as damo's json_compressed is (detection looks at the inflated start)."""
    return is_zlib(data)


def decompress_zlib(data: bytes, source: str) -> bytes:
    """The whole inflated json_compressed text (bounded like every decompression)."""
    return b"".join(iter_decompress(data, ZLIB, source))


# ---------------------------------------------------------------------------------------------
# damo's number, size and time texts


def _bad(what: str, value: Any, source: str, offset: int | None = None) -> InputError:
    return InputError(f"{what}: expected a number, got {value!r}", source, offset=offset)


_DECIMAL_MAX_EXPONENT = 40
"""Decimal texts beyond 10^40 are refused as numbers (``"1e999999999"`` would take minutes to
turn into an int, and no damo value comes near)."""


def _decimal(text: str) -> Decimal | None:
    """A finite decimal of at most 10^40 in magnitude, else None."""
    try:
        dec = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    if not dec.is_finite() or (dec and dec.adjusted() > _DECIMAL_MAX_EXPONENT):
        return None
    return dec


def _plain_int(value: Any) -> int | None:
    """The fast path: an int, or a string of ASCII digits with optional thousands commas."""
    if type(value) is int:
        return value
    if type(value) is str:
        text = value.replace(",", "") if "," in value else value
        if text.isdigit() and text.isascii() and len(text) <= _DECIMAL_MAX_EXPONENT:
            return int(text)
    return None


def number(value: Any, what: str, source: str) -> int:
    """A damo number: int, integral float, or a string possibly with thousands separators
    (a fractional string is truncated toward zero, as damo's ``int()`` would)."""
    plain = _plain_int(value)
    if plain is not None:
        return plain
    if isinstance(value, bool) or value is None:
        raise _bad(what, value, source)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise _bad(what, value, source)
    if isinstance(value, str):
        dec = _decimal(value.strip())
        if dec is not None and dec.is_finite():
            return int(dec)
    raise _bad(what, value, source)


def size_bytes(value: Any, what: str, source: str) -> int:
    """An address or size: a damo number, or a number with a byte unit (``"4 KiB"``)."""
    plain = _plain_int(value)
    if plain is not None:
        return plain
    if isinstance(value, str):
        m = _SIZE.match(value)
        if m is not None:
            dec = _decimal(m[1])
            if dec is not None:
                return int(dec * _SIZE_UNITS[m[2]])
    return number(value, what, source)


def time_ns(value: Any, what: str, source: str, plain_unit_ns: int = 1) -> int:
    """A time: a plain number counts ``plain_unit_ns`` nanoseconds each; human text such as
    ``"2 s 500 ms"``, ``"-1 ms"`` or ``"1.5 s"`` is exact (truncated to whole nanoseconds).
    Times beyond ±2^62 ns (:data:`~damon2speedscope.model.TIME_LIMIT_NS`) are refused."""
    ns = _time_ns(value, what, source, plain_unit_ns)
    if not -TIME_LIMIT_NS < ns < TIME_LIMIT_NS:
        raise InputError(f"{what}: {value!r} is out of range (±2^62 ns)", source)
    return ns


def _time_ns(value: Any, what: str, source: str, plain_unit_ns: int) -> int:
    plain = _plain_int(value)
    if plain is not None:
        return plain * plain_unit_ns
    if isinstance(value, str):
        text = value.strip()
        dec = _decimal(text)
        if dec is not None and dec.is_finite():
            return int(dec * plain_unit_ns)
        total = Decimal(0)
        pos = 0
        while pos < len(text):
            m = _TIME_TERM.match(text, pos)
            if m is None:
                break
            term = _decimal(m[1])
            if term is None:
                break
            total += term * _TIME_UNITS_NS[m[2]]
            pos = m.end()
            while pos < len(text) and text[pos] == " ":
                pos += 1
        if pos == len(text) and pos:
            return int(total)
        raise InputError(f"{what}: expected a time, got {value!r}", source)
    return number(value, what, source) * plain_unit_ns


# ---------------------------------------------------------------------------------------------
# streaming JSON text


class _Text:
    """Decoded JSON text over an iterator of byte chunks, parsed value by value."""

    def __init__(self, chunks: Iterable[bytes], source: str) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._scan = json.JSONDecoder().raw_decode
        self.source = source
        self.buf = ""
        self.pos = 0
        self.base = 0  # characters before buf[0]
        self.eof = False
        self._first = True
        self._fed = 0  # bytes given to the decoder (for byte offsets of encoding errors)

    def offset(self) -> int:
        return self.base + self.pos

    def error(self, reason: str) -> InputError:
        return InputError(reason, self.source, offset=self.offset())

    def _more(self, at_least: int = 0) -> bool:
        """Append decoded text (``at_least`` characters if the input has them)."""
        if self.eof:
            return False
        parts: list[str] = []
        got = 0
        while not self.eof and (got == 0 or got < at_least):
            try:
                chunk = next(self._chunks)
            except StopIteration:
                chunk = b""
                self.eof = True
            pending = len(self._decoder.getstate()[0])
            try:
                text = self._decoder.decode(chunk, final=self.eof)
            except UnicodeDecodeError as exc:
                raise InputError(f"not UTF-8 text: {exc.reason}", self.source,
                                 offset=self._fed - pending + exc.start) from None
            self._fed += len(chunk)
            if self._first and text:
                self._first = False
                if text.startswith("\ufeff"):
                    text = text[1:]
                    self.base += 1
            parts.append(text)
            got += len(text)
        if self.pos:
            self.base += self.pos
            self.buf = self.buf[self.pos:]
            self.pos = 0
        self.buf += "".join(parts)
        return True

    def peek(self) -> str:
        """The next non-blank character ("" at the end)."""
        while True:
            m = _WS.match(self.buf, self.pos)
            self.pos = m.end() if m else self.pos
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more(WINDOW):
                return ""

    def expect(self, char: str, context: str) -> None:
        got = self.peek()
        if got != char:
            shown = repr(got) if got else "the end of the input"
            raise self.error(f"damo JSON record: expected {char!r} {context}, got {shown}")
        self.pos += 1

    def separator(self, close: str, context: str) -> bool:
        """After a member or element: True if another follows, False at ``close``."""
        got = self.peek()
        if got == ",":
            self.pos += 1
            return True
        if got == close:
            self.pos += 1
            return False
        shown = repr(got) if got else "the end of the input"
        raise self.error(f"damo JSON record: expected ',' or {close!r} {context}, got {shown}")

    def value(self) -> Any:
        """The next complete JSON value, reading more text as long as it does not fit."""
        if not self.peek():
            raise self.error("damo JSON record: truncated (a value is missing at the end)")
        while True:
            try:
                obj, end = self._scan(self.buf, self.pos)
            except RecursionError:
                raise self.error("damo JSON record: a value nested too deeply") from None
            except ValueError as exc:
                if not isinstance(exc, json.JSONDecodeError):  # a 5000-digit integer
                    raise self.error("damo JSON record: a number too long to read") from None
                near_end = exc.pos >= len(self.buf) - 64 or exc.msg.startswith("Unterminated")
                if near_end and self._more(max(WINDOW, len(self.buf) - self.pos)):
                    continue
                at = self.base + exc.pos
                if self.eof and (not self.buf[exc.pos:].strip()
                                 or exc.msg.startswith("Unterminated")):
                    raise InputError(f"damo JSON record: truncated ({exc.msg})", self.source,
                                     offset=at) from None
                raise InputError(f"not valid JSON: {exc.msg}", self.source, offset=at) from None
            if end == len(self.buf) and not self.eof and self._more(WINDOW):
                continue  # a number may go on in the next piece
            self.pos = end
            return obj

    def key(self) -> str:
        if self.peek() != '"':
            raise self.error("damo JSON record: expected an object key")
        key = self.value()
        assert isinstance(key, str)
        self.expect(":", f"after key {key!r}")
        return key


# ---------------------------------------------------------------------------------------------
# the records


@dataclass
class _RecordMeta:
    header: dict[str, Any]
    first_snapshot: int
    last_snapshot: int  # exclusive
    offset: int


@dataclass
class _Collector:
    """Every snapshot of the document as flat arrays, records as index ranges."""

    source: str
    skipped: SkipCounter
    region_start: array.array[int] = field(default_factory=lambda: array.array("Q"))
    region_end: array.array[int] = field(default_factory=lambda: array.array("Q"))
    nr: array.array[int] = field(default_factory=lambda: array.array("q"))
    age: array.array[int] = field(default_factory=lambda: array.array("q"))
    percent: dict[int, float] = field(default_factory=dict)  # region → nr_accesses percent
    age_usec_ns: dict[int, int] = field(default_factory=dict)  # region → age in ns
    counts: list[int] = field(default_factory=list)
    starts: list[int | None] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    sample_raw: list[Any] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)  # where each snapshot starts in the text
    fake: list[bool] = field(default_factory=list)
    records: list[_RecordMeta] = field(default_factory=list)
    wrapper_version: Any = None

    def snapshot(self, snap: Any, where: int) -> None:
        src = self.source
        if not isinstance(snap, dict) or not isinstance(snap.get("regions"), list):
            raise InputError("damo JSON record: snapshot without 'regions'", src, offset=where)
        try:
            end = time_ns(snap["end_time"], "end_time", src)
            start_raw = snap.get("start_time")
            start = None if start_raw is None else time_ns(start_raw, "start_time", src)
            if start is not None and start > end:
                raise InputError(f"damo JSON record: snapshot ends before it starts (start_time "
                                 f"{start} ns > end_time {end} ns)", src, offset=where)
            regions = snap["regions"]
            base = len(self.nr)
            add_start, add_end = self.region_start.append, self.region_end.append
            add_nr, add_age = self.nr.append, self.age.append
            for i, r in enumerate(regions):
                s = _plain_int(r["start"])
                if s is None:
                    s = size_bytes(r["start"], "region start", src)
                e = _plain_int(r["end"])
                if e is None:
                    e = size_bytes(r["end"], "region end", src)
                if not 0 <= s <= e <= _UINT64_MAX:
                    raise InputError(f"damo JSON record: region {s}-{e} ends before it starts "
                                     "or lies outside 64 bits", src, offset=where)
                add_start(s)
                add_end(e)
                # the shapes every damo release writes, without a call; the rest below
                acc = r.get("nr_accesses")
                n = acc.get("samples") if type(acc) is dict else None
                add_nr(n if type(n) is int and 0 <= n <= _INT32_MAX
                       else self._accesses(acc, base + i))
                age = r.get("age")
                a = _plain_int(age.get("aggr_intervals")) if type(age) is dict else None
                if a is None:
                    a = self._age(age, base + i)
                add_age(a if -1 <= a <= _INT32_MAX else max(-1, min(a, _INT32_MAX)))
        except InputError as exc:
            raise exc.at(offset=where) from None
        except KeyError as exc:
            raise InputError(f"damo JSON record: snapshot or region lacks {exc}", src,
                             offset=where) from None
        except (TypeError, AttributeError) as exc:
            raise InputError(f"damo JSON record: malformed snapshot ({exc})", src,
                             offset=where) from None
        self.counts.append(len(regions))
        self.offsets.append(where)
        self.starts.append(start)
        self.ends.append(end)
        self.sample_raw.append(snap.get("sample_interval_us"))
        self.fake.append(
            len(regions) == 1 and self.region_start[-1] == 0 and self.region_end[-1] == 0
            and self.nr[-1] == -1)

    def _accesses(self, value: Any, index: int) -> int:
        if isinstance(value, dict):
            samples = value.get("samples")
            if samples is not None:
                n = number(samples, "nr_accesses.samples", self.source)
            elif value.get("percent") is not None:
                pct = _decimal(str(value["percent"]).rstrip("% "))
                if pct is None or pct < 0:
                    raise InputError(f"nr_accesses.percent: expected a percentage, got "
                                     f"{value['percent']!r}", self.source)
                self.percent[index] = float(pct)
                return 0
            else:
                raise InputError(f"nr_accesses with neither samples nor percent: {value!r}",
                                 self.source)
        elif value is None:
            raise InputError("region without nr_accesses", self.source)
        else:
            n = number(value, "nr_accesses", self.source)
        if not -1 <= n <= _INT32_MAX:
            raise InputError(f"implausible nr_accesses {n}", self.source)
        return n

    def _age(self, value: Any, index: int) -> int:
        if value is None:
            return -1
        if isinstance(value, dict):
            aggr = value.get("aggr_intervals")
            if aggr is not None:
                return number(aggr, "age.aggr_intervals", self.source)
            usec = value.get("usec")
            if usec is not None:
                self.age_usec_ns[index] = time_ns(usec, "age.usec", self.source, 1_000)
            return -1
        return number(value, "age", self.source)


def _records_array(text: _Text, out: _Collector) -> None:
    text.expect("[", "to open the list of records")
    if text.peek() == "]":
        text.pos += 1
        return
    while True:
        _record(text, out, {})
        if not text.separator("]", "after a record"):
            return


def _record(text: _Text, out: _Collector, header: dict[str, Any]) -> None:
    at = text.offset()
    text.expect("{", "to open a record")
    first = len(out.ends)
    saw_snapshots = False
    if text.peek() != "}":
        while True:
            key = text.key()
            if key == "snapshots":
                saw_snapshots = True
                _snapshots(text, out)
            else:
                header[key] = text.value()
            if not text.separator("}", "in a record"):
                break
    else:
        text.pos += 1
    if not saw_snapshots:
        side = next((name for key, name in _SIDE_FILES.items() if key in header), None)
        if side is not None:
            raise FormatError(f"this is damo's {side} side file (written next to a record), "
                              "not a DAMON record: give the record itself", text.source,
                              offset=at)
        raise InputError("damo JSON record: a record without 'snapshots'", text.source,
                         offset=at)
    out.records.append(_RecordMeta(header, first, len(out.ends), at))


def _snapshots(text: _Text, out: _Collector) -> None:
    text.expect("[", "to open 'snapshots'")
    if text.peek() == "]":
        text.pos += 1
        return
    while True:
        at = text.offset()
        out.snapshot(text.value(), at)
        if not text.separator("]", "after a snapshot"):
            return


_WRAPPER_OBJECTS = ("damo_records", "damon_records")
_SIDE_FILES = {"contexts": "`.kdamonds`", "footprints": "`.mem_footprint`",
               "procvmas": "`.vmas`", "proc_stats": "`.proc_stats`"}
_RECORD_LISTS = ("record_list", "records")


def _wrapper(text: _Text, out: _Collector, depth: int = 0) -> None:
    """An object around the record list, or a single record written as the document."""
    at = text.offset()
    text.expect("{", "to open the document")
    header: dict[str, Any] = {}
    first = len(out.ends)
    found = False
    saw_snapshots = False
    if text.peek() == "}":
        text.pos += 1
    else:
        while True:
            key = text.key()
            if key in _WRAPPER_OBJECTS and text.peek() == "{" and depth < 4:
                _wrapper(text, out, depth + 1)
                found = True
            elif key in _RECORD_LISTS and text.peek() == "[":
                _records_array(text, out)
                found = True
            elif key == "snapshots" and text.peek() == "[":
                _snapshots(text, out)
                saw_snapshots = True
            else:
                header[key] = text.value()
            if not text.separator("}", "in the document"):
                break
    if "damo_record_ver" in header:
        out.wrapper_version = header["damo_record_ver"]
    if saw_snapshots:
        out.records.append(_RecordMeta(header, first, len(out.ends), at))
    elif not found and depth == 0:
        raise InputError("damo JSON record: expected a list of records (or damo's "
                         "damo_record_ver wrapper around one)", text.source, offset=at)


def _json_chunks(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for pos in range(0, len(data), WINDOW):
        yield bytes(view[pos:pos + WINDOW])


def parse_damo_json(
    data: bytes | Iterable[bytes],
    source: str,
    clock: ClockDomain | None = None,
    skipped: SkipCounter | None = None,
    notes: list[str] | None = None,
) -> DamonRecord:
    """Parse damo's json record from bytes or from an iterator of byte pieces."""
    skipped = skipped if skipped is not None else SkipCounter()
    chunks = _json_chunks(data) if isinstance(data, bytes) else data
    text = _Text(chunks, source)
    out = _Collector(source, skipped)
    first = text.peek()
    if first == "[":
        _records_array(text, out)
    elif first == "{":
        _wrapper(text, out)
    else:
        raise text.error("damo JSON record: expected a list of records")
    if text.peek():
        raise text.error("not valid JSON: extra data after the document")
    del text, chunks
    return _assemble(out, clock, notes if notes is not None else [])


def _record_key(header: dict[str, Any], source: str) -> tuple[DamonTarget, int | None]:
    kdamond = header.get("kdamond_idx")
    context = header.get("context_idx")
    target_id = header.get("target_id")
    scheme = header.get("scheme_idx")
    if header.get("data_source") == "damon_stat":
        name = "damon_stat"
    else:
        name = f"kdamond.{number(kdamond, 'kdamond_idx', source) if kdamond is not None else 0}"
    return (
        DamonTarget(
            name,
            number(context, "context_idx", source) if context is not None else 0,
            number(target_id, "target_id", source) if target_id is not None else -1,
        ),
        None if scheme is None else number(scheme, "scheme_idx", source),
    )


def _intervals(header: dict[str, Any], source: str) -> tuple[int | None, int | None]:
    intervals = header.get("intervals")
    if not isinstance(intervals, dict):
        return None, None
    sample = intervals.get("sample_us")
    aggr = intervals.get("aggr_us")
    return (
        None if sample is None else time_ns(sample, "intervals.sample_us", source, 1_000),
        None if aggr is None else time_ns(aggr, "intervals.aggr_us", source, 1_000),
    )


def snapshot_sample_interval_ns(
    value: Any, source: str, intervals_sample_ns: int | None
) -> int | None:
    """A snapshot's ``sample_interval_us`` in ns, undoing damo's microseconds-as-ns bug."""
    if value is None:
        return None
    if isinstance(value, str) and _decimal(value.strip()) is None:
        return time_ns(value, "sample_interval_us", source)  # human text: exact
    raw = number(value, "sample_interval_us", source)
    if intervals_sample_ns and raw > 0:
        as_us, as_ns = raw * 1_000, raw
        return min((as_us, as_ns), key=lambda v: abs(np.log(v / intervals_sample_ns)))
    return raw  # nanoseconds: what damo's writer has always printed (module docstring)


def _assemble(out: _Collector, clock: ClockDomain | None, notes: list[str]) -> DamonRecord:
    source = out.source
    if out.wrapper_version not in (None, 1):
        notes.append(f"{source}: damo_record_ver {out.wrapper_version!r} is newer than this "
                     "reader knows (1); read as version 1")
    if not out.ends:
        raise InputError("damo JSON record holds no snapshot", source)
    n_snap = len(out.ends)
    keys = [_located(_record_key, meta.header, source, meta.offset) for meta in out.records]
    # Which scheme each target's snapshots come from: none if any record has none, else the
    # first record's scheme.
    chosen: dict[DamonTarget, int | None] = {}
    for target, scheme in keys:
        if target not in chosen or scheme is None:
            chosen[target] = scheme
    targets: dict[DamonTarget, int] = {}
    snap_target = np.full(n_snap, -1, dtype=np.int32)
    keep = np.ones(n_snap, dtype=bool)
    sample_ns: int | None = None
    aggr_ns: int | None = None
    record_aggr = np.zeros(n_snap, dtype=np.int64)
    record_sample = np.zeros(n_snap, dtype=np.int64)
    snapshot_record = np.zeros(n_snap, dtype=bool)
    seen_intervals: set[tuple[int | None, int | None]] = set()
    for (target, scheme), meta in zip(keys, out.records, strict=True):
        lo, hi = meta.first_snapshot, meta.last_snapshot
        if scheme != chosen[target]:
            if hi > lo:
                has = ("full snapshots" if chosen[target] is None
                       else f"scheme {chosen[target]}'s")
                out.skipped.add(f"damo JSON record of DAMOS scheme {scheme} tried regions "
                                f"(the target has {has})", f"{source}@{meta.offset}", hi - lo)
            keep[lo:hi] = False
            continue
        index = targets.setdefault(target, len(targets))
        snap_target[lo:hi] = index
        s_ns, a_ns = _located(_intervals, meta.header, source, meta.offset)
        if s_ns is not None or a_ns is not None:
            seen_intervals.add((s_ns, a_ns))
            if sample_ns is None and aggr_ns is None:
                sample_ns, aggr_ns = s_ns, a_ns
        record_aggr[lo:hi] = a_ns or 0
        record_sample[lo:hi] = s_ns or 0
        snapshot_record[lo:hi] = (meta.header.get("data_source") == "damon_stat"
                                  or scheme is not None)
    if len(seen_intervals) > 1:
        notes.append(f"{source}: records with different monitoring intervals; the first "
                     "record's are reported")
    # Region-level values that need the record's intervals.
    region_offset = np.zeros(n_snap + 1, dtype=np.int64)
    np.cumsum(np.asarray(out.counts, dtype=np.int64), out=region_offset[1:])
    nr = np.frombuffer(out.nr, dtype=np.int64).copy() if len(out.nr) else np.zeros(0, np.int64)
    age = np.frombuffer(out.age, dtype=np.int64).copy() if len(out.age) else np.zeros(0, np.int64)
    if out.percent or out.age_usec_ns:
        snap_of_region = np.searchsorted(region_offset, np.arange(len(nr)), side="right") - 1
        for region, pct in out.percent.items():
            k = int(snap_of_region[region])
            s, a = int(record_sample[k]), int(record_aggr[k])
            if s <= 0 or a <= 0:
                raise InputError("damo JSON record: nr_accesses given only as a percentage, "
                                 "and the record has no intervals to convert it", source,
                                 offset=out.offsets[k])
            n = int(pct * (a / s) / 100)
            if n > _INT32_MAX:
                raise InputError(f"implausible nr_accesses {n} ({pct}% of {a // s} samples)",
                                 source, offset=out.offsets[k])
            nr[region] = n
        unknown_ages = 0
        for region, usec_ns in out.age_usec_ns.items():
            a = int(record_aggr[int(snap_of_region[region])])
            if a > 0:
                q = abs(usec_ns) // a
                age[region] = q if usec_ns >= 0 else -q
            else:
                unknown_ages += 1
        if unknown_ages:
            notes.append(f"{source}: {unknown_ages} region ages are given in microseconds only "
                         "and the record has no aggregation interval to convert them: those "
                         "ages are unknown (-1)")
    # Drop damo's fake snapshots (a converted file may keep one) and unused schemes.
    fake = np.asarray(out.fake, dtype=bool) & keep
    if fake.any():
        out.skipped.add("damo placeholder snapshot (0-0: -1 -1)", source, int(fake.sum()))
    ends = np.asarray(out.ends, dtype=np.int64)
    # First-interval rule, with the fake snapshots' ends, for snapshots without a start.
    target_list = list(targets)
    fake_end: dict[int, int] = {}
    for k in np.flatnonzero(fake).tolist():
        fake_end[int(snap_target[k])] = int(ends[k])
    keep &= ~fake
    start_arr = np.frombuffer(out.region_start, dtype=np.uint64) if len(out.region_start) \
        else np.zeros(0, np.uint64)
    end_arr = np.frombuffer(out.region_end, dtype=np.uint64) if len(out.region_end) \
        else np.zeros(0, np.uint64)
    if not keep.any():
        raise InputError("damo JSON record holds no snapshot", source)
    if clock is None:
        if int(ends[keep].min()) >= WALL_CLOCK_MIN_NS:
            clock = ClockDomain.WALL
        elif int(ends[keep].max()) >= WALL_CLOCK_MIN_NS:
            raise InputError("damo JSON record mixes epoch (wall-clock) and uptime times",
                             source)
        else:
            clock = ClockDomain.PERF
    _screen(out, keep, snap_target, ends, region_offset, start_arr, end_arr)
    kept = np.flatnonzero(keep)
    ends_kept = ends[kept]
    fallback = snapshot_starts(target_list, snap_target[kept].tolist(), ends_kept.tolist(),
                               aggr_ns, fake_end)
    starts = np.empty(kept.size, dtype=np.int64)
    previous_end: dict[int, int] = {}
    for j, k in enumerate(kept.tolist()):
        given = out.starts[k]
        t = int(snap_target[k])
        if given is not None:
            starts[j] = given
        elif snapshot_record[k] and record_aggr[k]:
            # end minus the interval, but not before the target's previous snapshot ended
            starts[j] = max(int(ends[k]) - int(record_aggr[k]),
                            previous_end.get(t, -TIME_LIMIT_NS))
        else:
            starts[j] = fallback[j]
        previous_end[t] = int(ends[k])
    # Sample interval: the record's intervals, else the snapshots' own (damo's ns bug undone).
    if sample_ns is None:
        values = [v for k in kept.tolist()
                  if (v := _located(snapshot_sample_interval_ns, out.sample_raw[k], source,
                                    out.offsets[k], None)) is not None]
        if values:
            sample_ns = max(set(values), key=values.count)
    if age.size and (age.max() > _INT32_MAX or age.min() < -1):
        np.clip(age, -1, _INT32_MAX, out=age)
    region_keep = np.repeat(keep, np.asarray(out.counts, dtype=np.int64))
    return pack_record(
        clock, target_list, snap_target[kept], starts, ends_kept,
        np.asarray(out.counts, dtype=np.int64)[kept],
        start_arr[region_keep].copy(), end_arr[region_keep].copy(),
        nr[region_keep].astype(np.int32), age[region_keep].astype(np.int32),
        sample_ns, aggr_ns)


_T = TypeVar("_T")


def _located(func: Callable[..., _T], value: Any, source: str, offset: int, *args: Any) -> _T:
    """``func(value, source, *args)``, its :class:`InputError` located at ``offset``."""
    try:
        return func(value, source, *args)
    except InputError as exc:
        raise exc.at(offset=offset) from None


OVERLAPPING_REGIONS_REASON = "DAMON snapshot with overlapping or unordered regions"
OVERLAPPING_SNAPSHOT_REASON = "DAMON snapshot starting before the previous one of its target ended"


def _screen(out: _Collector, keep: npt.NDArray[np.bool_], snap_target: npt.NDArray[np.int32],
            ends: npt.NDArray[np.int64], region_offset: npt.NDArray[np.int64],
            start: npt.NDArray[np.uint64], end: npt.NDArray[np.uint64]) -> None:
    """Skip (count, and clear in ``keep``) snapshots DAMON cannot have written: regions that
    overlap or are out of order, a snapshot not ending after its target's previous one, or
    one whose given start lies before that previous end."""
    if start.size > 1:
        bad = start[1:] < end[:-1]
        seams = region_offset[1:-1]  # first region of each snapshot but the first
        bad[seams[(seams >= 1) & (seams < start.size)] - 1] = False
        if bad.any():
            snaps = np.unique(np.searchsorted(region_offset, np.flatnonzero(bad) + 1,
                                              side="right") - 1)
            for k in snaps[keep[snaps]].tolist():
                out.skipped.add(OVERLAPPING_REGIONS_REASON, f"{out.source}@{out.offsets[k]}")
                keep[k] = False
    last_end: dict[int, int] = {}
    for k in np.flatnonzero(keep).tolist():
        target = int(snap_target[k])
        previous = last_end.get(target)
        if previous is not None:
            reason = None
            if int(ends[k]) <= previous:
                reason = NOT_LATER_REASON
            elif (given := out.starts[k]) is not None and given < previous:
                reason = OVERLAPPING_SNAPSHOT_REASON
            if reason is not None:
                out.skipped.add(reason, f"{out.source}@{out.offsets[k]}")
                keep[k] = False
                continue
        last_end[target] = int(ends[k])
