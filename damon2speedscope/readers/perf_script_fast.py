"""``perf script`` text read with array operations, for text of the shape perf itself writes.

:mod:`.perf_script` reads any text line by line. Most texts are exactly what ``perf script``
prints: sample headers (``comm pid/tid [cpu] secs.frac: period event:``), each followed by its
tab-indented callchain lines and a blank line, and tracepoint lines such as DAMON's
``damon:damon_aggregated: target_id=0 nr_regions=1476 4294967296-4305805312: 0 76``. For
those, :func:`parse_into` fills the same :class:`~.perf_script._Parser` state in chunks of a
few MB with numpy:

* lines are found with one comparison over the chunk; header, callchain and blank lines are
  told apart by their first byte;
* headers are grouped by layout: the first unparsed header is parsed with the reader's own
  regular expressions, and every other header is checked column by column against that
  layout (time field, period, event name); those that fit are parsed with array arithmetic,
  the others start the next group;
* the thread columns before the time and the event names are interned by hashing their bytes
  (collisions are checked byte by byte); the reader's own code turns each distinct one into a
  thread or event, in order of first appearance, as it would have;
* a callchain is looked up by its bytes in the reader's table of callchains already parsed; a
  new one is parsed by the reader's own code;
* DAMON payloads are parsed field by field with array arithmetic, and the snapshots assembled
  by :mod:`.damon_fast`.

Anything else (comment lines, CR line ends, side-band records, source lines, other DAMON
events, untimed headers, a payload spelled differently, ...) makes :func:`parse_into` return
False, and the caller reads the text with the general reader from scratch: the result never
depends on which reader ran. A mapped file is released chunk by chunk once read, so memory
stays bounded by the model, not the input.
"""

from __future__ import annotations

import mmap
from collections.abc import Container
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import damon_fast
from .damon_events import DAMON_AGGREGATED, event_kind
from .damon_fast import RegionEvents
from .perf_script import _EVENT, _ID_LIMIT, _TIME, _Parser, _thread_fields

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]
Bool = npt.NDArray[np.bool_]

CHUNK = 8 << 20
"""Bytes of text handled at once (cut at a sample boundary)."""
MAX_GROUPS = 4096
"""Header layouts per chunk before giving up (each costs a pass over the remaining headers)."""

_WS = np.zeros(256, dtype=bool)
_WS[list(b" \t\n\r\f\v")] = True
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[48:58] = True
_HASH_MUL = np.uint64(0x100000001B3)
_CUT_SEARCH = 1 << 16  # how far back from a chunk's end a blank line is looked for
_LEAD = 16  # newlines before a chunk: reads of the 8 bytes before a position stay inside
_PAD = 1024  # newlines after a chunk: reads past its end stay inside the buffer


class _Decline(Exception):
    pass


def parse_into(parser: _Parser, data: bytes | mmap.mmap) -> bool:
    """Read ``data`` into a fresh ``parser``; False when the text needs the general reader
    (``parser`` must then be discarded)."""
    try:
        _Reader(parser, data).run()
    except _Decline:
        return False
    return True


@dataclass
class _Headers:
    """Parsed header lines of one chunk (one entry per header)."""

    time_ns: I64
    prefix_len: I64  # bytes before the whitespace in front of the time
    period: I64  # 0 without a period column
    event: I64  # index into the chunk's event names
    events: list[bytes]
    payload: I64  # where the payload starts (chunk offset)


