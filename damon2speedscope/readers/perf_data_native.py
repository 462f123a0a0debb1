"""DAMON perf.data read natively: ``damon:damon_aggregated`` samples straight from the file.

``perf script`` formats every tracepoint event as text that we then parse again; for a
DAMON-only recording that is most of the time spent (and all of damo's). This reader takes
the PERF_RECORD_SAMPLE records of the ``damon_aggregated`` event out of the data section with
numpy, decodes the RAW tracepoint payload with the field layout the recording itself carries
(its TRACING_DATA feature section: ``/sys/kernel/tracing/events/damon/damon_aggregated/format``
of the recording machine), takes each thread's name from the PERF_RECORD_COMM records, and
orders the samples by time as ``perf script`` does (stable, file order among equal times).

It gives exactly the events the ``perf script`` path gives, and declines (:func:`read` returns
None, the caller runs ``perf script``) for anything else: other sampling events (callchains to
symbolize), other DAMON tracepoints, a payload layout or print format it does not know,
big-endian files, pipe-mode files, threads renamed during the recording, callchains or other
variable-size fields in the DAMON samples.

Memory: a mapped file is scanned and decoded in windows (:data:`WINDOW_WORDS`,
:data:`BLOCK_RECORDS`), and the pages of each window are given back once it is done (they stay
in the page cache), so the peak is the decoded events plus one window, not the whole file.
"""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .damon_fast import RegionEvents

I64 = npt.NDArray[np.int64]

PERF_RECORD_COMM = 3
PERF_RECORD_SAMPLE = 9
PERF_RECORD_FINISHED_ROUND = 68
PERF_TYPE_SOFTWARE = 1
PERF_TYPE_TRACEPOINT = 2
PERF_COUNT_SW_DUMMY = 9
HEADER_TRACING_DATA = 1

_FILE_HEADER = struct.Struct("<8sQQQQQQQQ")
_RECORD = struct.Struct("<IHH")

# sample_type bits, in the order their fields appear in a PERF_RECORD_SAMPLE
_SAMPLE_FIELDS = (
    (1 << 16, "identifier", 8),
    (1 << 0, "ip", 8),
    (1 << 1, "tid", 8),
    (1 << 2, "time", 8),
    (1 << 3, "addr", 8),
    (1 << 6, "id", 8),
    (1 << 9, "stream_id", 8),
    (1 << 7, "cpu", 8),
    (1 << 8, "period", 8),
)
_SAMPLE_RAW = 1 << 10
_KNOWN_BITS = sum(bit for bit, _, _ in _SAMPLE_FIELDS) | _SAMPLE_RAW

_FORMAT = re.compile(rb"name: damon_aggregated\nID: (\d+)\nformat:\n(.*?)\n\nprint fmt: ([^\n]*)",
                     re.DOTALL)
_FIELD = re.compile(rb"\tfield:([^;]*?)\s*(\w+);\toffset:(\d+);\tsize:(\d+);\tsigned:(\d);")
_PRINT_FMTS = {
    b'"target_id=%lu nr_regions=%u %lu-%lu: %u %u", REC->target_id, REC->nr_regions, '
    b"REC->start, REC->end, REC->nr_accesses, REC->age": True,
    b'"target_id=%lu nr_regions=%u %lu-%lu: %u", REC->target_id, REC->nr_regions, '
    b"REC->start, REC->end, REC->nr_accesses": False,
}
_UNSIGNED_FIELDS = {"target_id": 8, "nr_regions": 4, "start": 8, "end": 8, "nr_accesses": 4,
                    "age": 4}
_EVENT_NAME = "damon:damon_aggregated"


@dataclass
class NativeDamon:
    """The DAMON events of a perf.data, as ``perf script`` would have listed them."""

    events: RegionEvents
    event_name: str  # as perf script names it: damon:damon_aggregated


@dataclass(frozen=True)
class _Attr:
    type: int
    config: int
    sample_type: int
    ids: tuple[int, ...]


