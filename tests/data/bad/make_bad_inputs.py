"""The bad-input corpus: hostile and broken inputs, each with the ONE line the CLI must print.

    python tests/data/bad/make_bad_inputs.py OUTDIR      # write every case's files to OUTDIR
    python tests/data/bad/make_bad_inputs.py --readme    # print README.md (the table of cases)

Most inputs are made here from a tiny synthetic recording (:func:`damon_text`,
:func:`perf_text`) or cut from the real ones in ``golden/`` and ``tests/data/``, so no binary
is committed for them; ``fuzz/`` holds the inputs the fuzzer found (committed as found, see
``fuzz/README.md``). ``tests/test_bad_inputs.py`` runs every case through
``python -m damon2speedscope`` in OUTDIR and checks the exit code and stderr:

* ``error`` cases: exit 1 and stderr is exactly ``damon2speedscope: error: MESSAGE`` + newline;
* ``warning`` cases: exit 0, the ``damon2speedscope: warning: MESSAGE`` line among stderr's
  lines, and ``--summary``'s ``skipped`` equal to :attr:`Case.skipped`.

In MESSAGE, ``…`` stands for any text (perf's wording, time spans).
"""

from __future__ import annotations

import gzip
import lzma
import os
import pickle
import random
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
GOLDEN = REPO / "golden"
DATA = REPO / "tests" / "data"
FUZZ = Path(__file__).resolve().parent / "fuzz"

# -- the tiny synthetic recording -------------------------------------------------------------

SNAPSHOTS = 10
"""DAMON snapshots of :func:`damon_text`: one target, 3 regions, ending at 10.1, 10.2, … 11.0 s."""


def damon_line(t_us: int, nr: int, start: int, end: int, acc: int, age: int = 0,
               target: int = 0) -> str:
    return (f"       kdamond.0    77 [001] {t_us // 1_000_000:5d}.{t_us % 1_000_000:06d}: "
            f"damon:damon_aggregated: target_id={target} nr_regions={nr} {start}-{end}: "
            f"{acc} {age}\n")


def damon_snapshot(k: int, t_us: int | None = None) -> list[str]:
    t = 10_100_000 + 100_000 * k if t_us is None else t_us
    base = 1 << 32
    mib = 1 << 20
    return [damon_line(t, 3, base, base + 64 * mib, k % 5, k),
            damon_line(t + 1, 3, base + 64 * mib, base + 96 * mib, 10 if 3 <= k <= 6 else 0, k),
            damon_line(t + 2, 3, base + 96 * mib, base + 100 * mib, 1, k)]


def damon_text(lines: list[str] | None = None) -> bytes:
    """``perf script`` text of ``damon:damon_aggregated`` events (:data:`SNAPSHOTS` snapshots)."""
    if lines is None:
        lines = [ln for k in range(SNAPSHOTS) for ln in damon_snapshot(k)]
    return "".join(lines).encode()


STACKS = [
    ["ffffffff81000c82 asm_exc_page_fault+0x22 ([kernel.kallsyms])",
     "401136 fill+0x16 (/usr/local/bin/prog)", "401200 main+0x20 (/usr/local/bin/prog)"],
    ["4011a0 transpose+0x40 (/usr/local/bin/prog)", "401200 main+0x20 (/usr/local/bin/prog)"],
]


SAMPLE_0 = 10_001_000
"""Time of :func:`perf_text`'s first sample, in µs."""


def perf_sample(t_us: int, stack: list[str], comm: str = "prog", tid: int = 4242,
                period: int = 1_000_000) -> str:
    frames = "".join(f"\t{frame}\n" for frame in stack)
    return (f"{comm} {tid} [000] {t_us // 1_000_000}.{t_us % 1_000_000:06d}: {period} "
            f"cpu-clock:ppp: \n{frames}\n")


