"""``parse_perf_script`` + ``render_folded`` on a corpus they were not tuned on: inferno's.

jonhoo/inferno (a Rust port of FlameGraph) keeps its own ``perf script`` inputs and the folded
output its ``collapse-perf`` printed for them (``tests/data/collapse-perf/``, copied gzipped
under ``tests/data/corpora/inferno``). Each input is parsed and folded in the mode its result
file names (inferno's options map to ours: default → prefix ``comm``, ``--pid``/``--tid`` →
prefix, ``--kernel``/``--jit``/``--all`` → ``annotate``) and compared byte for byte.

Where inferno prints what stackcollapse-perf.pl (our reference) does not, or the stored
expectation is older than inferno's current rules, or the case needs an option we do not
implement, the case is listed in :data:`EXCEPTIONS` with its reason, and the test checks that
exactly that reason explains the difference: nothing is skipped silently.
"""

from __future__ import annotations

import dataclasses
import gzip
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from damon2speedscope.model import PerfSamples
from damon2speedscope.readers.perf_script import parse_perf_script
from damon2speedscope.writers.folded import _KERNEL_MOD, fold_frame_line, render_folded

CORPUS = Path(__file__).resolve().parent / "data" / "corpora" / "inferno"
FLAMEGRAPH = CORPUS.parent / "FlameGraph"

Mode = tuple[str, tuple[str, ...]]  # (prefix, annotate)
DEFAULT: Mode = ("comm", ())
# input name → (input file, result file, our mode for inferno's options in the result's name)
CASES: dict[str, tuple[Path, str, Mode]] = {
    "cpp-stacks-std-function": (CORPUS / "cpp-stacks-std-function.txt.gz",
                                "cpp-stacks-std-function-collapsed", DEFAULT),
    "go-stacks": (CORPUS / "go-stacks.txt.gz", "go-stacks-collapsed", DEFAULT),
    "java-inline": (CORPUS / "java-inline.txt.gz", "java-inline-collapsed", DEFAULT),
    "single-event": (CORPUS / "single-event.txt.gz", "single-event-collapsed", DEFAULT),
    "single-line-stacks": (CORPUS / "single-line-stacks.txt.gz",
                           "single-line-stacks-collapsed", DEFAULT),
    "sourcepawn-jitdump": (CORPUS / "sourcepawn-jitdump.txt.gz",
                           "sourcepawn-jitdump-collapsed-jit", ("comm", ("jit",))),
    "versioned-vmlinux": (CORPUS / "versioned-vmlinux.txt.gz",
                          "versioned-vmlinux-collapsed-kernel", ("comm", ("kernel",))),
}

STALE_COUNTS = ("the stored expectation predates inferno weighting a stack by the samples' "
                "periods (as stackcollapse-perf.pl and we do): it counts samples")
EXCEPTIONS: dict[str, str] = {
    "cpp-stacks-std-function": STALE_COUNTS + "; and inferno keeps a parenthesised part "
    "inside C++ template arguments (std::function<int (int, int)>::operator), where "
    "stackcollapse-perf.pl drops everything from the first '(' (std::function<int )",
    "java-inline": STALE_COUNTS,
    "single-event": STALE_COUNTS + "; and inferno demangles a legacy Rust symbol perf left "
    "mangled ($LT$ → <, $u7b$ → {, the ::h<hash> suffix dropped); we print names as perf did",
    "single-line-stacks": "each sample's only frame is on its header line (perf script "
    "without callchains), which we do not read as a frame; and the two samples are of two "
    "events (cycles:u, cycles), of which we keep one (the reader's choice of event; "
    "inferno's --event-filter is not implemented)",
    "versioned-vmlinux": "inferno marks as kernel (_[k]) the frames of a versioned "
    "vmlinux-<version> file and of /lib/modules/*.ko modules; stackcollapse-perf.pl's rule, "
    "ours, only a module that starts with '[' or ends with 'vmlinux'",
}
# inferno results not copied, with why (see tests/data/corpora/README.md)
LEFT_OUT: dict[str, str] = {
    "perf-rust-Yamakaky-dcpu-collapsed-addrs": "--addrs is not implemented",
    "perf-rust-Yamakaky-dcpu-collapsed-{pid,tid,kernel,jit,all}": "inferno's own results for "
    "FlameGraph's input (which tests/test_folded_corpora.py checks against FlameGraph's "
    "expectations): they demangle the Rust legacy names perf left mangled (not implemented) "
    "and count samples, not periods; five 32 KB files only reachable page by page",
    "example-perf-stacks-collapsed": "646 KB (the input is FlameGraph/example-perf-stacks)",
    "inline-counter-collapsed-inline{,+context}": "--inline / --context are not implemented",
    "demangled": "demangling is not implemented",
}


