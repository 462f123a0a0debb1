"""Compressed inputs, recognised by their magic bytes and decompressed with a bound.

Codecs: gzip (``1f 8b``), xz (``fd 37 7a 58 5a 00``), bzip2 (``BZh`` + block size + a block or
end-of-stream magic), zlib (damo's ``json_compressed``: ``78`` + a header check byte, and the
first bytes must inflate) and zstd (``28 b5 2f fd``) when the running Python's standard library
has ``compression.zstd`` (3.14+); otherwise a zstd input gets a clear :class:`InputError` telling
how to decompress it first. Multi-member gzip and multi-stream xz/bzip2 files (``cat a.gz b.gz``)
are read whole, as the command-line tools do; zero padding after the last member is ignored,
other trailing bytes are an error. zlib ignores trailing bytes, as ``zlib.decompress`` (and so
damo) does.

Decompression bombs are bounded: output is refused with :class:`InputError` as soon as it grows
past BOTH :data:`MAX_RATIO` times the compressed input AND :data:`MAX_OUTPUT_BYTES`, i.e. past
``output_limit(len(input))``. A large but ordinarily compressed file (ratio ≤ 100) is read, and
so is a small but very compressible one (≤ 1 GiB); only output that is both huge and
suspiciously compressible is refused. Nested compression (gzip of gzip) counts every layer
against the limit of the ORIGINAL input. Input is fed and output produced in :data:`CHUNK`-sized
pieces, so the check happens before memory is spent, never after.
"""

from __future__ import annotations

import bz2
import importlib
import lzma
import zlib
from collections.abc import Iterator
from typing import Any, Protocol

from ..errors import InputError

MAX_RATIO = 100
"""Output above this many times the compressed size (and above MAX_OUTPUT_BYTES) is refused."""
MAX_OUTPUT_BYTES = 1 << 30
"""Output larger than this (and than MAX_RATIO × the input) is refused: 1 GiB."""
CHUNK = 1 << 20
"""Largest piece of input fed, and of output produced, per decompressor call."""
MAX_NESTING = 4
"""Compression layers unwrapped at most (gzip of xz of ...)."""

GZIP = "gzip"
XZ = "xz"
BZIP2 = "bzip2"
ZLIB = "zlib"
ZSTD = "zstd"

_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BZ2_BLOCK = b"1AY&SY"  # pi: a stream's first block
_BZ2_END = b"\x17rE8P\x90"  # sqrt(pi): end of an empty stream


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...


def is_zlib(data: bytes) -> bool:
    """A zlib header with deflate method and a 32 KiB window (what ``zlib.compress`` writes)."""
    return len(data) >= 2 and data[0] == 0x78 and (data[0] * 256 + data[1]) % 31 == 0


def sniff(data: bytes) -> str | None:
    """The codec whose magic ``data`` starts with, or None."""
    if data[:2] == b"\x1f\x8b":
        return GZIP
    if data.startswith(_XZ_MAGIC):
        return XZ
    if data.startswith(_ZSTD_MAGIC):
        return ZSTD
    if (data[:3] == b"BZh" and data[3:4].isdigit() and data[3:4] != b"0"
            and data[4:10] in (_BZ2_BLOCK, _BZ2_END)):
        return BZIP2
    if is_zlib(data) and _inflates(data):
        return ZLIB
    return None


def _inflates(data: bytes) -> bool:
    """The first bytes inflate without error: a text that happens to start ``x^`` is not zlib."""
    try:
        zlib.decompressobj().decompress(data[:4096], 64)
    except zlib.error:
        return False
    return True


def _zstd_module() -> Any:
    try:
        return importlib.import_module("compression.zstd")
    except ImportError:
        return None


def zstd_available() -> bool:
    return _zstd_module() is not None


def output_limit(input_size: int) -> int:
    """Most bytes a compressed input of ``input_size`` bytes may expand to."""
    return max(MAX_OUTPUT_BYTES, MAX_RATIO * input_size)


def _new(codec: str, source: str) -> _Decompressor:
    if codec == GZIP:
        return zlib.decompressobj(wbits=31)
    if codec == ZLIB:
        return zlib.decompressobj()
    if codec == XZ:
        return lzma.LZMADecompressor()
    if codec == BZIP2:
        return bz2.BZ2Decompressor()
    if codec == ZSTD:
        module = _zstd_module()
        if module is None:
            raise InputError("zstd-compressed input, but this Python has no zstd support "
                             "(compression.zstd is in Python 3.14+): decompress it first with "
                             "`zstd -d FILE`", source, offset=0)
        decompressor: _Decompressor = module.ZstdDecompressor()
        return decompressor
    raise ValueError(f"unknown codec {codec!r}")


def _errors(codec: str) -> tuple[type[Exception], ...]:
    errors: tuple[type[Exception], ...] = (zlib.error, lzma.LZMAError, OSError, EOFError,
                                           ValueError)
    module = _zstd_module() if codec == ZSTD else None
    if module is not None:
        errors += (module.ZstdError,)
    return errors


def iter_decompress(
    data: bytes, codec: str, source: str, limit: int | None = None
) -> Iterator[bytes]:
    """Decompressed ``data`` in pieces of at most :data:`CHUNK` bytes, refusing a bomb.

    ``limit`` defaults to ``output_limit(len(data))``; pass the limit of the original input
    when unwrapping an inner layer.
    """
    if limit is None:
        limit = output_limit(len(data))
    total = 0
    pos = 0  # offset of the next input byte not yet given to a decompressor
    member_start = 0
    errors = _errors(codec)
    while True:
        decompressor = _new(codec, source)
        tail = b""
        while True:
            # zlib keeps input it had no room to inflate in unconsumed_tail, to be given back;
            # the others keep it inside and say needs_input=False while output is pending.
            if tail:
                feed, tail = tail, b""
            elif getattr(decompressor, "needs_input", True) and pos < len(data):
                feed = data[pos:pos + CHUNK]
                pos += len(feed)
            else:
                feed = b""
            try:
                chunk = decompressor.decompress(feed, CHUNK)
            except errors as exc:
                raise InputError(f"corrupt {codec} data: {exc}", source,
                                 offset=member_start) from None
            tail = getattr(decompressor, "unconsumed_tail", b"")
            if chunk:
                total += len(chunk)
                if total > limit:
                    raise InputError(
                        f"{codec} data expands past {limit} bytes (the larger of "
                        f"{MAX_RATIO}× the input's size and {MAX_OUTPUT_BYTES} bytes): "
                        "refused as a likely decompression bomb; decompress it yourself if it "
                        "is genuine", source, offset=0)
                yield chunk
            if decompressor.eof:
                break
            if not chunk and not feed and not tail and pos >= len(data):
                raise InputError(f"truncated {codec} data (the stream ends before its end "
                                 "marker)", source, offset=len(data))
        member_start = pos - len(decompressor.unused_data)
        if codec == ZLIB or data.count(b"\x00", member_start) == len(data) - member_start:
            return
        if sniff(data[member_start:member_start + 16]) != codec:
            raise InputError(f"unexpected bytes after the end of the {codec} data", source,
                             offset=member_start)
        pos = member_start


def decompress(data: bytes, codec: str, source: str, limit: int | None = None) -> bytes:
    """The whole decompressed ``data`` (bounded like :func:`iter_decompress`)."""
    out = bytearray()
    for chunk in iter_decompress(data, codec, source, limit):
        out += chunk
    return bytes(out)
