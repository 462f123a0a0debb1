"""Command line: the only place that opens files, parses arguments and maps errors to exits.

Exit codes: 0 success, 1 bad input or failed conversion (any
:class:`~damon2speedscope.errors.Damon2SpeedscopeError` but a usage error), 2 usage error,
70 internal error (a bug: one line, the traceback with ``DAMON2SPEEDSCOPE_DEBUG=1``),
130 interrupted (SIGINT), 143 terminated (SIGTERM). Every failure is exactly one
``damon2speedscope: error: ...`` line on stderr, and ``-o``/``--summary`` files are written
atomically, so a failure or a signal never leaves a partial or empty output (nor a temp file).
"""

from __future__ import annotations

import argparse
import contextlib
import mmap
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Literal, NoReturn

import orjson

from . import __version__, frames
from .analysis.bursts import SIGNALS, BurstParams
from .clock import ClockDomain
from .errors import Damon2SpeedscopeError, InputError, OutputError, UsageError
from .model import TIME_LIMIT_NS
from .pipeline import Conversion, ConvertOptions, InputBytes, convert
from .readers import ReadOptions, SampleFilter
from .readers.vmas import Mappings, parse_vmas
from .units import parse_duration_ns
from .writers.folded import (
    ANNOTATIONS,
    PREFIXES,
    burst_names_for_samples,
    render_collapsed,
    render_folded,
)
from .writers.speedscope import HOT_RANGES_PER_INTERVAL, VIEWS, ViewOptions

PROG = "damon2speedscope"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Put DAMON memory-access phases and perf callchains on ONE speedscope "
        "timeline. Inputs are detected from their bytes: perf.data (with callchains and/or "
        "damon:damon_aggregated tracepoints), `perf script` text, damo json / json_compressed.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="DAMON record and/or perf recording, in any order; '-' reads stdin")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the speedscope JSON here (atomically) instead of stdout")
    p.add_argument("--format", choices=["speedscope", "collapsed", "folded"],
                   default="speedscope",
                   help="speedscope JSON (default); collapsed: comm;[burst];stack COUNT with "
                   "our frame names; folded: stackcollapse-perf.pl-compatible text")
    p.add_argument("--folded-prefix", choices=PREFIXES, default="comm",
                   help="thread frame of collapsed/folded lines (stackcollapse's --pid/--tid)")
    p.add_argument("--folded-annotate", action="append", default=[],
                   choices=[*ANNOTATIONS, "all"],
                   help="folded: _[k] kernel / _[j] jit suffixes (stackcollapse's --kernel...)")
    p.add_argument("--summary", metavar="FILE", help="also write a JSON summary here")
    p.add_argument("--validate", action="store_true",
                   help="check the output against speedscope's schema and a semantic checker")
    p.add_argument("--strict", action="store_true",
                   help="fail instead of skipping anything the inputs hold that cannot be used")
    p.add_argument("--name", help="name of the profile file shown by speedscope")
    v = p.add_argument_group("views and attribution")
    v.add_argument("--views", default=",".join(VIEWS), metavar="LIST",
                   help=f"profiles to write, comma-separated from {', '.join(VIEWS)} "
                   "(default: all)")
    v.add_argument("--memory-signal", choices=["wss", "access"], default="wss",
                   help="what the memory-weighted profile weighs samples by")
    v.add_argument("--hot-ranges", type=int, default=HOT_RANGES_PER_INTERVAL, metavar="N",
                   help="hottest address ranges per interval in the heat view")
    v.add_argument("--vmas", metavar="FILE",
                   help="damo's .vmas side file, to name hot ranges of a virtual-address record "
                   "by mapping (default: INPUT.vmas next to an input, when present)")
    v.add_argument("--report", action="store_true",
                   help="print which functions go with each memory burst (stderr)")
    v.add_argument("--top", type=int, default=5, metavar="N",
                   help="functions per burst in --report and --summary")
    g = p.add_argument_group("perf samples")
    g.add_argument("--event", help="sampling event to use (default: the first with callchains)")
    g.add_argument("--pid", type=int, action="append", default=[], help="keep only this pid")
    g.add_argument("--tid", type=int, action="append", default=[], help="keep only this tid")
    g.add_argument("--comm", action="append", default=[], help="keep only this command name")
    g.add_argument("--perf", metavar="EXE", help="perf executable for perf.data inputs")
    g.add_argument("--buildid-dir", metavar="DIR",
                   help="perf build-id cache to symbolize with: a folder, or the .tar.bz2 of "
                   "`perf archive` (default: PERF_DATA.tar.bz2 when it is there)")
    c = p.add_argument_group("clocks")
    c.add_argument("--clock", choices=["perf", "mono", "monotonic_coarse", "wall"],
                   help="declare the clock of inputs that cannot tell it (text, json)")
    c.add_argument("--damon-offset", metavar="DURATION", default="0",
                   help="shift DAMON times by hand, e.g. -1.8ms or +3s")
    b = p.add_argument_group("memory bursts (see README: how bursts are found)")
    d = BurstParams()
    b.add_argument("--burst-signal", choices=SIGNALS, default=d.signal)
    b.add_argument("--burst-enter", type=float, default=d.enter, metavar="FRAC")
    b.add_argument("--burst-exit", type=float, default=d.exit, metavar="FRAC")
    b.add_argument("--burst-split", type=float, default=d.split, metavar="RATIO")
    b.add_argument("--burst-core", type=float, default=d.core, metavar="FRAC")
    b.add_argument("--burst-baseline", type=float, default=d.baseline_percentile,
                   metavar="PERCENTILE")
    b.add_argument("--burst-min-length", default="0", metavar="DURATION")
    b.add_argument("--burst-merge-gap", default="0", metavar="DURATION")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return p