def perf_text(samples: list[str] | None = None) -> bytes:
    """``perf script -g`` text: 1000 samples, 1 ms apart, from 10.001 s to 11.0 s (each drawn
    as the millisecond before it, so they span the DAMON record's 10.0–11.0 s exactly)."""
    if samples is None:
        samples = [perf_sample(SAMPLE_0 + 1000 * i, STACKS[(i // 100) % 2])
                   for i in range(1000)]
    return "".join(samples).encode()


# -- binary inputs ----------------------------------------------------------------------------


def recfmt(entries: list[tuple[int, int, list[tuple[int, int, list[tuple[int, int, int]]]]]],
           version: int = 2) -> bytes:
    """A legacy DAMON record: (sec, nsec, [(target id, nr_regions, [(start, end, nr)])])."""
    out = bytearray(b"damon_recfmt_ver" + struct.pack("<i", version))
    for sec, nsec, targets in entries:
        out += struct.pack("<qqI", sec, nsec, len(targets))
        for target_id, nr_regions, regions in targets:
            out += struct.pack("<QI", target_id, nr_regions)
            for start, end, nr in regions:
                out += struct.pack("<QQI", start, end, nr)
    return bytes(out)


def perf_data_newer_attr() -> bytes:
    """golden perf.data with its event attributes grown past what perf 6.1 knows, as a newer
    perf's larger ``perf_event_attr`` would be: perf refuses it as an incompatible file."""
    data = bytearray((GOLDEN / "fftlike" / "perf.data").read_bytes())
    attr_offset = struct.unpack_from("<Q", data, 24)[0]
    size = struct.unpack_from("<I", data, attr_offset + 4)[0]
    struct.pack_into("<I", data, attr_offset + 4, size + 64)
    return bytes(data)


def perf_data_zeroed_events() -> bytes:
    """golden perf.data whose first 4 KiB of events are zeros (a hole after a crash)."""
    data = bytearray((GOLDEN / "fftlike" / "perf.data").read_bytes())
    data_offset = struct.unpack_from("<Q", data, 40)[0]
    data[data_offset:data_offset + 4096] = bytes(4096)
    return bytes(data)


def small_damon_perf_data() -> bytes:
    """golden/fftlike/damon.perf.data made small (35 KB): its non-mmap records and the first
    3 regions of its first 5 snapshots (nr_regions patched to 3); read the same natively and
    by ``perf script``."""
    from damon2speedscope.readers import perf_data_native as native

    d = (GOLDEN / "fftlike" / "damon.perf.data").read_bytes()
    h = native._FILE_HEADER.unpack_from(d, 0)
    data_off, data_size = h[5], h[6]
    tracing = native._feature(d, h, native.HEADER_TRACING_DATA)
    assert tracing is not None
    layout = native._layout(tracing)
    assert layout is not None
    nr_at = layout[1]["nr_regions"]
    sample_type = next(a for a in native._attrs(d, h[3], h[4], h[2])
                       if a.type == native.PERF_TYPE_TRACEPOINT).sample_type
    raw_at = 8 + sum(size for bit, _, size in native._SAMPLE_FIELDS if sample_type & bit) + 4
    out = bytearray()
    p, remaining, kept, snapshots = data_off, 0, 0, 0
    while p < data_off + data_size:
        rtype, _, size = struct.unpack_from("<IHH", d, p)
        record = bytearray(d[p:p + size])
        p += size
        if rtype in (1, 10):  # MMAP, MMAP2
            continue
        if rtype == native.PERF_RECORD_SAMPLE:
            if remaining == 0:
                remaining = struct.unpack_from("<I", record, raw_at + nr_at)[0]
                kept, snapshots = 0, snapshots + 1
            remaining -= 1
            if snapshots > 5 or kept >= 3:
                continue
            struct.pack_into("<I", record, raw_at + nr_at, 3)
            kept += 1
        out += record
    n_features = bin(int.from_bytes(d[72:104], "little")).count("1")
    small = bytearray(d[:data_off]) + out + d[data_off + data_size:]
    struct.pack_into("<Q", small, 48, len(out))
    table = data_off + len(out)
    for i in range(n_features):
        (offset,) = struct.unpack_from("<Q", small, table + 16 * i)
        struct.pack_into("<Q", small, table + 16 * i, offset - (data_size - len(out)))
    return bytes(small)


def perf_data_native_raw_size() -> bytes:
    """:func:`small_damon_perf_data` with its first sample's payload size set to 2^32 - 16:
    the native reader's record size overflowed (an OverflowError, before the fix)."""
    from damon2speedscope.readers import perf_data_native as native

    d = bytearray(small_damon_perf_data())
    h = native._FILE_HEADER.unpack_from(d, 0)
    first = native._first_sample(bytes(d), h[5], h[5] + h[6])
    assert first is not None
    sample_type = next(a for a in native._attrs(bytes(d), h[3], h[4], h[2])
                       if a.type == native.PERF_TYPE_TRACEPOINT).sample_type
    raw_size_at = 8 + sum(size for bit, _, size in native._SAMPLE_FIELDS if sample_type & bit)
    struct.pack_into("<I", d, first + raw_size_at, 0xFFFFFFF0)
    return bytes(d)


def gzip_bomb() -> bytes:
    """17 gzip members of 64 MiB of zeros each (1.06 GiB) in 1.1 MB: made in 0.4 s, refused
    after inflating 1 GiB in about a second (a bzip2 bomb is 1000 times smaller, and 5 times
    slower to inflate; tests/test_damon_compression.py has one)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    return (deflate.compress(bytes(64 << 20)) + deflate.flush()) * 17


# -- the cases --------------------------------------------------------------------------------

Maker = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    args: list[str]
    """CLI arguments, run in OUTDIR (``{repo}`` is replaced by the repository's path)."""
    message: str
    kind: str = "error"  # or "warning", or "usage" (a usage error: exit 2)
    skipped: dict[str, int] = field(default_factory=dict)
    """``warning`` cases: the ``skipped`` of ``--summary``."""
    files: dict[str, Callable[[], bytes]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    """Symbolic links to make in OUTDIR: name → target (``{repo}`` as in args)."""

    @property
    def exit_code(self) -> int:
        return {"warning": 0, "error": 1, "usage": 2}[self.kind]


def _golden(*parts: str) -> str:
    return "{repo}/" + "/".join(parts)


def _incomplete_last_snapshot() -> bytes:
    lines = [ln for k in range(SNAPSHOTS) for ln in damon_snapshot(k)]
    return damon_text(lines[:-1])


def _backwards_snapshot() -> bytes:
    snaps = [damon_snapshot(k) for k in range(SNAPSHOTS)]
    snaps[6] = damon_snapshot(6, t_us=10_350_000)  # ends before snapshot 5 (10.6 s)
    return damon_text([ln for s in snaps for ln in s])


def _repeated_snapshot() -> bytes:
    snaps = [damon_snapshot(k) for k in range(SNAPSHOTS)]
    return damon_text([ln for s in snaps[:5] + snaps[2:4] + snaps[5:] for ln in s])


def _region_end_before_start() -> bytes:
    lines = [ln for k in range(SNAPSHOTS) for ln in damon_snapshot(k)]
    lines[7] = damon_line(10_300_000, 3, 9000, 4096, 1)
    return damon_text(lines)


def _overlapping_regions_text() -> bytes:
    lines = [ln for k in range(SNAPSHOTS) for ln in damon_snapshot(k)]
    base = 1 << 32
    lines[4] = damon_line(10_200_001, 3, base + (32 << 20), base + (96 << 20), 10, 1)
    return damon_text(lines)


def _json_doc(snapshots: list[tuple[int, int, list[tuple[int, int]]]]) -> bytes:
    import json

    return json.dumps([{
        "kdamond_idx": 0, "context_idx": 0, "target_id": 0,
        "intervals": {"sample_us": 5000, "aggr_us": 100000},
        "snapshots": [{"start_time": s, "end_time": e, "regions": [
            {"start": a, "end": b, "nr_accesses": {"samples": 3}, "age": {"aggr_intervals": 1}}
            for a, b in regions]} for s, e, regions in snapshots]}], indent=1).encode()


def _json_snapshots(overlap: bool = False, start_after_end: bool = False,
                    snapshot_overlap: bool = False) -> bytes:
    base = 1 << 32
    snaps = []
    for k in range(SNAPSHOTS):
        end = 10_100_000_000 + 100_000_000 * k
        regions = [(base, base + 4096 * 16), (base + 4096 * 16, base + 4096 * 64)]
        if overlap and k == 4:
            regions = [(base, base + 4096 * 32), (base + 4096 * 16, base + 4096 * 64)]
        start = end - 100_000_000
        if start_after_end and k == 4:
            start = end + 1
        if snapshot_overlap and k == 4:
            start = end - 150_000_000
        snaps.append((start, end, regions))
    return _json_doc(snaps)


def _junk_inside_text() -> bytes:
    text = perf_text()
    cut = text.index(b"\n\n", len(text) // 2) + 2
    junk = random.Random(11).randbytes(300) + bytes(2000) + b"\n"
    return text[:cut] + junk + b"\n" + text[cut:]


def _non_utf8_symbols() -> bytes:
    stack = ["401300 caf\xe9_latin1+0x10 (/usr/local/bin/prog)", *STACKS[1][1:]]
    samples = [perf_sample(SAMPLE_0 + 1000 * i, stack if i % 10 == 0 else STACKS[i % 2])
               for i in range(1000)]
    return perf_text(samples).decode().encode("latin-1")


def _perf_backwards() -> bytes:
    samples = [perf_sample(SAMPLE_0 + 1000 * i, STACKS[i % 2]) for i in range(1000)]
    samples[500], samples[501] = samples[501], samples[500]
    return perf_text(samples)


def _trace_cmd_lost() -> bytes:
    lines = [ln.replace("       kdamond.0    77 [001]", "       kdamond.0-77    [001] .....")
             for k in range(SNAPSHOTS) for ln in damon_snapshot(k)]
    lines.insert(12, "CPU:1 [LOST 17 EVENTS]\n")
    return ("cpus=2\n" + "".join(lines)).encode()


def _cut(path: Path, size: int) -> Callable[[], bytes]:
    return lambda: path.read_bytes()[:size]


def _flip(path: Path, at: int) -> Callable[[], bytes]:
    def make() -> bytes:
        data = bytearray(path.read_bytes())
        for i in range(at, at + 64):
            data[i] ^= 0x55
        return bytes(data)
    return make


JSON_COMPRESSED = GOLDEN / "fftlike" / "damon.json_compressed"
PERF_DATA = GOLDEN / "fftlike" / "perf.data"
DAMO_JSON = DATA / "damon" / "formats" / "damo-3.4.3.json"

CASES: list[Case] = [
    # -- empty and unreadable ----------------------------------------------------------------
    Case("empty-file", "an empty file", ["empty.data", "perf.txt"],
         "empty.data: empty input", files={"empty.data": lambda: b""}),
    Case("blank-text", "only blank lines and comments",
         ["blank.txt", "perf.txt"],
         "blank.txt: holds neither DAMON snapshots nor perf samples (read as perf script text)",
         files={"blank.txt": lambda: b"\n\n# perf script header\n   \n"}),
    Case("directory", "a directory given as input", ["a-directory", "perf.txt"],
         "a-directory: is a directory, not a recording"),
    Case("path-through-a-file", "a path whose directory part is a file",
         ["perf.txt/damon.data", "perf.txt"],
         "perf.txt/damon.data: cannot read: Not a directory"),
    Case("symlink-loop", "a symbolic link to itself", ["loop.data", "perf.txt"],
         "loop.data: cannot read: Too many levels of symbolic links",
         links={"loop.data": "loop.data"}),
    Case("dangling-symlink", "a symbolic link to nothing", ["dangling.data", "perf.txt"],
         "dangling.data: cannot read: No such file or directory",
         links={"dangling.data": "no-such-file"}),
    Case("output-dir-missing", "-o into a directory that does not exist",
         ["damon.txt", "perf.txt", "-o", "no-such-dir/out.json"],
         "no-such-dir/out.json: cannot write: No such file or directory"),
    # -- not a recording ---------------------------------------------------------------------
    Case("random-bytes", "4 KiB of random bytes", ["random.bin", "perf.txt"],
         "random.bin@…: binary data of no known format (not perf.data, a DAMON record, damo "
         "json, compressed data or text)",
         files={"random.bin": lambda: random.Random(7).randbytes(4096)}),
    Case("pickle", "a Python pickle (protocol 4)", ["damon.pickle", "perf.txt"],
         "damon.pickle@0: looks like a Python pickle: refused (no damo version wrote pickle, "
         "and unpickling runs code)",
         files={"damon.pickle": lambda: pickle.dumps([{"snapshots": []}], protocol=4)}),
    Case("pickle-protocol-0", "a Python pickle (protocol 0, text-like)",
         ["damon.p0.pickle", "perf.txt"],
         "damon.p0.pickle@0: looks like a Python pickle: refused (no damo version wrote pickle, "
         "and unpickling runs code)",
         files={"damon.p0.pickle": lambda: pickle.dumps({"snapshots": [1, 2]}, protocol=0)}),
    Case("text-not-a-recording", "a text file that is no recording (this script)",
         ["script.py", "perf.txt"],
         "script.py: holds neither DAMON snapshots nor perf samples (read as perf script text); "
         "skipped …line not understood (first at script.py:1)…",
         files={"script.py": lambda: Path(__file__).read_bytes()}),
    # -- compression -------------------------------------------------------------------------
    Case("truncated-zlib", "damo json_compressed cut to 20 000 bytes",
         ["damon.json_compressed", "perf.txt"],
         "damon.json_compressed@20000: truncated zlib data (the stream ends before its end "
         "marker)", files={"damon.json_compressed": _cut(JSON_COMPRESSED, 20_000)}),
    Case("corrupt-zlib", "damo json_compressed with 64 bytes flipped at 100 000",
         ["damon.corrupt.json_compressed", "perf.txt"],
         "damon.corrupt.json_compressed: not valid JSON: Expecting ',' delimiter (at byte "
         "3331313 of the zlib-decompressed data)",
         files={"damon.corrupt.json_compressed": _flip(JSON_COMPRESSED, 100_000)}),
    Case("truncated-xz", "an xz file cut in half", ["damon.txt.xz", "perf.txt"],
         "damon.txt.xz@…: truncated xz data (the stream ends before its end marker)",
         files={"damon.txt.xz": lambda: (lambda b: b[:len(b) // 2])(lzma.compress(damon_text()))}),
    Case("gzip-trailing-junk", "a gzip file with bytes after its end",
         ["damon.txt.gz", "perf.txt"],
         "damon.txt.gz@…: unexpected bytes after the end of the gzip data",
         files={"damon.txt.gz": lambda: gzip.compress(damon_text()) + b"junk"}),
    Case("decompression-bomb", "1.06 GiB of zeros as 17 gzip members in 1.1 MB",
         ["bomb.gz", "perf.txt"],
         "bomb.gz@0: gzip data expands past 1073741824 bytes (the larger of 100× the input's "
         "size and 1073741824 bytes): refused as a likely decompression bomb; decompress it "
         "yourself if it is genuine", files={"bomb.gz": gzip_bomb}),
    # -- perf.data ---------------------------------------------------------------------------
    Case("perf-data-header-only", "the first 50 bytes of a perf.data",
         ["damon.txt", "perf.header.data"],
         "perf.header.data@50: truncated perf.data: 50 bytes, shorter than its header",
         files={"perf.header.data": _cut(PERF_DATA, 50)}),
    Case("perf-data-truncated", "a perf.data cut at 100 000 bytes (perf killed)",
         ["damon.txt", "perf.cut.data"],
         "perf.cut.data@100000: truncated perf.data: its data section ends at byte 1348856 but "
         "the file has 100000 bytes (perf killed, or copied half-way?)",
         files={"perf.cut.data": _cut(PERF_DATA, 100_000)}),
    Case("perf-data-newer-perf", "a perf.data whose event attributes are larger than this "
         "perf's (as a newer perf writes them)", ["damon.txt", "perf.newer.data"],
         "perf.newer.data: perf could not read this perf.data: incompatible file format (rerun "
         "with -v to learn more) (recorded by a newer perf than this one?)",
         files={"perf.newer.data": perf_data_newer_attr}),
    Case("perf-data-zeroed-events", "a perf.data whose first 4 KiB of events are zeros",
         ["damon.txt", "perf.zeroed.data"],
         "perf.zeroed.data@264: perf could not read this perf.data: 0x108 [0]: failed to "
         "process type: 0 [Invalid argument]",
         files={"perf.zeroed.data": perf_data_zeroed_events}),
    Case("perf-data-native-raw-size", "DAMON perf.data whose first sample claims a 4 GiB "
         "payload (crashed the native reader)", ["damon.rawsize.perf.data", "perf.txt"],
         "damon.rawsize.perf.data@22024: perf could not read this perf.data: 0x5608 [0x8]: "
         "failed to process type: 68 [Bad address]",
         files={"damon.rawsize.perf.data": perf_data_native_raw_size}),
    # -- JSON --------------------------------------------------------------------------------
    Case("json-wrong-shape-object", "JSON object that is no damo record",
         ["wrong.json", "perf.txt"],
         "wrong.json@0: damo JSON record: expected a list of records (or damo's "
         "damo_record_ver wrapper around one)", files={"wrong.json": lambda: b'{"foo": [1, 2]}'}),
    Case("json-wrong-shape-list", "JSON list of numbers", ["numbers.json", "perf.txt"],
         "numbers.json@1: damo JSON record: expected '{' to open a record, got '1'",
         files={"numbers.json": lambda: b"[1, 2, 3]"}),
    Case("json-snapshots-not-a-list", "a record whose snapshots is a number",
         ["snapnum.json", "perf.txt"],
         "snapnum.json@15: damo JSON record: expected '[' to open 'snapshots', got '5'",
         files={"snapnum.json": lambda: b'[{"snapshots": 5}]'}),
    Case("json-truncated", "damo json cut at 3000 bytes", ["cut.json", "perf.txt"],
         "cut.json@…: damo JSON record: truncated (…)", files={"cut.json": _cut(DAMO_JSON, 3000)}),
    Case("json-nested-too-deep", "100 000 nested lists as a record's value",
         ["deep.json", "perf.txt"],
         "deep.json@15: damo JSON record: a value nested too deeply",
         files={"deep.json": lambda: b'[{"intervals": ' + b"[" * 100_000 + b"]" * 100_000
                + b"}]"}),
    Case("json-huge-number", "a 5000-digit end_time", ["bignum.json", "perf.txt"],
         "bignum.json@16: damo JSON record: a number too long to read",
         files={"bignum.json": lambda: b'[{"snapshots": [{"end_time": ' + b"9" * 5000
                + b', "regions": []}]}]'}),
    Case("json-time-out-of-range", "an end_time of 10^30 ns", ["bigtime.json", "perf.txt"],
         "bigtime.json@16: end_time: '1000000000000000000000000000000' is out of range "
         "(±2^62 ns)",
         files={"bigtime.json": lambda: b'[{"snapshots": [{"end_time": "1' + b"0" * 30
                + b'", "regions": []}]}]'}),
    Case("json-start-after-end", "a snapshot whose start_time is after its end_time",
         ["startend.json", "perf.txt"],
         "startend.json@…: damo JSON record: snapshot ends before it starts (start_time "
         "10500000001 ns > end_time 10500000000 ns)",
         files={"startend.json": lambda: _json_snapshots(start_after_end=True)}),
    Case("json-not-utf8", "damo json with a Latin-1 byte in a string",
         ["latin1.json", "perf.txt"],
         "latin1.json@14: not UTF-8 text: invalid continuation byte",
         files={"latin1.json": lambda: b'[{"name": "caf\xe9", "snapshots": []}]'}),
    Case("json-overlapping-regions", "a snapshot whose two regions overlap (skipped)",
         ["overlap.json", "perf.txt"],
         "skipped 1: 1 DAMON snapshot with overlapping or unordered regions (first at "
         "overlap.json@…)", kind="warning",
         skipped={"DAMON snapshot with overlapping or unordered regions": 1},
         files={"overlap.json": lambda: _json_snapshots(overlap=True)}),
    Case("json-overlapping-snapshots", "a snapshot starting 50 ms before the previous one "
         "ended (skipped)", ["snapoverlap.json", "perf.txt"],
         "skipped 1: 1 DAMON snapshot starting before the previous one of its target ended "
         "(first at snapoverlap.json@…)", kind="warning",
         skipped={"DAMON snapshot starting before the previous one of its target ended": 1},
         files={"snapoverlap.json": lambda: _json_snapshots(snapshot_overlap=True)}),
    # -- DAMON text --------------------------------------------------------------------------
    Case("nr-regions-never-completes", "the last snapshot lacks one of its 3 regions",
         ["damon.incomplete.txt", "perf.txt"],
         "skipped 1: 1 incomplete DAMON snapshot (first at damon.incomplete.txt:28)",
         kind="warning", skipped={"incomplete DAMON snapshot": 1},
         files={"damon.incomplete.txt": _incomplete_last_snapshot}),
    Case("nr-regions-never-completes-strict", "the same with --strict",
         ["damon.incomplete.txt", "perf.txt", "--strict"],
         "damon.incomplete.txt:28: --strict: skipped 1: 1 incomplete DAMON snapshot (first at "
         "damon.incomplete.txt:28)", files={"damon.incomplete.txt": _incomplete_last_snapshot}),
    Case("huge-nr-regions-text", "every event claims nr_regions=10^15",
         ["damon.huge.txt", "perf.txt"],
         "damon.huge.txt: holds neither DAMON snapshots nor perf samples (read as perf script "
         "text); skipped 10 incomplete DAMON snapshot (first at damon.huge.txt:1)",
         files={"damon.huge.txt": lambda: damon_text().replace(b"nr_regions=3",
                                                               b"nr_regions=" + b"9" * 15)}),
    Case("huge-nr-regions-recfmt", "a legacy record claiming 2^32-1 regions",
         ["huge.record", "perf.txt"],
         "huge.record@40: DAMON recfmt v2: truncated entry: target 0 announces 4294967295 "
         "regions, only 1 follow",
         files={"huge.record": lambda: recfmt([(10, 100_000_000,
                                                [(0, 0xFFFFFFFF, [(4096, 8192, 1)])])])}),
    Case("time-backwards-damon", "a snapshot ending before the previous one (skipped)",
         ["damon.backwards.txt", "perf.txt"],
         "skipped 1: 1 DAMON snapshot not later than the previous one of its target (time going "
         "backwards, or a repeated snapshot) (first at damon.backwards.txt:19)",
         kind="warning", skipped={"DAMON snapshot not later than the previous one of its target "
                                  "(time going backwards, or a repeated snapshot)": 1},
         files={"damon.backwards.txt": _backwards_snapshot}),
    Case("repeated-snapshots", "two snapshots repeated later in the file (skipped)",
         ["damon.repeated.txt", "perf.txt"],
         "skipped 2: 2 DAMON snapshot not later than the previous one of its target (time going "
         "backwards, or a repeated snapshot) (first at damon.repeated.txt:16)",
         kind="warning", skipped={"DAMON snapshot not later than the previous one of its target "
                                  "(time going backwards, or a repeated snapshot)": 2},
         files={"damon.repeated.txt": _repeated_snapshot}),
    Case("region-end-before-start", "a region 9000-4096", ["damon.endstart.txt", "perf.txt"],
         "damon.endstart.txt:8: DAMON region ends before it starts (9000-4096)",
         files={"damon.endstart.txt": _region_end_before_start}),
    Case("overlapping-regions-text", "region 2 of a snapshot overlaps region 1 (skipped)",
         ["damon.overlap.txt", "perf.txt"],
         "skipped 2: 2 incomplete DAMON snapshot (first at damon.overlap.txt:4)",
         kind="warning", skipped={"incomplete DAMON snapshot": 2},
         files={"damon.overlap.txt": _overlapping_regions_text}),
    Case("damon-time-out-of-range", "a DAMON event at 10^12 s",
         ["damon.bigtime.txt", "perf.txt"],
         "damon.bigtime.txt:4: time 1000000000000.000000 s is out of range (2^62 ns at most)",
         files={"damon.bigtime.txt": lambda: damon_text().replace(b"   10.200000",
                                                                  b"1000000000000.000000", 1)}),
    Case("region-beyond-64-bits", "a region ending at 2^64",
         ["damon.big.txt", "perf.txt"],
         "damon.big.txt:1: DAMON region 4294967296-18446744073709551616 lies outside 64 bits",
         files={"damon.big.txt": lambda: damon_text().replace(b"4294967296-4362076160",
                                                              b"4294967296-18446744073709551616")}),
    Case("trace-cmd-lost-events", "trace-cmd text that lost 17 events",
         ["damon.trace-cmd.txt", "perf.txt"],
         "skipped 17: 17 events lost by trace-cmd ([LOST N EVENTS]) (first at "
         "damon.trace-cmd.txt:14)", kind="warning",
         skipped={"events lost by trace-cmd ([LOST N EVENTS])": 17},
         files={"damon.trace-cmd.txt": _trace_cmd_lost}),
    # -- perf script text --------------------------------------------------------------------
    Case("binary-junk-inside-text", "300 random bytes and 2000 NULs inside perf script text",
         ["damon.txt", "perf.junk.txt"],
         "skipped 2: 2 line not understood (first at perf.junk.txt:…)", kind="warning",
         skipped={"line not understood": 2},
         files={"perf.junk.txt": _junk_inside_text}),
    Case("non-utf8-symbols", "a symbol name in Latin-1", ["damon.txt", "perf.latin1.txt"],
         "skipped 1: 1 names with non-UTF-8 bytes (written as \\xNN) (first at perf.latin1.txt)",
         kind="warning", skipped={"names with non-UTF-8 bytes (written as \\xNN)": 1},
         files={"perf.latin1.txt": _non_utf8_symbols}),
    Case("time-backwards-perf", "two samples swapped (sorted, noted; nothing skipped)",
         ["damon.txt", "perf.backwards.txt"],
         "perf.backwards.txt: time goes backwards 1 times from one cpu-clock:ppp sample to the "
         "next; the samples are used sorted by time (texts joined together? perf script "
         "--no-ordering?)", kind="warning", files={"perf.backwards.txt": _perf_backwards}),
    Case("perf-time-out-of-range", "a sample at 10^13 s", ["damon.txt", "perf.bigtime.txt"],
         "perf.bigtime.txt:1: time 10000000000000.000000 s is out of range (2^62 ns at most)",
         files={"perf.bigtime.txt": lambda: perf_text().replace(b" 10.001000:",
                                                                b" 10000000000000.000000:", 1)}),
    Case("perf-huge-tid", "a 25-digit tid", ["damon.txt", "perf.bigtid.txt"],
         "perf.bigtid.txt:1: implausible pid/tid None/1234567890123456789012345 (perf's are "
         "32-bit)", files={"perf.bigtid.txt": lambda: perf_text().replace(
             b"prog 4242 ", b"prog 1234567890123456789012345 ", 1)}),
    Case("perf-filter-leaves-nothing", "--comm that matches no thread",
         ["damon.txt", "perf.txt", "--comm", "nosuchcomm"],
         "perf.txt: no perf sample is left after --pid/--tid/--comm (1000 filtered out)"),
    # -- DAMON and perf together -------------------------------------------------------------
    Case("no-time-overlap", "fftlike DAMON with the perf samples of fftlike-mono",
         [_golden("golden", "fftlike", "damon.json_compressed"),
          _golden("tests", "data", "recordings", "fftlike-mono", "perf.mono.script.txt")],
         "{repo}/golden/fftlike/damon.json_compressed: DAMON record (1949.760557–2021.439817 s) "
         "and perf samples (2025.442316–2053.017220 s) do not overlap in time on the perf clock: "
         "wrong pair of files, or a clock offset (--damon-offset) (perf samples: "
         "{repo}/tests/data/recordings/fftlike-mono/perf.mono.script.txt)"),
    Case("two-damon-records", "two DAMON inputs", ["damon.txt", "damon.txt.gz2"],
         "more than one input holds a DAMON record (damon.txt, damon.txt.gz2); give one",
         kind="usage",
         files={"damon.txt.gz2": lambda: gzip.compress(damon_text())}),
]
"""Every case; ``damon.txt`` and ``perf.txt`` (a good pair) are always written too."""


def _fuzz(name: str, message: str, kind: str = "error",
          skipped: dict[str, int] | None = None) -> Case:
    """An input the fuzzer found crashing a reader (``fuzz/NAME.txt`` says how), now answered."""
    what = "fuzzer find: " + (FUZZ / f"{name}.txt").read_text().split(" (before", 1)[0]
    return Case(f"fuzz-{name}", what, [f"{name}.bin"], message, kind, skipped or {},
                files={f"{name}.bin": lambda: (FUZZ / f"{name}.bin").read_bytes()})


CASES += [
    _fuzz("convert-23b6896bfe02", "convert-23b6896bfe02.bin:4: implausible nr_accesses "
          "2824992411648"),
    _fuzz("convert-365f1d9359b0", "convert-365f1d9359b0.bin@164: DAMON recfmt v2: entry time "
          "has implausible tv_sec=25769808776"),
    _fuzz("convert-5b3d9247fd30", "convert-5b3d9247fd30.bin:9: DAMON region "
          "140737347846144-4967296140737349943296 lies outside 64 bits"),
    _fuzz("convert-5e2e56cf44e7", "convert-5e2e56cf44e7.bin@5: not UTF-8 text: unexpected end "
          "of data"),
    _fuzz("convert-8852c988c6f1", "convert-8852c988c6f1.bin:7: time 4294967296000.300000 s is "
          "out of range (2^62 ns at most)"),
    _fuzz("convert-e99a77a6714c", "skipped 5: 3 damon_aggregated line not understood (first at "
          "convert-e99a77a6714c.bin:7); 2 incomplete DAMON snapshot (first at "
          "convert-e99a77a6714c.bin:5)", "warning",
          {"damon_aggregated line not understood": 3, "incomplete DAMON snapshot": 2}),
    _fuzz("load-14b11a988378", "load-14b11a988378.bin@112: DAMON recfmt v2: entry time has "
          "implausible tv_sec=94489285512"),
    _fuzz("load-34b371f1e54e", "load-34b371f1e54e.bin@648: not UTF-8 text: unexpected end of "
          "data"),
    _fuzz("load-4b911c2d0bf3", "load-4b911c2d0bf3.bin:41: time 93824992002.100000 s is out of "
          "range (2^62 ns at most)"),
    _fuzz("load-827fb31942d1", "skipped 1: 1 incomplete DAMON snapshot (first at "
          "load-827fb31942d1.bin:8)", "warning", {"incomplete DAMON snapshot": 1}),
    _fuzz("load-8e31efc0f89c", "load-8e31efc0f89c.bin:9: implausible nr_accesses "
          "93824992231424"),
    _fuzz("perf_data-1e8535ae17e0", "perf_data-1e8535ae17e0.bin: perf could not read this "
          "perf.data: incompatible file format (rerun with -v to learn more) (recorded by a "
          "newer perf than this one?)"),
    _fuzz("perf_data-dc694aefafd6", "perf_data-dc694aefafd6.bin: perf could not read this "
          "perf.data: perf died of signal 11"),
    _fuzz("load-c89fa32c2151", "load-c89fa32c2151.bin:7: DAMON region "
          "140737347846144-140737349478461943296 lies outside 64 bits"),
    _fuzz("perf_script-ad9970a30cb2", "perf_script-ad9970a30cb2.bin@1555: not UTF-8 text: "
          "invalid start byte"),
]

COMMON: dict[str, Callable[[], bytes]] = {"damon.txt": damon_text, "perf.txt": perf_text}


def generate(outdir: Path, names: set[str] | None = None) -> None:
    """Write the files of every case (or of the cases named) into ``outdir``."""
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "a-directory").mkdir(exist_ok=True)
    for name, make in COMMON.items():
        (outdir / name).write_bytes(make())
    for case in CASES:
        if names is not None and case.name not in names:
            continue
        for name, make in case.files.items():
            (outdir / name).write_bytes(make())
        for name, target in case.links.items():
            link = outdir / name
            if link.is_symlink() or link.exists():
                link.unlink()
            os.symlink(target.replace("{repo}", str(REPO)), link)


def readme() -> str:
    lines = [
        "# Bad inputs",
        "",
        "Hostile and broken inputs with the one line `damon2speedscope` must answer each with",
        "(`tests/test_bad_inputs.py` runs them through `python -m damon2speedscope`). The files",
        "are made by `make_bad_inputs.py` (this README too: `python make_bad_inputs.py",
        "--readme > README.md`); `fuzz/` holds the inputs the fuzzer found (see",
        "`fuzz/README.md`). `damon.txt` and `perf.txt` are a tiny good pair (10 DAMON snapshots",
        "from 10.0 to 11.0 s, 1000 samples in the same second). `…` stands for any text;",
        "`{repo}` is the repository. Error cases exit 1 with exactly that line",
        "(`damon2speedscope: error: …`); warning cases exit 0 with that warning line",
        "(`damon2speedscope: warning: …`) and the same counts in `--summary`'s `skipped`.",
        "",
        "Policy: what a reader does not recognise (a line of unknown shape, an event of",
        "another kind) is skipped and counted; what it recognises but cannot be (a region",
        "ending before it starts, a time beyond 2^62 ns, a truncated or corrupt binary) is an",
        "error at its line or byte offset. DAMON snapshots that contradict time (ending no",
        "later than their target's previous one, starting before it ended) or hold overlapping",
        "regions are skipped and counted: the rest of the record stays usable.",
        "",
        "| case | input | arguments | exit | stderr |",
        "|---|---|---|---|---|",
    ]
    for c in CASES:
        prefix = "warning" if c.kind == "warning" else "error"
        message = c.message.replace("|", "\\|")
        args = " ".join(c.args).replace("{repo}/", "")
        lines.append(f"| {c.name} | {c.what} | `{args}` | {c.exit_code} | "
                     f"`{prefix}: {message}` |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv == ["--readme"]:
        sys.stdout.write(readme())
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    generate(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
