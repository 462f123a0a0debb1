"""Input format detection from the bytes alone (never from the file name or ``file``)."""

from __future__ import annotations

import enum

from ..errors import FormatError
from .damo_json import is_zlib
from .perf_data import PERF_MAGIC


class InputKind(enum.Enum):
    PERF_DATA = "perf.data"
    PERF_SCRIPT = "perf script text"
    DAMO_JSON = "damo json"
    DAMO_JSON_COMPRESSED = "damo json_compressed"


_SNIFF = 1 << 16


def detect(data: bytes, source: str) -> InputKind:
    if not data:
        raise FormatError("empty input", source)
    if data.startswith(PERF_MAGIC):
        return InputKind.PERF_DATA
    if data[:1] == b"\x80" and len(data) > 1 and data[1] <= 5:
        raise FormatError("looks like a Python pickle: refused (no damo version wrote pickle, "
                          "and unpickling runs code)", source, offset=0)
    if data.startswith(b"damon_recfmt_ver"):
        raise FormatError("legacy DAMON binary record (recfmt) is not supported yet", source,
                          offset=0)
    if is_zlib(data):
        return InputKind.DAMO_JSON_COMPRESSED
    head = data[:_SNIFF].lstrip()
    if head[:1] in (b"[", b"{"):
        return InputKind.DAMO_JSON
    if b"\x00" in data[:_SNIFF]:
        raise FormatError("binary data of no known format (not perf.data, damo json or "
                          "perf script text)", source, offset=data.index(b"\x00"))
    return InputKind.PERF_SCRIPT