def _read(name: str, stdin: IO[bytes]) -> InputBytes:
    if name == "-":
        return InputBytes("<stdin>", stdin.read())
    path = Path(name)
    try:
        if path.is_dir():
            raise InputError("is a directory, not a recording", name)
        with path.open("rb") as fh:
            if path.is_file() and os.fstat(fh.fileno()).st_size > 0:
                # mapped, not copied: the readers release what they have read as they go
                return InputBytes(name, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ),
                                  str(path))
            return InputBytes(name, fh.read(), str(path))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", name) from None


class _Staged:
    """An output written to a temp file in its directory, renamed over the target on
    :meth:`commit`, removed on :meth:`discard`: never a partial or empty file on failure.

    Targets that are not regular files (``/dev/null``, a FIFO, ``/dev/stdout``) are written
    in place at once: renaming over them would replace the device or pipe with a file.
    The caller keeps the object BEFORE :meth:`write` (see :func:`_stage`), and the temp
    file's creation, rename and removal each happen with SIGINT/SIGTERM held, so a signal at
    any moment leaves either no temp file or one that the caller's clean-up knows of.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.tmp: str | None = None

    def write(self, data: bytes | Callable[[IO[bytes]], object], inputs: Sequence[str]) -> None:
        with self._errors():
            self._write(Path(self.target), data, inputs)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write: {exc.strerror or exc}", self.target) from None
        except BaseException:
            self.discard()
            raise

    def _write(self, path: Path, data: bytes | Callable[[IO[bytes]], object],
               inputs: Sequence[str]) -> None:
        for name in inputs:
            if name != "-" and Path(name).exists() and path.exists() and path.samefile(name):
                raise UsageError(f"refusing to overwrite input {name} with the output")
        if path.exists() and not path.is_file():
            if path.is_dir():
                raise UsageError(f"output {self.target} is a directory")
            with path.open("wb") as fh:
                _emit(fh, data)
            return
        with _signals_held():  # a signal now would leave a temp file nobody knows of
            fd, self.tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                            dir=path.parent or ".")
        with os.fdopen(fd, "wb") as fh:
            _emit(fh, data)
        os.chmod(self.tmp, 0o666 & ~_umask())

    def commit(self) -> None:
        with _signals_held(), self._errors():
            if self.tmp is not None:
                os.replace(self.tmp, self.target)
                self.tmp = None

    def discard(self) -> None:
        with _signals_held():
            if self.tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self.tmp)
                self.tmp = None


def _stage(staged: list[_Staged], target: str, data: bytes | Callable[[IO[bytes]], object],
           inputs: Sequence[str]) -> None:
    """Stage one output: listed first, so the caller's clean-up sees it whatever happens."""
    output = _Staged(target)
    staged.append(output)
    output.write(data, inputs)


