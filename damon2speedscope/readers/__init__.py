"""Readers: bytes of any supported recording → model objects.

:func:`load_input` detects the format from the bytes and returns whatever the input held:
DAMON snapshots, perf callchain samples, or both (a combined perf.data). Compressed inputs
(gzip, xz, bzip2, zstd where available, zlib) are decompressed with a bound and detected again;
JSON inside is parsed while it is inflated, never inflated whole.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING

from ..clock import ClockDomain
from ..errors import FormatError, InputError
from ..model import DamonRecord, PerfSamples, SkipCounter
from ..pages import small_pages
from . import damon_fast, perf_data_native
from .compression import MAX_NESTING, ZLIB, iter_decompress, output_limit
from .damo_json import parse_damo_json
from .detect import COMPRESSED, Buffer, InputKind, detect
from .perf_data import PerfDataHeader, check_file_header, read_header, run_perf_script
from .perf_script import SampleFilter, parse_perf_script
from .recfmt import parse_recfmt
from .trace_cmd import parse_trace_cmd

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = ["Buffer", "InputKind", "LoadedInput", "ReadOptions", "SampleFilter", "detect",
           "load_input", "load_inputs"]


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
    compression: str | None = None
    """Codec(s) the input was wrapped in, outermost first (``"gzip"``, ``"zlib"``)."""
    events: dict[str, int] = field(default_factory=dict)
    """Events seen per name, where the reader counts them (text and DAMON tracepoints)."""


def load_input(
    data: Buffer, source: str, path: str | None = None, options: ReadOptions | None = None,
    *, native: bool = True,
) -> LoadedInput:
    """Read one input. ``path`` lets perf.data go to ``perf`` without a temporary copy.

    ``native=False`` reads a DAMON-only perf.data through ``perf script`` like any other
    instead of natively (:mod:`.perf_data_native`; the two give the same result)."""
    options = options or ReadOptions()
    return _load(data, source, path, options, len(data), [], native)


def load_inputs(
    inputs: list[tuple[Buffer, str, str | None]], options: ReadOptions | None = None,
    *, parallel: bool = True,
) -> list[LoadedInput]:
    """:func:`load_input` of every ``(data, source, path)``, results in the same order.

    Two inputs are read at the same time when the machine has more than one CPU: the first
    in a forked process (its result comes back pickled through a pipe) while this process
    reads the second. Should the child fail in any way, the first input is read again here,
    so errors and results are exactly those of reading one after the other."""
    with small_pages():
        if not (parallel and len(inputs) == 2 and hasattr(os, "fork")
                and (os.cpu_count() or 1) > 1 and threading.active_count() == 1):
            return [load_input(d, s, p, options) for d, s, p in inputs]
        return _load_two(inputs, options)


def _load_two(inputs: list[tuple[Buffer, str, str | None]], options: ReadOptions | None
              ) -> list[LoadedInput]:
    import multiprocessing  # here: its import (sockets and all) is start-up time otherwise

    (data0, source0, path0), (data1, source1, path1) = inputs
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    _widen(send)
    child = context.Process(target=_read_and_send, args=(send, data0, source0, path0, options),
                            daemon=True)
    child.start()
    send.close()
    try:
        second = load_input(data1, source1, path1, options)
        try:
            payload = receive.recv_bytes()
        except EOFError:  # the child failed: read the first input here (same error, if any)
            payload = b""
    except BaseException:
        child.kill()
        raise
    finally:
        receive.close()
        child.join()
    first = pickle.loads(payload) if payload else load_input(data0, source0, path0, options)
    return [first, second]


PIPE_BYTES = 1 << 20
"""Pipe buffer asked for the child's result (tens of MB): 16 times fewer hand-overs between
the two processes than Linux's default 64 KiB."""


def _widen(conn: Connection) -> None:
    import fcntl

    with contextlib.suppress(OSError, AttributeError):  # not Linux, or over pipe-max-size
        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _read_and_send(send: Connection, data: Buffer, source: str, path: str | None,
                   options: ReadOptions | None) -> None:
    """In the forked process: read one input and send it back pickled; on any error (or a
    signal) nothing, quietly: the parent reads the input again and reports the error."""
    with contextlib.suppress(BaseException):
        send.send_bytes(pickle.dumps(load_input(data, source, path, options),
                                     protocol=pickle.HIGHEST_PROTOCOL))
    send.close()


_JSON_PEEK = 1 << 16