class _Reader:
    def __init__(self, parser: _Parser, data: bytes | mmap.mmap) -> None:
        self.p = parser
        self.data = data
        self.size = len(data)
        self.labels: list[str] = []
        self.label_index: dict[str, int] = {}
        self.damon_parts: list[RegionEvents] = []
        self.damon_lines: list[I64] = []
        self.damon_event: bytes | None = None
        self.headers = 0
        self.pad = np.zeros(0, dtype=np.uint8)

    # -- chunks -----------------------------------------------------------------------------

    def run(self) -> None:
        data = self.data
        if not self.size:
            raise _Decline
        pos = 0
        line = 1
        released = 0
        while pos < self.size:
            end = self._cut(pos)
            line = self._chunk(pos, end, line)
            pos = end
            if isinstance(data, mmap.mmap):
                page = (pos // mmap.PAGESIZE) * mmap.PAGESIZE
                if page > released:
                    data.madvise(mmap.MADV_DONTNEED, released, page - released)
                    released = page
        if not self.headers:
            raise _Decline
        self._finish_damon()

    def _cut(self, pos: int) -> int:
        """End of the chunk starting at ``pos``: after a blank line, else before a line that
        does not start with a tab (a header)."""
        end = pos + CHUNK
        if end >= self.size:
            return self.size
        cut = self.data.rfind(b"\n\n", max(pos, end - _CUT_SEARCH), end)
        if cut >= 0:
            return cut + 1
        cut = end
        while True:
            cut = self.data.rfind(b"\n", pos, cut)
            if cut < 0:
                raise _Decline  # a callchain longer than a chunk
            if self.data[cut + 1:cut + 2] != b"\t":
                return cut + 1

    def _chunk(self, pos: int, end: int, first_line: int) -> int:
        size = end - pos
        total = (_LEAD + size + _PAD + 7) // 8 * 8
        if self.pad.size < total:
            self.pad = np.empty(total, dtype=np.uint8)
        padded = self.pad[:total]
        padded[:_LEAD] = 10
        padded[_LEAD:_LEAD + size] = np.frombuffer(self.data, dtype=np.uint8, count=size,
                                                   offset=pos)
        padded[_LEAD + size:] = 10
        buf = padded[_LEAD:_LEAD + size]
        text = _Buf(padded)
        nl = np.flatnonzero(buf == 10)
        if bool((padded[nl + (_LEAD - 1)] == 13).any()):
            raise _Decline  # CRLF line ends (the reader turns them into LF first)
        ends = nl if buf[size - 1] == 10 else np.append(nl, size)
        starts = np.empty(len(ends), dtype=np.int64)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        empty = starts == ends
        c0 = buf[np.minimum(starts, size - 1)]
        frame = (c0 == 9) & ~empty
        head = ~empty & ~frame
        heads = np.flatnonzero(head)
        if frame[0] or bool((frame[1:] & empty[:-1]).any()):
            raise _Decline  # callchain lines outside a sample
        if bool(_WS[buf[ends[frame] - 1]].any()):
            raise _Decline  # a tab line ending in blanks (perf's never do): maybe all blank
        if heads.size == 0:
            return first_line + len(ends)
        if bool((c0[heads] == 35).any()):
            raise _Decline  # comment lines
        # each header's callchain: the run of tab lines after it
        stops = np.flatnonzero(~frame)
        following = np.searchsorted(stops, heads, side="right")
        nxt = np.where(following < len(stops), stops[np.minimum(following, len(stops) - 1)],
                       len(ends))
        n_frames = nxt - heads - 1
        body_start = np.where(n_frames > 0, starts[np.minimum(heads + 1, len(ends) - 1)], 0)
        body_end = np.where(n_frames > 0, ends[nxt - 1], 0)
        hs = starts[heads] + _LEAD  # positions in the padded buffer from here on
        he = ends[heads] + _LEAD
        h = _parse_headers(text, hs, he)
        self.headers += len(heads)
        lines = heads + first_line
        slots = [self._slot(name) for name in h.events]
        kinds = np.array([0 if s == "damon" else 1 for s in slots], dtype=np.int64)
        kind = kinds[h.event]
        damon_rows = np.flatnonzero(kind == 0)
        sample_rows = np.flatnonzero(kind == 1)
        if damon_rows.size:
            if bool((n_frames[damon_rows] > 0).any()):
                raise _Decline  # DAMON events with callchains
            self._damon(text, hs[damon_rows], he[damon_rows], h, damon_rows, lines[damon_rows],
                        [n for n, s in zip(h.events, slots, strict=True) if s == "damon"])
        if sample_rows.size:
            fingerprint = _fingerprints(text, starts, ends, frame, heads, n_frames)
            self._samples(text, pos, hs[sample_rows], h, sample_rows, body_start[sample_rows],
                          body_end[sample_rows], n_frames[sample_rows], lines[sample_rows],
                          fingerprint[sample_rows])
        return first_line + len(ends)

    def _slot(self, raw_event: bytes) -> str:
        """``"damon"`` or ``"sample"``; declines for every other kind of line."""
        slot = self.p.slots.get(raw_event)
        if slot is None:
            if raw_event.startswith(b"PERF_RECORD_"):
                raise _Decline
            slot = self.p.slots[raw_event] = self.p._slot(raw_event)
        if slot.samples is not None:
            return "sample"
        if slot.damon and event_kind(slot.name) == DAMON_AGGREGATED:
            if self.damon_event not in (None, raw_event):
                raise _Decline  # two spellings of the event: keep the general reader's order
            self.damon_event = raw_event
            return "damon"
        raise _Decline

    # -- samples ----------------------------------------------------------------------------

    def _samples(self, text: _Buf, pos: int, hs: I64, h: _Headers, rows: I64,
                 body_start: I64, body_end: I64, n_frames: I64, lines: I64,
                 fingerprint: U64) -> None:
        p = self.p
        codes, prefixes = _intern(text, hs, h.prefix_len[rows])
        _check_prefixes(prefixes, p.prefix_thread)
        threads = np.empty(len(prefixes), dtype=np.int64)
        for i, prefix in enumerate(prefixes):
            index = p.prefix_thread.get(prefix)
            if index is None:
                fields = _fields(p, prefix, lines, codes, i)
                index = p.prefix_thread[prefix] = p._thread(fields)
            threads[i] = index
        thread = threads[codes]
        kept_thread = np.array(p.thread_kept, dtype=bool)
        keep = kept_thread[thread]
        p.filtered += int((~keep).sum())
        keep_idx = np.flatnonzero(keep)
        # callchains: by their bytes; a new one through the reader's own code
        stack_arr = np.full(len(keep_idx), p.empty_stack, dtype=np.int64)
        with_body = np.flatnonzero(n_frames[keep_idx] > 0)
        if with_body.size:
            chosen = keep_idx[with_body]
            stack_arr[with_body] = self._stacks(text, pos, body_start[chosen],
                                                body_end[chosen], lines[chosen],
                                                fingerprint[chosen])
        event = h.event[rows][keep_idx]
        time_ns = h.time_ns[rows][keep_idx]
        period = h.period[rows][keep_idx]
        thread_k = thread[keep_idx]
        for code in np.unique(h.event[rows]).tolist():
            slot = p.slots[h.events[code]]
            slot.count += int((h.event[rows] == code).sum())
        for code in np.unique(event).tolist():
            sel = np.flatnonzero(event == code)
            ev = p.slots[h.events[code]].samples
            assert ev is not None
            s = stack_arr[sel]
            ev.arrays.append((time_ns[sel], thread_k[sel], s, period[sel]))
            ev.with_callchain += int((s != p.empty_stack).sum())

    def _stacks(self, text: _Buf, pos: int, start: I64, end: I64, lines: I64,
                fingerprint: U64) -> I64:
        """The stack of each callchain ``[start, end)`` (chunk offsets): callchains are
        grouped by their fingerprint, each group's first is looked up (or parsed by the
        reader, in order of first appearance), and every member is checked byte for byte
        against it; a member that differs is looked up on its own."""
        p = self.p
        length = end - start
        _, first, inverse = np.unique(fingerprint, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        chunk = self.data[pos:pos + int(text.u8.size)]  # bytes of this chunk (and a little more)
        starts = start.tolist()
        ends = end.tolist()
        firsts = first.tolist()
        bodies = [chunk[starts[r]:ends[r]] for r in firsts]
        same = length == length[first][inverse]
        same &= np.fromiter(map(chunk.startswith, np.array(bodies, dtype=object)[inverse],
                                starts), dtype=bool, count=len(starts))
        if not same.all():  # a fingerprint shared by different callchains
            extra: dict[bytes, int] = {}
            for r in np.flatnonzero(~same).tolist():
                body = chunk[starts[r]:ends[r]]
                group = extra.get(body)
                if group is None:
                    group = extra[body] = len(bodies)
                    bodies.append(body)
                    firsts.append(r)
                inverse[r] = group
        group_stack = np.empty(len(bodies), dtype=np.int64)
        get = p.block_stack.get
        for g in sorted(range(len(bodies)), key=firsts.__getitem__):
            body = bodies[g]
            stack = get(body)
            if stack is None:
                stack = p._stack(body.split(b"\n"), int(lines[firsts[g]]))
            group_stack[g] = stack
        out: I64 = group_stack[inverse]
        return out

    # -- DAMON ------------------------------------------------------------------------------

    def _damon(self, text: _Buf, hs: I64, he: I64, h: _Headers, rows: I64, lines: I64,
               names: list[bytes]) -> None:
        p = self.p
        codes, prefixes = _intern(text, hs, h.prefix_len[rows])
        _check_prefixes(prefixes, p.prefix_label)
        label_of = np.empty(len(prefixes), dtype=np.int64)
        for i, prefix in enumerate(prefixes):
            label = p.prefix_label.get(prefix)
            if label is None:
                comm, pid, tid = _fields(p, prefix, lines, codes, i)
                label = p.prefix_label[prefix] = f"{comm} {pid if pid is not None else tid}"
            label_of[i] = self.label_index.setdefault(label, len(self.label_index))
            if label_of[i] == len(self.labels):
                self.labels.append(label)
        for name in names:
            p.slots[name].count += len(rows)  # one DAMON spelling per text (see _slot)
        target, nr, start, end, acc, age = _damon_payloads(text, h.payload[rows], he)
        self.damon_parts.append(RegionEvents(self.labels, label_of[codes], target,
                                             h.time_ns[rows], nr, start, end, acc, age))
        self.damon_lines.append(lines)

    def _finish_damon(self) -> None:
        if not self.damon_parts:
            return
        p = self.p
        events = RegionEvents.concatenate(self.labels, self.damon_parts, consume=True)
        self.damon_parts = []
        lines = np.concatenate(self.damon_lines)
        source = p.source

        def where(i: int) -> str:
            return f"{source}:{int(lines[i])}"

        record, notes = damon_fast.build(events, p.clock, source, p.skipped, where)
        assembled = damon_fast.Assembled(p.clock, source, p.damon, record, len(events))
        assembled.notes.extend(notes)
        p.damon = assembled


# -- 8 bytes at a time -------------------------------------------------------------------------

_U = np.uint64
_ALL = _U(0xFFFFFFFFFFFFFFFF)
_HIGH = _U(0x8080808080808080)
_LOW7 = _U(0x7F7F7F7F7F7F7F7F)
_ZEROS = _U(0x3030303030303030)  # "00000000"
_HIGH_NIBBLES = _U(0xF0F0F0F0F0F0F0F0)
_LOW_NIBBLES = _U(0x0F0F0F0F0F0F0F0F)
_SIXES = _U(0x0606060606060606)
_SIXTEENS = _U(0x1010101010101010)
_CONSTANT_PASSES = 4
"""Distinct thread columns compared directly before hashing the rest (see _intern)."""
_POW10 = np.array([10**i for i in range(20)], dtype=np.uint64)
_HASH_MUL2 = _U(0x9E3779B97F4A7C15)


class _Buf:
    """A padded chunk, read a byte or 8 bytes (a little-endian word) at a time."""

    def __init__(self, padded: U8) -> None:
        self.u8 = padded
        self.u64 = padded.view(np.uint64)

    def byte(self, pos: I64) -> U8:
        out: U8 = self.u8.take(pos)
        return out

    def word(self, pos: I64) -> U64:
        """Bytes ``pos .. pos+7`` of each position, byte ``pos`` lowest."""
        index = pos >> 3
        shift = ((pos & 7) << 3).astype(np.uint64)
        out: U64 = (self.u64.take(index) >> shift) | (self.u64.take(index + 1) << (_U(64) - shift))
        return out


def _nondigit(w: U64) -> U64:
    """Per byte: bit 7 set where the byte is not an ASCII digit, every other bit clear."""
    x = w & _LOW7
    at_least_0 = (x + _U(0x5050505050505050)) & _HIGH  # x + 0x80 - '0'
    above_9 = (x + _U(0x4646464646464646)) & _HIGH  # x + 0x7f - '9'
    out: U64 = ~(at_least_0 & ~above_9 & ~w) & _HIGH
    return out


def _first_set(flags: U64) -> I64:
    """Index of the lowest byte whose bit 7 is set (flags as :func:`_nondigit` gives them),
    8 if none."""
    low = (flags & (~flags + _U(1))) >> _U(7)  # byte i holds 1
    index = ((low * _U(0x0001020304050607)) >> _U(56)).astype(np.int64)
    return np.where(flags == 0, 8, index)


def _last_set(flags: U64) -> I64:
    """Index of the highest byte whose bit 7 is set, -1 if none."""
    return 7 - _first_set(flags.byteswap())


def _zero_bytes(x: U64) -> U64:
    """Per byte: nonzero exactly where the byte of ``x`` is zero."""
    t = (x & _U(0x7F7F7F7F7F7F7F7F)) + _U(0x7F7F7F7F7F7F7F7F)
    out: U64 = ~(t | x | _U(0x7F7F7F7F7F7F7F7F))
    return out


def _blank(w: U64) -> U64:
    """Per byte: nonzero where the byte is whitespace (space, tab, LF, VT, FF, CR)."""
    out = _zero_bytes(w ^ _U(0x2020202020202020))
    for c in (9, 10, 11, 12, 13):
        out |= _zero_bytes(w ^ _U(0x0101010101010101 * c))
    return out


def _swar(w: U64, n: I64) -> U64:
    """The number written by the first ``n`` (0..8) bytes of each word (ASCII digits)."""
    shift = ((8 - n) * 8).astype(np.uint64)
    x = ((w << shift) | (_ZEROS >> (_U(64) - shift))) - _ZEROS
    x = (x * _U(10) + (x >> _U(8))) & _U(0x00FF00FF00FF00FF)
    x = (x * _U(100) + (x >> _U(16))) & _U(0x0000FFFF0000FFFF)
    out: U64 = (x * _U(10000) + (x >> _U(32))) & _U(0xFFFFFFFF)
    return out


def _digits(text: _Buf, at: I64) -> tuple[I64, U64]:
    """Length (0..16) and value of the run of digits starting at each ``at``."""
    w = text.word(at)
    length = _first_set(_nondigit(w))
    value = _swar(w, length)
    more = np.flatnonzero(length == 8)
    if more.size:
        w2 = text.word(at[more] + 8)
        n2 = _first_set(_nondigit(w2))
        if bool((n2 == 8).any()):
            raise _Decline  # 16 digits or more
        value[more] = value[more] * _POW10[n2] + _swar(w2, n2)
        length[more] += n2
    return length, value


def _digits_before(text: _Buf, end: I64) -> tuple[I64, U64]:
    """Length (0..16) and value of the run of digits ending just before each ``end``."""
    w = text.word(end - 8)
    length = 7 - _last_set(_nondigit(w))
    value = _swar(w >> ((8 - length) * 8).astype(np.uint64), length)
    more = np.flatnonzero(length == 8)
    if more.size:
        w2 = text.word(end[more] - 16)
        n2 = 7 - _last_set(_nondigit(w2))
        if bool((n2 == 8).any()):
            raise _Decline
        high = _swar(w2 >> ((8 - n2) * 8).astype(np.uint64), n2)
        value[more] = high * _POW10[8] + value[more]
        length[more] += n2
    return length, value


def _mask(n: I64) -> U64:
    """Words keeping their first ``n`` bytes (n clipped to 0..8)."""
    k = np.clip(n, 0, 8).astype(np.uint64) * _U(8)
    out: U64 = np.where(k >= _U(64), _ALL, (_U(1) << k) - _U(1))
    return out


def _same(text: _Buf, pos: I64, literal: bytes) -> Bool:
    """Whether the bytes at each position are ``literal``."""
    ok = np.ones(len(pos), dtype=bool)
    for i in range(0, len(literal), 8):
        part = literal[i:i + 8]
        want = _U(int.from_bytes(part, "little"))
        keep = _ALL if len(part) == 8 else _U((1 << (8 * len(part))) - 1)
        ok &= (text.word(pos + i) & keep) == want
    return ok


# -- headers ----------------------------------------------------------------------------------

def _parse_headers(text: _Buf, hs: I64, he: I64) -> _Headers:
    """Every header line ``[hs, he)``: parsed like the reader's _TIME and _EVENT patterns do,
    one layout at a time (see the module docs)."""
    n = len(hs)
    time_ns = np.zeros(n, dtype=np.int64)
    prefix_len = np.zeros(n, dtype=np.int64)
    period = np.zeros(n, dtype=np.int64)
    event = np.zeros(n, dtype=np.int64)
    payload = np.zeros(n, dtype=np.int64)
    names: dict[bytes, int] = {}
    remaining = np.arange(n)
    for _ in range(MAX_GROUPS):
        if remaining.size == 0:
            return _Headers(time_ns, prefix_len, period, event, list(names), payload)
        r0 = int(remaining[0])
        line = text.u8[hs[r0]:he[r0]].tobytes()
        m = _TIME.search(line)
        em = _EVENT.match(line, m.end()) if m is not None else None
        if m is None or em is None:
            raise _Decline  # no time field, or no event after it
        colon = m.end() - 1
        frac = len(m[2])
        dot = colon - frac - 1
        if frac > 16:
            raise _Decline
        p2 = em.end(1) if em[1] is not None else -1
        pe = em.end()
        rows = remaining
        length = he[rows] - hs[rows]
        ok = length > pe - 1
        # a line shorter than the layout cannot match it: read the first line in its place, so
        # no read goes past the end of the buffer (a long first line, a short last one)
        base = np.where(ok, hs[rows], hs[r0])
        # the time: '.', frac digits, ':' and the byte after it as in the first line
        ok &= text.byte(base + dot) == 46
        ok &= _same(text, base + colon, line[colon:colon + 2])
        frac_len, frac_value = _digits(text, base + dot + 1)
        ok &= frac_len == frac
        secs_len, secs_value = _digits_before(text, base + dot)
        ok &= (secs_len >= 1) & (secs_len <= 9) & (dot - 1 - secs_len >= 0)
        q = dot - 1 - secs_len
        ok &= _WS[text.byte(base + q)]
        # the period: blanks, then digits ending where the first line's did
        if p2 >= 0:
            period_len, period_value = _digits_before(text, base + p2)
            blanks = p2 - period_len - colon - 1
            ok &= (period_len >= 1) & (blanks >= 0)
            run = _ws_run(text, base + colon + 1, 16)
            ok &= run == blanks
            rest = p2
        else:
            rest = colon + 1
        # the rest up to the payload: byte for byte the first line's (event name, blanks)
        ok &= _same(text, base + rest, line[rest:pe])
        ok &= (length == pe) | ~_WS[text.byte(base + pe)]
        if not ok[0]:
            raise _Decline  # the layout does not describe its own line
        sel = rows[ok]
        if frac >= 9:
            frac_ns = (frac_value[ok] // _POW10[frac - 9]).astype(np.int64)
        else:
            frac_ns = frac_value[ok].astype(np.int64) * 10 ** (9 - frac)
        time_ns[sel] = secs_value[ok].astype(np.int64) * 1_000_000_000 + frac_ns
        prefix_len[sel] = q[ok]
        if p2 >= 0:
            period[sel] = period_value[ok].astype(np.int64)
        event[sel] = names.setdefault(em[2], len(names))
        payload[sel] = base[ok] + pe
        remaining = rows[~ok]
    raise _Decline  # too many layouts


def _ws_run(text: _Buf, at: I64, limit: int) -> I64:
    """Length of the run of whitespace starting at each ``at`` (at most ``limit``)."""
    length = np.zeros(len(at), dtype=np.int64)
    going = np.ones(len(at), dtype=bool)
    for i in range(0, limit, 8):
        first = _first_set(~_blank(text.word(at + i)) & _U(0x8080808080808080))
        length += np.where(going, first, 0)
        going &= first == 8
        if not going.any():
            return length
    raise _Decline


def _fingerprints(text: _Buf, starts: I64, ends: I64, frame: Bool, heads: I64,
                  n_frames: I64) -> U64:
    """Per header: a hash of its callchain lines' lengths and first 16 bytes (the address
    column, which tells frames apart), mixed with their order."""
    lines = np.flatnonzero(frame)
    fp = np.zeros(len(heads), dtype=np.uint64)
    if lines.size == 0:
        return fp
    at = starts[lines] + _LEAD
    with np.errstate(over="ignore"):
        h = (ends[lines] - starts[lines]).astype(np.uint64) * _HASH_MUL2
        h = (h ^ text.word(at + 1)) * _HASH_MUL2
        h ^= h >> _U(29)
        h = (h ^ text.word(at + 9)) * _HASH_MUL2
        is_head = np.zeros(len(starts), dtype=np.int64)
        is_head[heads] = 1
        owner = np.cumsum(is_head)[lines] - 1  # the header each callchain line belongs to
        depth = (lines - heads[owner]).astype(np.uint64)
        h = (h ^ (depth * _U(0xD6E8FEB86659FD93))) * _HASH_MUL2
        h ^= h >> _U(32)
        has = np.flatnonzero(n_frames > 0)
        fp[has] = np.add.reduceat(h, np.searchsorted(owner, has))
    return fp


def _fields(p: _Parser, prefix: bytes, lines: I64, codes: I64,
            code: int) -> tuple[str, int | None, int]:
    """The reader's (comm, pid, tid) of a thread column; ids it would refuse go to the
    general reader, which refuses them at the right line."""
    _, pid, tid = _thread_fields(prefix)
    if not -_ID_LIMIT <= tid < _ID_LIMIT or (pid is not None
                                            and not -_ID_LIMIT <= pid < _ID_LIMIT):
        raise _Decline
    return p._fields(prefix, int(lines[int(np.argmax(codes == code))]))


def _check_prefixes(prefixes: list[bytes], known: Container[bytes]) -> None:
    """A thread column holding something like a time field would make the reader's pattern
    match there, not where the layout says: such texts go to the general reader."""
    for prefix in prefixes:
        if prefix not in known and _TIME.search(prefix + b" ") is not None:
            raise _Decline


def _intern(text: _Buf, starts: I64, lengths: I64) -> tuple[I64, list[bytes]]:
    """Distinct byte strings ``[start, start+length)``: each row's index, and the strings in
    order of first appearance (hashed 8 bytes at a time, then checked byte for byte)."""
    n = len(starts)
    if n == 0:
        return np.zeros(0, dtype=np.int64), []
    width = int(lengths.max())
    if width > 512:
        raise _Decline
    # most chunks hold a few threads: compare with each one's bytes as constants first
    codes = np.full(n, -1, dtype=np.int64)
    strings: list[bytes] = []
    remaining = np.arange(n)
    for _ in range(_CONSTANT_PASSES):
        if remaining.size == 0:
            return codes, strings
        r0 = int(remaining[0])
        string = text.u8[int(starts[r0]):int(starts[r0]) + int(lengths[r0])].tobytes()
        match = (lengths[remaining] == len(string)) & _same(text, starts[remaining], string)
        codes[remaining[match]] = len(strings)
        strings.append(string)
        remaining = remaining[~match]
    if remaining.size == 0:
        return codes, strings
    rest_codes, rest_strings = _intern_hashed(text, starts[remaining], lengths[remaining],
                                              width)
    # each pass took the earliest row left, so every string left first appears later
    codes[remaining] = rest_codes + len(strings)
    return codes, strings + rest_strings


def _intern_hashed(text: _Buf, starts: I64, lengths: I64, width: int
                   ) -> tuple[I64, list[bytes]]:
    h = lengths.astype(np.uint64)
    with np.errstate(over="ignore"):
        for i in range(0, width, 8):
            w = text.word(starts + i) & _mask(lengths - i)
            h = (h ^ w) * _HASH_MUL2
            h ^= h >> _U(29)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    rep = first[inverse]
    same = lengths == lengths[rep]
    rep_starts = starts[rep]
    for i in range(0, width, 8):
        keep = _mask(lengths - i)
        same &= ((text.word(starts + i) ^ text.word(rep_starts + i)) & keep) == 0
    if not same.all():
        raise _Decline  # a hash collision: let the general reader do it
    appearance = np.argsort(first, kind="stable")
    rank = np.empty(len(first), dtype=np.int64)
    rank[appearance] = np.arange(len(first))
    strings = [text.u8[int(starts[f]):int(starts[f]) + int(lengths[f])].tobytes()
               for f in first[appearance].tolist()]
    return rank[inverse], strings


# -- DAMON payloads ---------------------------------------------------------------------------

def _damon_payloads(text: _Buf, at: I64, line_end: I64) -> tuple[U64, I64, U64, U64, I64,
                                                                I64]:
    """``target_id=T nr_regions=N S-E: A [G]`` (exactly; else the general reader): the six
    numbers, age -1 where absent. Anything may follow the age, as the reader's pattern allows."""
    values: list[U64] = []
    for literal in (b"target_id=", b" nr_regions=", b" ", b"-", b": "):
        if not bool(_same(text, at, literal).all()):
            raise _Decline
        at = at + len(literal)
        length, value = _digits(text, at)
        if bool((length == 0).any()):
            raise _Decline
        values.append(value)
        at = at + length
    if bool((at > line_end).any()):
        raise _Decline
    # age: whitespace, then digits (a '-' sign is damo's placeholder: the general reader)
    gap = _ws_run(text, at, 64)
    age_at = at + gap
    inside = (gap > 0) & (age_at < line_end)
    after = text.byte(age_at)
    if bool((inside & (after == 45)).any()):
        raise _Decline
    has_age = inside & _DIGIT[after]
    _, age_value = _digits(text, age_at)
    age = np.where(has_age, age_value.astype(np.int64), -1)
    target, nr, start, end, acc = values
    return (target, nr.astype(np.int64), start, end, acc.astype(np.int64), age)