_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT/SIGTERM wait until the block is over (their handlers then run at once)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _emit(fh: IO[bytes], data: bytes | Callable[[IO[bytes]], object]) -> None:
    if isinstance(data, bytes):
        fh.write(data)
    else:
        data(fh)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _options(args: argparse.Namespace) -> ConvertOptions:
    for name in ("burst_enter", "burst_exit", "burst_core", "burst_split"):
        value = getattr(args, name)
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"--{name.replace('_', '-')} must be between 0 and 1")
    if args.burst_exit > args.burst_enter:
        raise UsageError("--burst-exit must not exceed --burst-enter (hysteresis)")
    read = ReadOptions(
        event=args.event,
        sample_filter=SampleFilter(frozenset(args.pid), frozenset(args.tid), frozenset(args.comm)),
        clock=ClockDomain.parse(args.clock) if args.clock else None,
        perf=args.perf,
        buildid_dir=args.buildid_dir,
    )
    bursts = BurstParams(
        signal=args.burst_signal,
        baseline_percentile=args.burst_baseline,
        enter=args.burst_enter,
        exit=args.burst_exit,
        split=args.burst_split,
        core=args.burst_core,
        min_length_ns=parse_duration_ns(args.burst_min_length),
        merge_gap_ns=parse_duration_ns(args.burst_merge_gap),
    )
    views = frozenset(v.strip() for v in args.views.split(",") if v.strip())
    unknown = views - set(VIEWS)
    if unknown or not views:
        raise UsageError(f"--views: unknown {', '.join(sorted(unknown)) or 'empty list'}; "
                         f"choose from {', '.join(VIEWS)}")
    if args.top < 1 or args.hot_ranges < 1:
        raise UsageError("--top and --hot-ranges must be at least 1")
    damon_offset_ns = parse_duration_ns(args.damon_offset)
    if not -TIME_LIMIT_NS < damon_offset_ns < TIME_LIMIT_NS:
        raise UsageError("--damon-offset: out of range (±146 years)")
    return ConvertOptions(read=read, bursts=bursts,
                          damon_offset_ns=damon_offset_ns,
                          strict=args.strict, name=args.name,
                          views=ViewOptions(views, args.memory_signal, args.hot_ranges,
                                            _mappings(args)),
                          top_functions=args.top)


def _mappings(args: argparse.Namespace) -> tuple[Mappings, ...]:
    """Mappings per DAMON target from ``--vmas`` or an ``INPUT.vmas`` beside an input; damo
    lists the processes in the order of the record's targets."""
    path = args.vmas
    if path is None:
        beside = [f"{name}.vmas" for name in args.inputs if name != "-"]
        path = next((p for p in beside if Path(p).is_file()), None)
        if path is None:
            return ()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from None
    return tuple(parse_vmas(data, path))


def _report(result: Conversion, out: IO[str]) -> None:
    """The per-burst attribution as a short table."""
    if not result.attribution:
        print(f"{PROG}: report: no memory burst with CPU samples", file=out)
        return
    origin = int(result.document["profiles"][0]["startValue"]) if result.document[
        "profiles"] else 0
    for a in result.attribution:
        b = a.burst
        print(f"{frames.burst_name(b.number, b.start_ns - origin, b.end_ns - origin, b.peak_wss)}"
              f" {a.samples} samples", file=out)
        print(f"  {'function (inclusive)':<40} {'share':>7} {'lift':>6}", file=out)
        for f in a.inclusive:
            print(f"  {f.name[:40]:<40} {f.share:>7.1%} {f.lift:>6.2f}", file=out)


def _progress(enabled: bool, message: str) -> None:
    if enabled:
        print(f"{PROG}: {message}", file=sys.stderr, flush=True)


_SIGNED_OPTIONS = ("--damon-offset",)