def _attrs(data: bytes | mmap.mmap, off: int, size: int, attr_size: int) -> list[_Attr]:
    out: list[_Attr] = []
    for pos in range(off, off + size, attr_size):
        typ, _size, config, _period, sample_type = struct.unpack_from("<IIQQQ", data, pos)
        ids_off, ids_len = struct.unpack_from("<QQ", data, pos + attr_size - 16)
        ids = struct.unpack_from(f"<{ids_len // 8}Q", data, ids_off) if ids_len else ()
        out.append(_Attr(typ, config, sample_type, tuple(ids)))
    return out


def _feature(data: bytes | mmap.mmap, header: tuple[int, ...], bit: int) -> bytes | None:
    data_off, data_size = header[5], header[6]
    bits = int.from_bytes(bytes(data[72:104]), "little")
    if not bits >> bit & 1:
        return None
    index = bin(bits & ((1 << bit) - 1)).count("1")
    off, size = struct.unpack_from("<QQ", data, data_off + data_size + 16 * index)
    if off + size > len(data):
        return None
    return bytes(data[off:off + size])


def _layout(tracing: bytes) -> tuple[int, dict[str, int], bool] | None:
    """(tracepoint id, field offsets, has age) of damon_aggregated, if its format is known."""
    m = _FORMAT.search(tracing)
    if m is None:
        return None
    has_age = _PRINT_FMTS.get(m[3].strip())
    if has_age is None:
        return None
    offsets: dict[str, int] = {}
    for f in _FIELD.finditer(m[2]):
        name = f[2].decode()
        if name in _UNSIGNED_FIELDS:
            if int(f[4]) != _UNSIGNED_FIELDS[name] or f[5] != b"0":
                return None
            offsets[name] = int(f[3])
    needed = set(_UNSIGNED_FIELDS) - ({"age"} if not has_age else set())
    if not needed <= set(offsets) or any(v % 4 for v in offsets.values()):
        return None
    return int(m[1]), offsets, has_age


WINDOW_WORDS = 1 << 22
"""Words of the data section scanned at a time (32 MB)."""
BLOCK_RECORDS = 1 << 18
"""Sample records decoded at a time."""