def _load(
    data: Buffer, source: str, path: str | None, options: ReadOptions, original_size: int,
    codecs: list[str], native: bool = True,
) -> LoadedInput:
    kind = detect(data, source)
    declared = options.clock is not None
    if kind in (InputKind.PERF_SCRIPT, InputKind.PERF_DATA) and isinstance(data, mmap.mmap):
        return _load_mapped(data, kind, source, path, options, native, declared)
    if not isinstance(data, bytes):
        data = bytes(data)  # only perf text and perf.data are read from a mapping
    codec = COMPRESSED.get(kind)
    if codec is not None:
        if len(codecs) >= MAX_NESTING:
            raise FormatError(f"more than {MAX_NESTING} nested compression layers", source,
                              offset=0)
        codecs = [*codecs, codec]
        try:
            return _load_compressed(data, source, options, original_size, codecs, native)
        except InputError as exc:
            if exc.offset is None or getattr(exc, "codec_depth", None) == len(codecs):
                raise  # no offset, or one in this layer's own (compressed) bytes
            raise type(exc)(f"{exc.reason} (at byte {exc.offset} of the {codec}-decompressed "
                            "data)", exc.source, exc.line) from None
    compressed = "+".join(codecs) or None
    if kind is InputKind.DAMO_JSON:
        return _load_json(data, source, kind, options, codecs)
    if kind is InputKind.DAMON_RECFMT:
        skipped = SkipCounter()
        record = parse_recfmt(data, source, options.clock, skipped)
        return LoadedInput(source, kind, record, None, skipped, clock_declared=declared,
                           compression=compressed)
    if kind is InputKind.TRACE_CMD:
        traced = parse_trace_cmd(data, source, options.clock or ClockDomain.PERF)
        return LoadedInput(source, kind, traced.damon, None, traced.skipped, traced.notes,
                           clock_declared=declared, compression=compressed,
                           events=traced.events)
    if kind is InputKind.PERF_DATA:
        loaded = _load_perf_data(data, source, path, options, native)
        loaded.compression = compressed
        return loaded
    return _load_text(data, source, options, declared, compressed)


def _load_mapped(data: mmap.mmap, kind: InputKind, source: str, path: str | None,
                 options: ReadOptions, native: bool, declared: bool) -> LoadedInput:
    """perf text and perf.data straight from a mapped file (never copied whole)."""
    if kind is InputKind.PERF_DATA:
        return _load_perf_data(data, source, path, options, native)
    return _load_text(data, source, options, declared, None)


def _load_text(data: bytes | mmap.mmap, source: str, options: ReadOptions, declared: bool,
               compressed: str | None) -> LoadedInput:
    clock = options.clock or ClockDomain.PERF
    result = parse_perf_script(data, source, clock, options.event, options.sample_filter)
    notes: list[str] = list(getattr(result, "notes", []))
    return LoadedInput(source, InputKind.PERF_SCRIPT, result.damon, result.samples,
                       result.skipped, notes, clock_declared=declared, compression=compressed,
                       events=dict(result.events))


def _load_compressed(data: bytes, source: str, options: ReadOptions, original_size: int,
                     codecs: list[str], native: bool = True) -> LoadedInput:
    """The input inside the outermost of ``codecs``; its errors' offsets are in the
    decompressed data, except those of the decompression itself (``codec_depth``)."""
    chunks = _own_errors(iter_decompress(data, codecs[-1], source, output_limit(original_size)),
                         len(codecs))
    head: list[bytes] = []
    size = 0
    for chunk in chunks:
        head.append(chunk)
        size += len(chunk)
        if size >= _JSON_PEEK:
            break
    start = b"".join(head)[:_JSON_PEEK].lstrip(b"\xef\xbb\xbf \t\r\n")
    if start[:1] in (b"[", b"{"):
        del data
        json_kind = InputKind.DAMO_JSON_COMPRESSED if codecs == [ZLIB] else InputKind.DAMO_JSON
        return _load_json(chain(head, chunks), source, json_kind, options, codecs)
    inner = b"".join(chain(head, chunks))
    del head, data
    return _load(inner, source, None, options, original_size, codecs, native)


def _own_errors(chunks: Iterator[bytes], depth: int) -> Iterator[bytes]:
    """Marks the errors of decompressing layer ``depth`` (their offsets are its own)."""
    try:
        yield from chunks
    except InputError as exc:
        exc.codec_depth = depth  # type: ignore[attr-defined]
        raise


def _load_json(
    data: bytes | Iterator[bytes], source: str, kind: InputKind, options: ReadOptions,
    codecs: list[str],
) -> LoadedInput:
    skipped = SkipCounter()
    notes: list[str] = []
    record = parse_damo_json(data, source, options.clock, skipped, notes)
    return LoadedInput(source, kind, record, None, skipped, notes,
                       clock_declared=options.clock is not None,
                       compression="+".join(codecs) or None)


def _load_perf_data(
    data: bytes | mmap.mmap, source: str, path: str | None, options: ReadOptions,
    native: bool = True,
) -> LoadedInput:
    import tempfile
    from pathlib import Path

    check_file_header(data, source)
    damon = perf_data_native.read(data) if native else None
    with tempfile.TemporaryDirectory(prefix="damon2speedscope-") as tmp:
        if path is None:
            path = str(Path(tmp) / "input.perf.data")
            Path(path).write_bytes(data)
        header = read_header(path, source, options.perf)
        if damon is not None:
            # a DAMON-only recording read natively: no perf script, same snapshots
            clock = options.clock or header.clock
            skipped = SkipCounter()
            record, notes = damon_fast.build(damon.events, clock, source, skipped)
            return LoadedInput(source, InputKind.PERF_DATA, record, None, skipped, notes,
                               header, options.clock is not None)
        output = run_perf_script(path, source, header, options.perf, options.buildid_dir)
    clock = options.clock or header.clock
    result = parse_perf_script(output.text, source, clock, options.event, options.sample_filter)
    warnings = [f"{source}: perf: {w}" for w in output.warnings] + list(result.notes)
    return LoadedInput(source, InputKind.PERF_DATA, result.damon, result.samples,
                       result.skipped, warnings, header, options.clock is not None)