def _join_signed_values(argv: Sequence[str]) -> list[str]:
    """``--damon-offset -1.8ms`` → ``--damon-offset=-1.8ms``: argparse takes -1.8ms for a flag."""
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        if items[i] in _SIGNED_OPTIONS and i + 1 < len(items) and items[i + 1][:1] == "-":
            out.append(f"{items[i]}={items[i + 1]}")
            i += 2
            continue
        out.append(items[i])
        i += 1
    return out


def run(argv: Sequence[str] | None, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    args = _parser().parse_args(_join_signed_values(sys.argv[1:] if argv is None else argv))
    if len(args.inputs) > 2:
        raise UsageError("give at most two inputs: a DAMON record and a perf recording")
    if args.inputs.count("-") > 1:
        raise UsageError("only one input can be read from stdin")
    with contextlib.ExitStack() as cleanup:
        args.buildid_dir = _buildid_dir(args, cleanup)
        return _convert(args, stdin, stdout)


def _convert(args: argparse.Namespace, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    options = _options(args)
    tty = sys.stderr.isatty()
    _progress(tty, "reading " + ", ".join(args.inputs))
    inputs = [_read(name, stdin) for name in args.inputs]
    result = convert(inputs, options)
    for warning in result.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    if args.report:
        _report(result, sys.stderr)
    _progress(tty, "writing")
    data: bytes | Callable[[IO[bytes]], object]
    if args.format != "speedscope":
        data = _folded(result, args)
    else:
        if args.validate:
            from .validate import validate  # jsonschema costs ~0.1 s of start-up: only here

            validate(result.document)
        data = result.write_document
    # Every file output is staged first and renamed at the end: a failure leaves none of them.
    staged: list[_Staged] = []
    try:
        if args.summary:
            _stage(staged, args.summary, orjson.dumps(
                result.summary, option=orjson.OPT_INDENT_2) + b"\n", args.inputs)
        if args.output and args.output != "-":
            _stage(staged, args.output, data, args.inputs)
        else:
            try:
                _emit(stdout, data)
                stdout.flush()
            except BrokenPipeError:
                raise
            except OSError as exc:
                raise OutputError(f"cannot write: {exc.strerror or exc}", "<stdout>") from None
        with _signals_held():  # all outputs or none, even on Ctrl-C
            for output in staged:
                output.commit()
    finally:
        with _signals_held():
            for output in staged:
                output.discard()
    return 0


ARCHIVE_SUFFIX = ".tar.bz2"
"""What ``perf archive perf.data`` writes next to it: ``perf.data.tar.bz2``."""
ARCHIVE_LIMIT = 8 << 30
"""Bytes a perf archive may unpack to (its files are binaries and debug info, not data)."""


def _buildid_dir(args: argparse.Namespace, cleanup: contextlib.ExitStack) -> str | None:
    """The build-id cache perf symbolizes with: ``--buildid-dir`` as given (a folder, or a
    perf archive unpacked here), else the perf archive found next to a perf.data input, so
    ``damon2speedscope damon.perf.data perf.data`` on another machine shows function names
    instead of ``[unknown]``."""
    given: str | None = args.buildid_dir
    if given is not None and not os.path.isfile(given):
        return given
    archive = given
    if archive is None:
        for name in args.inputs:
            beside = name + ARCHIVE_SUFFIX
            if name != "-" and os.path.isfile(beside) and _is_perf_data(name):
                archive = beside
                break
        if archive is None:
            return None
        print(f"{PROG}: symbolizing with the perf archive {archive} (--buildid-dir)",
              file=sys.stderr)
    folder = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="damon2speedscope-"))
    _unpack_perf_archive(archive, folder)
    return folder


def _is_perf_data(name: str) -> bool:
    try:
        with open(name, "rb") as fh:
            return fh.read(8) == b"PERFILE2"
    except OSError:
        return False


_TarMode = Literal["r:", "r:bz2", "r:gz", "r:xz"]
_TAR_COMPRESSION: tuple[tuple[bytes, _TarMode], ...] = (
    (b"BZh", "r:bz2"), (b"\x1f\x8b", "r:gz"), (b"\xfd7zXZ", "r:xz"))


