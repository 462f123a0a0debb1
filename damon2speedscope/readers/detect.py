"""Input format detection from the bytes alone (never from the file name or ``file``).

Order: perf.data magic; pickle (refused); the legacy DAMON record's ``damon_recfmt_ver`` magic;
compression magics (gzip, xz, bzip2, zstd, and zlib = damo's json_compressed; the caller
decompresses and detects again); JSON (first non-blank byte ``[`` or ``{``); binary data is a
headerless version-0 legacy record only if ALL of it parses as one (checked last), else refused
(text with a few NUL bytes in it is text: see :func:`_text_with_junk`); text is ``trace-cmd
report`` output when its event lines have trace-cmd's ``comm-pid [cpu]`` shape, else ``perf
script`` output.
"""

from __future__ import annotations

import enum
import mmap
import pickletools

from ..errors import FormatError
from . import compression
from .perf_data import PERF_MAGIC
from .recfmt import MAGIC as RECFMT_MAGIC
from .recfmt import looks_like_v0
from .trace_cmd import looks_like_trace_cmd

Buffer = bytes | bytearray | memoryview | mmap.mmap
"""What inputs may be: bytes, or a mapped file (read without copying where a reader can)."""


class InputKind(enum.Enum):
    PERF_DATA = "perf.data"
    PERF_SCRIPT = "perf script text"
    TRACE_CMD = "trace-cmd report text"
    DAMO_JSON = "damo json"
    DAMO_JSON_COMPRESSED = "damo json_compressed"
    DAMON_RECFMT = "DAMON legacy record (recfmt)"
    GZIP = "gzip"
    XZ = "xz"
    BZIP2 = "bzip2"
    ZSTD = "zstd"


COMPRESSED = {
    InputKind.GZIP: compression.GZIP,
    InputKind.XZ: compression.XZ,
    InputKind.BZIP2: compression.BZIP2,
    InputKind.ZSTD: compression.ZSTD,
    InputKind.DAMO_JSON_COMPRESSED: compression.ZLIB,
}
"""Kinds that wrap another input, with their codec."""

_BY_CODEC = {codec: kind for kind, codec in COMPRESSED.items()}
_SNIFF = 1 << 16
_PICKLE_CHECK_MAX = 64 << 20
_PICKLE_V0_START = frozenset(b"(]})cSVIFLNJKUXGTdlptu0P")


def _is_pickle(data: Buffer) -> bool:
    """Protocol 2+ starts with PROTO (0x80, version); 0 and 1 are a whole run of opcodes that
    ends with STOP (``.``) at the last byte. Only parsed with pickletools, never unpickled."""
    if data[:1] == b"\x80" and len(data) > 1 and data[1] <= 5:
        return True
    if data[-1:] != b"." or data[0] not in _PICKLE_V0_START \
            or len(data) > _PICKLE_CHECK_MAX:
        return False
    try:
        last = -1
        for opcode, _arg, pos in pickletools.genops(bytes(data)):
            if opcode.name == "STOP":
                last = pos if pos is not None else -1
                break
    except Exception:
        return False
    return last == len(data) - 1


_CONTROL = bytes(c for c in range(32) if c not in b"\t\n\r") + b"\x7f"


def _text_with_junk(head: bytes) -> bool:
    """Text with some NUL bytes in it (a zero-filled block after a crash, junk pasted in): at
    least half of it not NUL, and at most 1 in 20 of the rest control characters. It is read as
    text; the lines the junk spoils are counted as skipped. Binary data has far more control
    bytes (random bytes: 1 in 8) and a legacy DAMON record is mostly NULs."""
    nonzero = len(head) - head.count(0)
    if nonzero * 2 < len(head) or b"\n" not in head:
        return False
    control = nonzero - len(head.translate(None, _CONTROL))
    return control * 20 <= nonzero


def detect(data: Buffer, source: str) -> InputKind:
    """The kind of input; ``data`` may be a mapped file (only its head is copied, unless it
    is binary of no known format)."""
    if not len(data):
        raise FormatError("empty input", source)
    if data[:len(PERF_MAGIC)] == PERF_MAGIC:
        return InputKind.PERF_DATA
    if _is_pickle(data):
        raise FormatError("looks like a Python pickle: refused (no damo version wrote pickle, "
                          "and unpickling runs code)", source, offset=0)
    if data[:len(RECFMT_MAGIC)] == RECFMT_MAGIC:
        return InputKind.DAMON_RECFMT
    codec = compression.sniff(bytes(data[:_SNIFF]))
    if codec is not None:
        return _BY_CODEC[codec]
    head = bytes(data[:_SNIFF])
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    stripped = head.lstrip()
    if stripped[:1] in (b"[", b"{"):
        return InputKind.DAMO_JSON
    if b"\x00" in head and not _text_with_junk(head):
        data = data if isinstance(data, bytes) else bytes(data)
        if looks_like_v0(data) is not None:
            return InputKind.DAMON_RECFMT
        raise FormatError("binary data of no known format (not perf.data, a DAMON record, "
                          "damo json, compressed data or text)", source,
                          offset=data.index(b"\x00"))
    if looks_like_trace_cmd(head):
        return InputKind.TRACE_CMD
    return InputKind.PERF_SCRIPT
