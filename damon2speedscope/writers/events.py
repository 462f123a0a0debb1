"""Evented profiles at scale: balanced open/close events computed with numpy, written as JSON
bytes without a Python object per event.

A thread's samples become *pieces*: time spans ``[start, end)`` with a real stack (an index
into :class:`StackTable`) and a *key* (the DAMON interval, or 0). The full stack of a piece is
the key's prefix row (burst and interval frames, possibly empty) followed by the real stack.
Between two consecutive pieces the events are exactly those of ``speedscope._Events.piece``:

* the previous piece's frames above the common prefix close, at the new start; when the new
  piece starts after the previous one ended, ALL previous frames close at the previous end;
  when it has another key (the next DAMON interval), the common prefix is at most the burst
  root (depth 1): the interval frame and everything above it close and reopen at the new
  start, so intervals stay visible while one burst stays one bar;
* the new piece's frames above the common prefix open at its start;
* after the last piece every open frame closes at its end.

Here the common prefix of every pair is computed once per distinct pair of stacks, the events
of a piece are rendered from a per-transition byte template into which only the two times are
filled in, and pieces are processed in chunks so memory stays bounded.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import orjson

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

RESET_KEY = 1
RESET_GAP = 2
CHUNK_PIECES = 1 << 16
"""Pieces processed at once: bounds the temporary arrays to a few MB."""

_OPEN = b'{"type":"O","frame":'
_CLOSE = b'{"type":"C","frame":'
_AT = b',"at":'
_SMALL_GROUP = 48
"""Pieces of one template below which formatting them one by one beats the array path."""
_DIGIT_LIMITS = np.array([10**i for i in range(1, 19)], dtype=np.int64)


class StackTable:
    """Root-first stacks in flat numpy form, with a cache of common-prefix lengths."""

    def __init__(self, stacks: Sequence[tuple[int, ...]]) -> None:
        n = len(stacks)
        self.stacks = stacks
        self.count = n
        self.length: I64 = np.fromiter((len(s) for s in stacks), dtype=np.int64, count=n)
        self.offset: I64 = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(self.length, out=self.offset[1:])
        self.flat: I64 = np.fromiter(itertools.chain.from_iterable(stacks), dtype=np.int64,
                                     count=int(self.offset[-1]))
        self._lcp: dict[tuple[int, int], int] = {}

    def lcp(self, a: I64, b: I64) -> I64:
        """Length of the common prefix of stacks ``a[i]`` and ``b[i]``."""
        out: I64 = np.minimum(self.length[a], self.length[b])
        differ = np.flatnonzero(a != b)
        if differ.size == 0:
            return out
        pairs = np.stack([a[differ], b[differ]], axis=1)
        uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
        values = np.empty(len(uniq), dtype=np.int64)
        cache = self._lcp
        stacks = self.stacks
        for i, (x, y) in enumerate(uniq.tolist()):
            key = (x, y)
            v = cache.get(key)
            if v is None:
                sx, sy = stacks[x], stacks[y]
                limit = min(len(sx), len(sy))
                v = 0
                while v < limit and sx[v] == sy[v]:
                    v += 1
                cache[key] = v
            values[i] = v
        out[differ] = values[inverse.reshape(-1)]
        return out


@dataclass
class Pieces:
    """Consecutive pieces of one profile, in time order."""

    start: I64
    end: I64
    key: I64  # DAMON interval index (-1 outside the record), or 0 without DAMON
    stack: I64  # index into the StackTable

    def __len__(self) -> int:
        return int(self.start.shape[0])


def cut_pieces(times: I64, durations: I64, stacks: I64, bounds: I64 | None,
               interval_start: I64 | None, interval_end: I64 | None) -> Pieces:
    """Samples → pieces: each sample covers ``[t - d, t)``, cut at every interval bound
    strictly inside it; empty pieces are dropped; each piece is keyed by the interval its
    start falls in (-1 outside every interval). Without intervals a sample is one piece of
    key 0 when its duration is positive."""
    a = times - durations
    if bounds is None or interval_start is None or interval_end is None:
        keep = durations > 0
        return Pieces(a[keep], times[keep], np.zeros(int(keep.sum()), dtype=np.int64),
                      stacks[keep])
    if bounds.size:
        lo = np.searchsorted(bounds, a, side="right")
        hi = np.searchsorted(bounds, times, side="left")
        cuts = np.maximum(hi - lo, 0)
    else:
        lo = cuts = np.zeros(len(times), dtype=np.int64)
    multi = np.flatnonzero(cuts)
    if multi.size == 0:
        start, end, stack = a, times, stacks
    else:
        # samples spanning interval bounds (few: one per bound at most) are cut into pieces;
        # the pieces of sample i start at index first[i]
        first = np.arange(len(times), dtype=np.int64)
        first[1:] += np.cumsum(cuts)[:-1]
        total = len(times) + int(cuts.sum())
        start = np.empty(total, dtype=np.int64)
        end = np.empty(total, dtype=np.int64)
        stack = np.empty(total, dtype=stacks.dtype)
        single = cuts == 0
        at = first[single]
        start[at], end[at], stack[at] = a[single], times[single], stacks[single]
        per = cuts[multi] + 1
        sample = np.repeat(multi, per)
        j = np.arange(int(per.sum()), dtype=np.int64) - np.repeat(np.cumsum(per) - per, per)
        lo_s = lo[sample]
        last = len(bounds) - 1
        at = first[sample] + j
        start[at] = np.where(j == 0, a[sample], bounds[np.clip(lo_s + j - 1, 0, last)])
        end[at] = np.where(j == cuts[sample], times[sample], bounds[np.clip(lo_s + j, 0, last)])
        stack[at] = stacks[sample]
    keep = end > start
    start, end, stack = start[keep], end[keep], stack[keep]
    return Pieces(start, end, intervals_at(start, interval_start, interval_end), stack)


def intervals_at(t: I64, interval_start: I64, interval_end: I64) -> I64:
    """Index of the interval ``[start, end)`` holding each time, -1 if none (``start`` sorted:
    the last interval starting at or before ``t``)."""
    k = np.searchsorted(interval_start, t, side="right") - 1
    if interval_start.size == 0:
        return np.full(len(t), -1, dtype=np.int64)
    inside = (k >= 0) & (t < interval_end[np.maximum(k, 0)])
    return np.where(inside, k, -1).astype(np.int64)


@dataclass
class _Transitions:
    """What happens at the start of each piece of a chunk."""

    prev_key: I64
    prev_stack: I64
    prev_len: I64
    common: I64
    n_close: I64
    n_open: I64
    close_at: I64
    reset: npt.NDArray[np.int64]  # 0 none, RESET_KEY (new interval), RESET_GAP (gap)


class EventStream:
    """Open/close events of one evented profile, fed pieces chunk by chunk.

    ``prefix`` holds one row of frames per key + 1 (row 0: key -1); without DAMON it has one
    row and no columns. :meth:`arrays` gives the events as arrays, :meth:`json` as the comma
    separated JSON objects speedscope reads (the same bytes orjson writes for the dicts).
    """

    def __init__(self, stacks: StackTable, prefix: I64) -> None:
        self.stacks = stacks
        self.prefix = prefix
        self.width = int(prefix.shape[1])
        self.has_prev = False
        self.prev_end = 0
        self.prev_key = 0
        self.prev_stack = 0
        self._templates: dict[tuple[int, ...], _Template] = {}

    # -- the event logic --------------------------------------------------------------------

    def _transitions(self, p: Pieces) -> _Transitions:
        m = len(p)
        width = self.width
        length = self.stacks.length
        prev_key = np.empty(m, dtype=np.int64)
        prev_stack = np.empty(m, dtype=np.int64)
        prev_end = np.empty(m, dtype=np.int64)
        prev_key[1:] = p.key[:-1]
        prev_stack[1:] = p.stack[:-1]
        prev_end[1:] = p.end[:-1]
        prev_key[0], prev_stack[0], prev_end[0] = self.prev_key, self.prev_stack, self.prev_end
        prev_len = width + length[prev_stack]
        if not self.has_prev:
            prev_len[0] = 0
        reset = np.where(p.start > prev_end, RESET_GAP,
                         np.where(p.key != prev_key, RESET_KEY, 0)).astype(np.int64)
        if not self.has_prev:
            reset[0] = RESET_GAP
        common = np.zeros(m, dtype=np.int64)
        keep = np.flatnonzero(reset == 0)
        if keep.size:
            common[keep] = width + self.stacks.lcp(prev_stack[keep], p.stack[keep])
        if width:
            moved = np.flatnonzero(reset == RESET_KEY)
            same_root = self.prefix[prev_key[moved] + 1, 0] == self.prefix[p.key[moved] + 1, 0]
            common[moved] = same_root.astype(np.int64)
        cur_len = width + length[p.stack]
        close_at = np.minimum(p.start, prev_end)
        self.has_prev = True
        self.prev_key, self.prev_stack, self.prev_end = (int(p.key[-1]), int(p.stack[-1]),
                                                         int(p.end[-1]))
        return _Transitions(prev_key, prev_stack, prev_len, common, prev_len - common,
                            cur_len - common, close_at, reset)

    def _frames_at(self, key: I64, stack: I64, depth: I64) -> I64:
        """Frame at ``depth`` of the full stack (prefix row of ``key``, then ``stack``)."""
        width = self.width
        out = np.empty(len(depth), dtype=np.int64)
        in_prefix = depth < width
        if width:
            w = np.flatnonzero(in_prefix)
            out[w] = self.prefix[key[w] + 1, depth[w]]
        r = np.flatnonzero(~in_prefix)
        out[r] = self.stacks.flat[self.stacks.offset[stack[r]] + depth[r] - width]
        return out

    def arrays(self, p: Pieces) -> tuple[npt.NDArray[np.bool_], I64, I64]:
        """(is_close, frame, at) of every event the pieces start, in order."""
        if len(p) == 0:
            return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64), np.zeros(
                0, dtype=np.int64)
        tr = self._transitions(p)
        count = tr.n_close + tr.n_open
        total = int(count.sum())
        piece = np.repeat(np.arange(len(p)), count)
        u = np.arange(total, dtype=np.int64) - (np.cumsum(count) - count)[piece]
        n_close = tr.n_close[piece]
        is_close = u < n_close
        depth = np.where(is_close, tr.prev_len[piece] - 1 - u, tr.common[piece] + u - n_close)
        key = np.where(is_close, tr.prev_key[piece], p.key[piece])
        stack = np.where(is_close, tr.prev_stack[piece], p.stack[piece])
        at = np.where(is_close, tr.close_at[piece], p.start[piece])
        return is_close, self._frames_at(key, stack, depth), at

    def final(self) -> list[int]:
        """Frames still open after the last piece, innermost first (they close at its end)."""
        if not self.has_prev:
            return []
        prefix = [int(f) for f in self.prefix[self.prev_key + 1]] if self.width else []
        full = prefix + list(self.stacks.stacks[self.prev_stack])
        return full[::-1]

    # -- JSON -------------------------------------------------------------------------------

    def _template(self, key: tuple[int, ...]) -> _Template:
        tpl = self._templates.get(key)
        if tpl is None:
            reset, prev_key, prev_stack, cur_key, cur_stack, common = key
            width = self.width
            if reset and prev_stack < 0:
                prev: list[int] = []
            else:
                prev = ([int(f) for f in self.prefix[prev_key + 1]] if width else []) + list(
                    self.stacks.stacks[prev_stack])
            cur = ([int(f) for f in self.prefix[cur_key + 1]] if width else []) + list(
                self.stacks.stacks[cur_stack])
            tpl = _Template.of(prev[common:][::-1], cur[common:])
            self._templates[key] = tpl
        return tpl

    def json(self, p: Pieces) -> bytes:
        """The events the pieces start, as comma-separated JSON objects (no brackets)."""
        if len(p) == 0:
            return b""
        first_ever = not self.has_prev
        tr = self._transitions(p)
        active = np.flatnonzero((tr.n_close + tr.n_open) > 0)
        if active.size == 0:
            return b""
        # one template per distinct transition: the pair of stacks, whether everything closes,
        # and for such resets the two intervals (the prefix frames close and open too)
        reset = tr.reset[active]
        prev_key = np.where(reset > 0, tr.prev_key[active], 0) + 1
        cur_key = np.where(reset > 0, p.key[active], 0) + 1
        prev_stack = tr.prev_stack[active].copy()
        if first_ever and active[0] == 0:
            prev_stack[0] = -1  # nothing was open before the first piece
        cur_stack = p.stack[active]
        _, pair_id = np.unique((prev_stack + 1) * (self.stacks.count + 1) + cur_stack,
                                   return_inverse=True)
        keys = len(self.prefix) + 1
        code = ((pair_id.reshape(-1) * 3 + reset) * keys + prev_key) * keys + cur_key
        _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        rows = np.stack([reset[first], prev_key[first] - 1, prev_stack[first],
                         cur_key[first] - 1, cur_stack[first], tr.common[active][first]], axis=1)
        templates = [self._template(tuple(r)) for r in rows.tolist()]
        close_at = tr.close_at[active]
        open_at = p.start[active]
        d_close = _digits(close_at)
        d_open = _digits(open_at)
        shape = (inverse * 32 + d_close) * 32 + d_open
        order = np.argsort(shape, kind="stable")
        sorted_shape = shape[order]
        bounds = np.flatnonzero(np.diff(sorted_shape)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(order)]])
        parts = np.empty(len(active), dtype=object)
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            idx = order[s:e]
            code = int(sorted_shape[s])
            tpl = templates[code // 1024]
            if e - s < _SMALL_GROUP:
                parts[idx] = tpl.render_few(close_at[idx].tolist(), open_at[idx].tolist())
            else:
                parts[idx] = tpl.render(close_at[idx], open_at[idx], (code // 32) % 32,
                                        code % 32)
        return b",".join(parts.tolist())


def _digits(values: I64) -> I64:
    """Characters of each integer in decimal, sign included."""
    a = np.abs(values)
    d = np.searchsorted(_DIGIT_LIMITS, a, side="right") + 1
    return (d + (values < 0)).astype(np.int64)


def _fixed_width(values: I64, width: int) -> U8:
    """Decimal text of integers that all have ``width`` characters, one row each."""
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    flat = np.frombuffer(text[1:-1] + b",", dtype=np.uint8)
    return flat.reshape(len(values), width + 1)[:, :width]


@dataclass
class _Template:
    """The JSON of one transition's events with its times left out."""

    literals: list[bytes]  # literal i precedes time i; the last one closes the last object
    closes: int  # the first ``closes`` times are the close time, the rest the open time
    _layouts: dict[tuple[int, int], tuple[U8, I64, I64, I64, I64]] = field(
        default_factory=dict)

    @classmethod
    def of(cls, closes: list[int], opens: list[int]) -> _Template:
        literals: list[bytes] = []
        sep = b""
        for f in closes:
            literals.append(sep + _CLOSE + b"%d" % f + _AT)
            sep = b"},"
        for f in opens:
            literals.append(sep + _OPEN + b"%d" % f + _AT)
            sep = b"},"
        literals.append(b"}")
        return cls(literals, len(closes))

    def layout(self, d_close: int, d_open: int) -> tuple[U8, I64, I64, I64, I64]:
        """The row with blank times, and where the close and open times go."""
        cached = self._layouts.get((d_close, d_open))
        if cached is not None:
            return cached
        n_open = len(self.literals) - 1 - self.closes
        widths = [d_close] * self.closes + [d_open] * n_open
        text: list[bytes] = []
        cols: list[int] = []
        pos = 0
        for lit, width in zip(self.literals, [*widths, 0], strict=True):
            text.append(lit)
            pos += len(lit)
            cols.extend(range(pos, pos + width))
            text.append(b"0" * width)
            pos += width
        row = np.frombuffer(b"".join(text), dtype=np.uint8)
        split = d_close * self.closes
        layout = (row, np.array(cols[:split], dtype=np.int64),
                  np.tile(np.arange(d_close, dtype=np.int64), self.closes),
                  np.array(cols[split:], dtype=np.int64),
                  np.tile(np.arange(d_open, dtype=np.int64), n_open))
        self._layouts[(d_close, d_open)] = layout
        return layout

    def render_few(self, close_at: list[int], open_at: list[int]) -> list[bytes]:
        """One byte string per piece, formatted one by one (for a handful of pieces)."""
        head, tail = self.literals[:self.closes], self.literals[self.closes:]
        out: list[bytes] = []
        for c, o in zip(close_at, open_at, strict=True):
            text = b"%d" % o
            if head:
                close = b"%d" % c
                out.append(close.join(head) + close + text.join(tail))
            else:
                out.append(text.join(tail))
        return out

    def render(self, close_at: I64, open_at: I64, d_close: int, d_open: int) -> list[bytes]:
        """One byte string per piece."""
        row, close_cols, close_sel, open_cols, open_sel = self.layout(d_close, d_open)
        row_len = len(row)
        matrix = np.empty((len(close_at), row_len), dtype=np.uint8)
        matrix[:] = row
        if close_cols.size:
            matrix[:, close_cols] = _fixed_width(close_at, d_close)[:, close_sel]
        if open_cols.size:
            matrix[:, open_cols] = _fixed_width(open_at, d_open)[:, open_sel]
        blob = matrix.tobytes()
        return [blob[i:i + row_len] for i in range(0, len(blob), row_len)]


def close_json(frames: list[int], at: int) -> bytes:
    """Close events of ``frames`` (innermost first), all at ``at``."""
    return b",".join(_CLOSE + b"%d" % f + _AT + b"%d}" % at for f in frames)


def chunks(p: Pieces, size: int | None = None) -> Iterator[Pieces]:
    """The pieces in consecutive chunks of ``size`` (default :data:`CHUNK_PIECES`)."""
    size = size or CHUNK_PIECES
    for i in range(0, len(p), size):
        yield Pieces(p.start[i:i + size], p.end[i:i + size], p.key[i:i + size],
                     p.stack[i:i + size])