def _unpack_perf_archive(archive: str, folder: str) -> None:
    """Unpack ``perf archive``'s tar into ``folder``, refusing what could write elsewhere:
    members outside it, links pointing outside it or met on the way to another member,
    anything but files, folders and links, and more than :data:`ARCHIVE_LIMIT` bytes."""
    import tarfile  # only here: most conversions have no archive to unpack

    root = os.path.realpath(folder)

    def inside(path: str) -> bool:
        return path == root or path.startswith(root + os.sep)

    try:
        with open(archive, "rb") as fh:
            magic = fh.read(6)
        mode: _TarMode = next((m for head, m in _TAR_COMPRESSION if magic.startswith(head)),
                              "r:")
        with tarfile.open(archive, mode) as tar:
            members = tar.getmembers()
            links = {os.path.normpath(m.name) for m in members if m.issym() or m.islnk()}
            total = 0
            for m in members:
                where = os.path.normpath(os.path.join(root, m.name))
                if not inside(where):
                    raise InputError(f"perf archive member {m.name!r} would land outside "
                                     "its folder", archive)
                parents = os.path.normpath(m.name).split(os.sep)[:-1]
                via = [link for link in (os.sep.join(parents[:i + 1])
                                         for i in range(len(parents))) if link in links]
                if via:
                    raise InputError(f"perf archive member {m.name!r} lies under the link "
                                     f"{via[0]!r}", archive)
                if m.issym() or m.islnk():
                    base = os.path.dirname(where) if m.issym() else root
                    if not inside(os.path.normpath(os.path.join(base, m.linkname))):
                        raise InputError(f"perf archive link {m.name!r} points outside "
                                         "its folder", archive)
                elif not (m.isfile() or m.isdir()):
                    raise InputError(f"perf archive member {m.name!r} is neither a file, a "
                                     "folder nor a link", archive)
                total += m.size
                if total > ARCHIVE_LIMIT:
                    raise InputError(f"perf archive unpacks to more than "
                                     f"{ARCHIVE_LIMIT >> 30} GiB", archive)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(root, members, filter="data")
            else:  # Python < 3.10.12: the checks above stand in for the filter
                tar.extractall(root, members)
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise InputError(f"not a readable perf archive ({mode[2:] or 'tar'}): {exc}",
                         archive) from None
    except OSError as exc:
        raise InputError(f"cannot unpack this perf archive: {exc.strerror or exc}",
                         archive) from None


def _folded(result: Conversion, args: argparse.Namespace) -> bytes:
    """``--format collapsed|folded``: flame-graph text instead of a speedscope file."""
    samples = result.samples
    if samples is None or not len(samples):
        raise UsageError(f"--format {args.format} needs perf callchain samples")
    if args.format == "collapsed":
        origin = result.timeline.start_ns if result.timeline is not None else 0
        bursts = burst_names_for_samples(samples, result.series, result.bursts, origin)
        return render_collapsed(samples, bursts, prefix=args.folded_prefix)
    annotate = set(ANNOTATIONS) if "all" in args.folded_annotate else set(args.folded_annotate)
    return render_folded(samples, prefix=args.folded_prefix, annotate=annotate)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


DEBUG_ENV = "DAMON2SPEEDSCOPE_DEBUG"
"""Set to 1 to get the traceback of an internal error (exit code 70) on stderr."""


def entry() -> NoReturn:
    """The console script and ``python -m``: :func:`main`, then the process ends without
    tearing the interpreter down (freeing a large model object by object takes a noticeable
    share of a conversion, for nothing). The standard streams are flushed first; outputs are
    already closed and renamed, the forked reader already joined."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with _sigterm_as_interrupt():
            return run(argv, sys.stdin.buffer, sys.stdout.buffer)
    except Damon2SpeedscopeError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except _Terminated:
        print(f"{PROG}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, and keep Python's exit-time flush
        # of stdout from complaining about the same broken pipe
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except MemoryError:
        print(f"{PROG}: error: out of memory (input too large for this machine?)",
              file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line, the traceback on request
        if os.environ.get(DEBUG_ENV) == "1":
            import traceback
            traceback.print_exc()
        print(f"{PROG}: error: internal error (a bug; please report it with the input; "
              f"{DEBUG_ENV}=1 shows the traceback): {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 70