def _read(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def _samples(name: str) -> PerfSamples:
    result = parse_perf_script(_read(CASES[name][0]), name)
    assert result.samples is not None
    return result.samples


def _expected(name: str) -> bytes:
    return _read(CORPUS / "results" / f"{CASES[name][1]}.txt.gz")


def _folded(samples: PerfSamples, mode: Mode) -> bytes:
    return render_folded(samples, prefix=mode[0], annotate=mode[1])


def _per_sample(samples: PerfSamples) -> PerfSamples:
    """The samples with no period: each counts 1, as the stale expectations count."""
    return dataclasses.replace(samples, period=np.zeros_like(samples.period))


def _map_frames(folded: bytes, rename: Callable[[bytes], bytes]) -> bytes:
    """Folded text with every frame after the thread frame renamed (and summed, sorted)."""
    counts: dict[bytes, int] = {}
    for line in folded.splitlines():
        key, _, n = line.rpartition(b" ")
        parts = key.split(b";")
        key = b";".join(parts[:1] + [rename(p) for p in parts[1:]])
        counts[key] = counts.get(key, 0) + int(n)
    return b"".join(k + b" %d\n" % counts[k] for k in sorted(counts))


def _perl_tidy(frame: bytes) -> bytes:
    """stackcollapse-perf.pl's argument-list rule applied to one of inferno's names."""
    if re.search(rb"\.\(.*\)\.", frame):
        return frame
    return re.sub(rb"\((?!anonymous namespace\)).*", b"", frame, count=1)


_RUST_ESCAPES = {b"$LT$": b"<", b"$GT$": b">", b"$u7b$": b"{", b"$u7d$": b"}"}


def _rust_legacy_demangle(frame: bytes) -> bytes:
    """The part of Rust legacy demangling this corpus needs: escapes and the hash suffix."""
    if b"$" not in frame:
        return frame
    for k, v in _RUST_ESCAPES.items():
        frame = frame.replace(k, v)
    return re.sub(rb"::h[0-9a-f]{16}$", b"", frame)


def test_corpus_is_complete() -> None:
    """Every listed case has its files (a missing copy must not pass as a skip)."""
    for name, (path, result, _) in CASES.items():
        assert path.is_file(), name
        assert (CORPUS / "results" / f"{result}.txt.gz").is_file(), result
    assert (CORPUS / "LICENSE-cddl1.txt").read_bytes() == \
        (FLAMEGRAPH / "LICENSE-cddl1.txt").read_bytes()
    assert set(EXCEPTIONS) <= set(CASES)
    assert not set(LEFT_OUT) & {result for _, result, _ in CASES.values()}
    assert len(list(CORPUS.glob("*.txt.gz"))) == len(CASES)
    assert len(list((CORPUS / "results").glob("*.txt.gz"))) == len(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_folded_matches_inferno(name: str) -> None:
    """Byte for byte, or the listed reason (and only it) accounts for the difference."""
    samples = _samples(name)
    mode = CASES[name][2]
    ours, expected = _folded(samples, mode), _expected(name)
    if name not in EXCEPTIONS:
        assert ours == expected
        return
    assert ours != expected, f"{name} now matches: remove its exception"
    reason = EXCEPTIONS[name]
    if reason.startswith(STALE_COUNTS):
        per_sample = _folded(_per_sample(samples), mode)
        assert per_sample != ours
        ours = per_sample
    if name == "cpp-stacks-std-function":
        assert ours != expected
        expected = _map_frames(expected, _perl_tidy)
    elif name == "single-event":
        assert ours != expected
        ours = _map_frames(ours, _rust_legacy_demangle)
    elif name == "versioned-vmlinux":
        # no frame of the text is kernel by our rule: with or without --kernel, the same
        assert ours == _folded(samples, DEFAULT)
        expected = expected.replace(b"_[k]", b"")
    elif name == "single-line-stacks":
        _check_single_line_stacks(samples)
        return
    assert ours == expected


def _check_single_line_stacks(samples: PerfSamples) -> None:
    """What inferno printed is each header's trailing frame, folded by our own rules."""
    name = "single-line-stacks"
    data = _read(CASES[name][0])
    result = parse_perf_script(data, name)
    assert result.events == {"cycles:u": 1, "cycles": 1}
    assert len(samples) == 1 and samples.event == "cycles:u"
    assert _folded(samples, DEFAULT) == b"false 1\n"  # the sample, without frames
    lines = []
    for header in data.splitlines():
        comm, _, rest = header.strip().partition(b" ")
        frame = re.split(rb"\scycles(?::u)?:\s+", rest, maxsplit=1)[1]
        lines.append(b";".join([comm, *fold_frame_line(frame)]) + b" 1\n")
    assert b"".join(sorted(lines)) == _expected(name)


def test_java_inline_counts_are_stale_not_wrong() -> None:
    """java-inline's samples all have one period: its expectation times it is our output."""
    samples = _samples("java-inline")
    (period,) = set(samples.period.tolist())
    scaled = b"".join(
        line.rpartition(b" ")[0] + b" %d\n" % (int(line.rpartition(b" ")[2]) * period)
        for line in _expected("java-inline").splitlines())
    assert _folded(samples, DEFAULT) == scaled


def test_versioned_vmlinux_kernel_frames_are_what_inferno_marks() -> None:
    """The _[k] frames are exactly those of vmlinux-<version> / *.ko modules, none of which
    our (stackcollapse-perf.pl's) rule takes for kernel."""
    data = _read(CASES["versioned-vmlinux"][0])
    mods = re.findall(rb"\((\S+)\)\n", data)
    wider = [m for m in mods if b"vmlinux" in m or m.endswith(b".ko")]
    assert wider and not any(_KERNEL_MOD.search(m) for m in mods)
    marked = _expected("versioned-vmlinux").count(b"_[k]")
    assert marked == len(wider)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_input_parses(name: str) -> None:
    """Text from another tool's test corpus reads without error, with samples."""
    result = parse_perf_script(_read(CASES[name][0]), name)
    assert result.samples is not None and len(result.samples) > 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_folds_every_input(name: str) -> None:
    """A perf text alone is accepted; the CLI prints what render_folded gives."""
    proc = subprocess.run(
        [sys.executable, "-m", "damon2speedscope", str(CASES[name][0]), "--format", "folded"],
        capture_output=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stdout == _folded(_samples(name), DEFAULT)