def _release(data: bytes | mmap.mmap, start: int, end: int) -> None:
    """Give back the pages of a mapped input wholly inside ``[start, end)``: a read-only
    file mapping reads them again from the page cache if they are touched again."""
    if isinstance(data, mmap.mmap):
        lo = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
        hi = end // mmap.PAGESIZE * mmap.PAGESIZE
        if hi > lo:
            data.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def _records(words: npt.NDArray[np.uint64], data: bytes | mmap.mmap, start: int, end: int,
             sample_word: int, sample_size: int) -> tuple[I64, list[tuple[int, int]]]:
    """Positions of the damon sample records, and (type, position) of every other record.

    A record's 8-byte header holds type, misc and size; every damon sample has the same one.
    Candidates are the 8-aligned words equal to it (or to FINISHED_ROUND's), found a window
    at a time; a run of candidates each starting where the previous ended is followed with
    array operations, and the walk only steps record by record (in Python) through the other
    records."""
    base = start // 8
    round_word = np.uint64(PERF_RECORD_FINISHED_ROUND | (8 << 48))
    sample = np.uint64(sample_word)
    found: list[I64] = []
    found_sample: list[npt.NDArray[np.bool_]] = []
    for lo in range(base, end // 8, WINDOW_WORDS):
        hi = min(lo + WINDOW_WORDS, end // 8)
        window = words[lo:hi]
        is_sample = window == sample
        cand = np.flatnonzero(is_sample | (window == round_word))
        found.append(cand + lo)
        found_sample.append(is_sample[cand])
        del window, is_sample
        _release(data, lo * 8, hi * 8)
    pos = np.concatenate(found) * 8 if found else np.zeros(0, dtype=np.int64)
    is_sample = np.concatenate(found_sample) if found else np.zeros(0, dtype=bool)
    del found, found_sample
    sizes = np.where(is_sample, sample_size, 8)
    nxt = pos + sizes
    chained = np.zeros(len(pos), dtype=bool)
    chained[:-1] = nxt[:-1] == pos[1:]
    breaks = np.flatnonzero(~chained)
    keep = np.zeros(len(pos), dtype=bool)
    others: list[tuple[int, int]] = []
    p = start
    while p < end:
        j = int(np.searchsorted(pos, p))
        if j < len(pos) and int(pos[j]) == p:
            b = int(breaks[np.searchsorted(breaks, j)])  # the run j..b follows itself
            keep[j:b + 1] = True
            p = int(nxt[b])
            continue
        rtype, _misc, size = _RECORD.unpack_from(data, p)
        if size < 8 or size % 8 or p + size > end:
            raise _Bad(f"bad record size {size} at {p}")
        others.append((rtype, p))
        p += size
    if p != end:
        raise _Bad("records run past the data section")
    out: I64 = pos[keep & is_sample]
    return out, others


class _Bad(Exception):
    pass


def read(data: bytes | mmap.mmap) -> NativeDamon | None:
    """The damon_aggregated events of a DAMON-only perf.data, or None to use ``perf script``."""
    try:
        return _read(data)
    except (_Bad, struct.error, ValueError, IndexError, OverflowError, UnicodeDecodeError):
        return None  # e.g. a payload size that makes the record size overflow 16 bits


def _read(data: bytes | mmap.mmap) -> NativeDamon | None:
    if len(data) < 104 or bytes(data[:8]) != b"PERFILE2":
        return None
    header = _FILE_HEADER.unpack_from(data, 0)
    _magic, hsize, attr_size, attr_off, attr_len, data_off, data_size = header[:7]
    if hsize != 104 or attr_size < 72 or data_off % 8 or data_size % 8 \
            or data_off + data_size > len(data):
        return None
    tracing = _feature(data, header, HEADER_TRACING_DATA)
    if tracing is None:
        return None
    layout = _layout(tracing)
    if layout is None:
        return None
    tp_id, fields, has_age = layout
    attrs = _attrs(data, attr_off, attr_len, attr_size)
    damon = [a for a in attrs if a.type == PERF_TYPE_TRACEPOINT and a.config == tp_id]
    others = [a for a in attrs if a not in damon]
    if len(damon) != 1 or any(a.type != PERF_TYPE_SOFTWARE or a.config != PERF_COUNT_SW_DUMMY
                              for a in others):
        return None
    attr = damon[0]
    st = attr.sample_type
    if st & ~_KNOWN_BITS or not st & _SAMPLE_RAW or not st & (1 << 1) or not st & (1 << 2):
        return None
    if len(attrs) > 1 and not st & (1 << 16):
        return None  # without IDENTIFIER the records cannot be told apart from others
    offsets: dict[str, int] = {}
    pos = 8
    for bit, name, size in _SAMPLE_FIELDS:
        if st & bit:
            offsets[name] = pos
            pos += size
    raw_size_at = pos
    # the record size of a damon sample: the payload size comes from the first sample
    first = _first_sample(data, data_off, data_off + data_size)
    if first is None:
        return NativeDamon(RegionEvents.concatenate([], []), _EVENT_NAME)
    (raw_size,) = struct.unpack_from("<I", data, first + raw_size_at)
    sample_size = (raw_size_at + 4 + raw_size + 7) // 8 * 8
    (misc,) = struct.unpack_from("<H", data, first + 4)
    sample_word = PERF_RECORD_SAMPLE | (misc << 32) | (sample_size << 48)
    words = np.frombuffer(data, dtype="<u8", count=len(data) // 8)
    positions, other_records = _records(words, data, data_off, data_off + data_size,
                                        sample_word, sample_size)
    if any(t == PERF_RECORD_SAMPLE for t, _ in other_records):
        return None  # samples of another size or kind
    n = len(positions)
    u32 = np.frombuffer(data, dtype="<u4", count=len(data) // 4)
    words4 = np.frombuffer(data, dtype="<u8", offset=4, count=(len(data) - 4) // 8)
    if int(raw_size) < max(fields.values()) + 4:
        return None
    ids = np.array(attr.ids, dtype=np.uint64)
    tid_word = np.empty(n, dtype=np.uint64)  # pid in the low half, tid in the high one
    time = np.empty(n, dtype=np.int64)
    target_id = np.empty(n, dtype=np.uint64)
    start = np.empty(n, dtype=np.uint64)
    end = np.empty(n, dtype=np.uint64)
    nr_regions = np.empty(n, dtype=np.int64)
    nr_accesses = np.empty(n, dtype=np.int64)
    age = np.full(n, -1, dtype=np.int64)

    def u64(name: str, raw: I64) -> npt.NDArray[np.uint64]:
        at = raw * 4 + fields[name]  # byte positions, all alike modulo 8 (aligned records)
        value: npt.NDArray[np.uint64]
        if int(at[0]) % 8 == 0:
            value = words[at // 8]
        elif int(at[0]) % 8 == 4:
            value = words4[(at - 4) // 8]
        else:
            value = u32[at // 4].astype(np.uint64) | (
                u32[at // 4 + 1].astype(np.uint64) << np.uint64(32))
        return value

    for lo in range(0, n, BLOCK_RECORDS):
        hi = min(lo + BLOCK_RECORDS, n)
        block = positions[lo:hi]
        w = block // 8
        if "identifier" in offsets and not np.isin(
                words[w + offsets["identifier"] // 8], ids).all():
            return None
        if bool((u32[(block + raw_size_at) // 4] != raw_size).any()):
            return None
        raw = (block + raw_size_at + 4) // 4  # in u32 units
        if bool((u32[raw] & 0xFFFF != tp_id & 0xFFFF).any()):
            return None

        tid_word[lo:hi] = words[w + offsets["tid"] // 8]
        time[lo:hi] = words[w + offsets["time"] // 8]
        target_id[lo:hi] = u64("target_id", raw)
        start[lo:hi] = u64("start", raw)
        end[lo:hi] = u64("end", raw)
        nr_regions[lo:hi] = u32[raw + fields["nr_regions"] // 4]
        nr_accesses[lo:hi] = u32[raw + fields["nr_accesses"] // 4]
        if has_age:
            age[lo:hi] = u32[raw + fields["age"] // 4]
        _release(data, int(block[0]), int(block[-1]) + sample_size)
    comms = _comms(data, other_records)
    labels: list[str] = []
    if n and bool((tid_word == tid_word[0]).all()):  # one kdamond thread: most records
        thread_words, thread_index = tid_word[:1], np.zeros(n, dtype=np.int64)
    else:
        thread_words, thread_index = np.unique(tid_word, return_inverse=True)
    for word in thread_words.tolist():
        pid, tid = word & 0xFFFFFFFF, word >> 32
        names = comms.get(tid)
        if names is None or len(names) != 1:
            return None
        (comm,) = names
        if not comm or any(c.isspace() for c in comm) or not comm.isprintable():
            return None
        labels.append(f"{comm} {pid}")
    label = thread_index.reshape(-1).astype(np.int64)
    order: npt.NDArray[np.intp] | slice = slice(None)
    if bool((time[1:] < time[:-1]).any()):
        order = np.argsort(time, kind="stable")
    events = RegionEvents(labels, label[order], target_id[order], time[order],
                          nr_regions[order], start[order], end[order], nr_accesses[order],
                          age[order])
    return NativeDamon(events, _EVENT_NAME)


def _first_sample(data: bytes | mmap.mmap, start: int, end: int) -> int | None:
    p = start
    while p < end:
        rtype, _misc, size = _RECORD.unpack_from(data, p)
        if size < 8:
            raise _Bad("bad record size")
        if rtype == PERF_RECORD_SAMPLE:
            return p
        p += size
    return None


def _comms(data: bytes | mmap.mmap, records: list[tuple[int, int]]) -> dict[int, set[str]]:
    """Every name each thread had (PERF_RECORD_COMM: pid, tid, NUL-terminated comm)."""
    out: dict[int, set[str]] = {}
    for rtype, p in records:
        if rtype != PERF_RECORD_COMM:
            continue
        _, _, size = _RECORD.unpack_from(data, p)
        _pid, tid = struct.unpack_from("<II", data, p + 8)
        raw = bytes(data[p + 16:p + size])
        comm = raw.split(b"\0", 1)[0].decode("utf-8")
        out.setdefault(tid, set()).add(comm)
    return out
