"""Large benchmark inputs made from the bundled real recordings (never synthetic stacks).

Every generator repeats one real recording N times, shifting the times of repetition ``r`` by
``r × period`` so the copies follow each other on one clock: the perf text keeps its threads,
stacks and sampling rate, the DAMON record its targets, regions and aggregation interval. Files
are written piece by piece, so making a 1 GB input needs no more memory than the recording.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# the first ``secs.frac:`` field of a header line (frame lines start with a tab)
_HEADER_TIME = re.compile(rb"(?m)^([^\t\n#][^\n]*?\s)(\d+)\.(\d+):(?=\s|$)")


@dataclass
class TextTemplate:
    """A ``perf script`` text cut at its header time fields."""

    pieces: list[bytes]  # len(times) + 1
    times: list[int]  # in units of 10**-digits s
    digits: list[int]

    @classmethod
    def load(cls, path: Path) -> TextTemplate:
        data = path.read_bytes()
        if not data.endswith(b"\n"):
            data += b"\n"
        pieces: list[bytes] = []
        times: list[int] = []
        digits: list[int] = []
        pos = 0
        for m in _HEADER_TIME.finditer(data):
            pieces.append(data[pos:m.start(2)])
            times.append(int(m[2]) * 10 ** len(m[3]) + int(m[3]))
            digits.append(len(m[3]))
            pos = m.end(3)
        pieces.append(data[pos:])
        return cls(pieces, times, digits)

    def span_ns(self) -> tuple[int, int]:
        ns = [t * 10 ** (9 - d) for t, d in zip(self.times, self.digits, strict=True)]
        return min(ns), max(ns)

    def repetition(self, shift_ns: int) -> bytes:
        out: list[bytes] = []
        for piece, t, d in zip(self.pieces, self.times, self.digits, strict=False):
            scale = 10 ** d
            shifted = t + shift_ns // 10 ** (9 - d)
            out.append(piece)
            out.append(b"%d.%0*d" % (shifted // scale, d, shifted % scale))
        out.append(self.pieces[-1])
        return b"".join(out)


def repeat_period_ns(*templates: TextTemplate, round_to_ns: int = 5_000_000_000) -> int:
    """A period longer than every template's span, a multiple of ``round_to_ns`` (DAMON's
    aggregation interval in the bundled recordings), plus one interval of idle gap."""
    spans = [t.span_ns() for t in templates]
    span = max(e for _, e in spans) - min(s for s, _ in spans)
    return (span // round_to_ns + 2) * round_to_ns


def write_repeated(template: TextTemplate, out: Path, repetitions: int, period_ns: int) -> int:
    """``repetitions`` shifted copies of the template; returns the bytes written."""
    size = 0
    with out.open("wb") as fh:
        for r in range(repetitions):
            chunk = template.repetition(r * period_ns)
            fh.write(chunk)
            size += len(chunk)
    return size


# -- perf.data -----------------------------------------------------------------------------

_FILE_HEADER = struct.Struct("<8sQQ QQ QQ QQ 32s")  # magic, size, attr_size, attrs, data, types
_SECTION = struct.Struct("<QQ")
_EVENT_HEADER = struct.Struct("<IHH")
PERF_RECORD_SAMPLE = 9
PERF_RECORD_FINISHED_ROUND = 68
PERF_SAMPLE_IP = 1 << 0
PERF_SAMPLE_TID = 1 << 1
PERF_SAMPLE_TIME = 1 << 2
PERF_SAMPLE_IDENTIFIER = 1 << 16
HEADER_FEAT_BITS = 256


def write_repeated_perf_data(src: Path, out: Path, repetitions: int, period_ns: int) -> int:
    """A perf.data whose data section holds ``repetitions`` time-shifted copies of the
    recording's PERF_RECORD_SAMPLE records (side-band records such as COMM and MMAP are kept
    once, in the first copy). The feature sections (TRACING_DATA with the tracepoint formats,
    and the rest) are copied and their offsets moved behind the larger data section.

    Only recordings whose every attr has PERF_SAMPLE_TIME at the same place are supported
    (IDENTIFIER, IP, TID before TIME, as ``perf record -e damon:damon_aggregated`` writes)."""
    data = src.read_bytes()
    (magic, hsize, attr_size, attrs_off, attrs_size, data_off, data_size, _types_off,
     _types_size, features) = _FILE_HEADER.unpack_from(data, 0)
    if magic != b"PERFILE2":
        raise ValueError(f"{src}: not a perf.data")
    sample_types = set()
    for off in range(attrs_off, attrs_off + attrs_size, attr_size):
        sample_types.add(struct.unpack_from("<Q", data, off + 24)[0])
    time_offsets = {_time_offset(st) for st in sample_types}
    if len(time_offsets) != 1 or None in time_offsets:
        raise ValueError(f"{src}: attrs disagree on where the sample time is")
    (time_off,) = time_offsets
    assert time_off is not None
    # one copy's records in file order, and the positions of the sample times in it; later
    # copies keep only the samples and the FINISHED_ROUND markers (time-ordered flushes)
    first = bytearray()
    later = bytearray()
    first_times: list[int] = []
    later_times: list[int] = []
    pos = data_off
    end = data_off + data_size
    while pos < end:
        rtype, _misc, size = _EVENT_HEADER.unpack_from(data, pos)
        if size < 8 or size % 8:
            raise ValueError(f"{src}: bad record size {size} at {pos}")
        record = data[pos:pos + size]
        if rtype == PERF_RECORD_SAMPLE:
            first_times.append((len(first) + 8 + time_off) // 8)
            later_times.append((len(later) + 8 + time_off) // 8)
        if rtype in (PERF_RECORD_SAMPLE, PERF_RECORD_FINISHED_ROUND):
            later += record
        first += record
        pos += size
    with out.open("wb") as fh:
        fh.write(data[:data_off])
        written = 0
        for r in range(repetitions):
            block, where = (first, first_times) if r == 0 else (later, later_times)
            words = np.frombuffer(bytes(block), dtype="<u8").copy()
            words[np.array(where, dtype=np.int64)] += np.uint64(r * period_ns)
            fh.write(words.tobytes())
            written += len(block)
        # feature sections: a table of (offset, size) right after the data section, then the
        # sections themselves; move every offset by the growth of the data section
        feat_start = data_off + data_size
        growth = written - data_size
        bits = int.from_bytes(features, "little")
        n_feat = bin(bits).count("1")
        table = bytearray(data[feat_start:feat_start + n_feat * _SECTION.size])
        for i in range(n_feat):
            off, size = _SECTION.unpack_from(table, i * _SECTION.size)
            _SECTION.pack_into(table, i * _SECTION.size, off + growth, size)
        fh.write(table)
        fh.write(data[feat_start + len(table):])
        # the header's data section size
        fh.seek(0)
        header = bytearray(data[:hsize])
        struct.pack_into("<QQ", header, 40, data_off, written)
        fh.write(header)
    return out.stat().st_size


def _time_offset(sample_type: int) -> int | None:
    """Byte offset of the TIME field inside a PERF_RECORD_SAMPLE body."""
    if not sample_type & PERF_SAMPLE_TIME:
        return None
    off = 0
    for bit in (PERF_SAMPLE_IDENTIFIER, PERF_SAMPLE_IP, PERF_SAMPLE_TID):
        if sample_type & bit:
            off += 8
    return off
