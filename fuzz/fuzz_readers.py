"""Fuzzing harness for damon2speedscope's readers (a development tool, not a CI test).

Feeds bytes to a target; ANY exception other than ``Damon2SpeedscopeError`` is a crash. Crashes
do not stop a run: each distinct one (exception type + innermost frame in the package) is saved
once as ``fuzz/crashes/TARGET-SHA.bin`` with its traceback in ``.txt``, and the run goes on.
Fixed crashes become regression inputs in ``tests/data/bad/fuzz/`` (``tests/test_bad_inputs.py``
replays them).

    python fuzz/fuzz_readers.py run --seconds 600 [--targets load,json] [--pure]
    python fuzz/fuzz_readers.py one TARGET --seconds 60 [--pure]
    python fuzz/fuzz_readers.py replay FILE...        # which target: the file name's prefix

With atheris (``pip install atheris``) the search is coverage-guided (libFuzzer over the
instrumented package); without it (or with ``--pure``) it is a seeded mutation loop (bit flips,
byte/chunk insertion, deletion, duplication, truncation, splicing of two seeds). Seeds are the
real recordings and fixtures in ``golden/`` and ``tests/data/`` (text cut to 16 KiB), the
bad-input corpus, and earlier crashes. ``run`` splits the time evenly across the targets and
prints executions and crashes per target.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CRASHES = REPO / "fuzz" / "crashes"
MAX_LEN = 1 << 14
TARGETS = ("load", "convert", "json", "perf_script", "trace_cmd", "recfmt", "detect",
           "compressed", "vmas", "perf_data")
MAX_LENS = {"perf_data": 1 << 16}
"""Targets that need longer inputs than :data:`MAX_LEN`."""
_SEED_ROOTS = (REPO / "golden", REPO / "tests" / "data")
_SKIP_SEEDS = re.compile(r"\.(png|c|cpp|py|md|gz|tar\.bz2)$|LICENSE|expected\.")


def _seeds(target: str) -> list[bytes]:
    """Real inputs, small ones whole and big text cut at 16 KiB (at a line end)."""
    out: list[bytes] = []
    for root in _SEED_ROOTS:
        for path in sorted(root.rglob("*")):
            if not path.is_file() or _SKIP_SEEDS.search(path.name):
                continue
            data = path.read_bytes()
            if data.startswith(b"PERFILE2"):
                continue  # perf.data: megabytes, and read by perf (see _target)
            if len(data) > MAX_LEN:
                if b"\x00" in data[:4096] or data[:2] in (b"\x78\x9c", b"\x78\xda"):
                    continue  # a cut binary is only a truncation case: the mutator makes those
                cut = data.rfind(b"\n", 0, MAX_LEN)
                data = data[:cut + 1 if cut > 0 else MAX_LEN]
            out.append(data)
    bad = REPO / "tests" / "data" / "bad"
    for path in sorted((bad / "fuzz").glob("*")) if (bad / "fuzz").is_dir() else []:
        if path.suffix == ".bin":
            out.append(path.read_bytes()[:MAX_LEN])
    for path in sorted(CRASHES.glob(f"{target}-*.bin")) if CRASHES.is_dir() else []:
        out.append(path.read_bytes()[:MAX_LEN])
    if target == "perf_data":
        sys.path.insert(0, str(REPO / "tests" / "data" / "bad"))
        from make_bad_inputs import small_damon_perf_data

        return [small_damon_perf_data()]
    if target == "compressed":
        import bz2
        import gzip
        import lzma
        import zlib

        small = [s for s in out if len(s) < 8192][:20]
        out = [c(s) for s in small for c in (gzip.compress, lzma.compress, bz2.compress,
                                            zlib.compress)]
    return out


def _target(name: str) -> Callable[[bytes], object]:
    """The function under test: bytes → whatever the reader does with them."""
    from damon2speedscope.pipeline import ConvertOptions, InputBytes, convert
    from damon2speedscope.readers import ReadOptions, detect, load_input
    from damon2speedscope.readers.compression import decompress, sniff
    from damon2speedscope.readers.damo_json import parse_damo_json
    from damon2speedscope.readers.perf_data import check_file_header
    from damon2speedscope.readers.perf_data_native import read as read_native
    from damon2speedscope.readers.perf_script import parse_perf_script
    from damon2speedscope.readers.recfmt import parse_recfmt
    from damon2speedscope.readers.trace_cmd import parse_trace_cmd
    from damon2speedscope.readers.vmas import parse_vmas

    # perf.data goes to a perf that prints nothing: the header checks and the code after perf
    # run, perf itself is not what we fuzz (and takes milliseconds per input)
    options = ReadOptions(perf="true")

    def load(data: bytes) -> None:
        load_input(data, "fuzz", None, options)

    def conv(data: bytes) -> None:
        result = convert([InputBytes("fuzz", data)], ConvertOptions(read=options))
        for _ in result.document_json():
            pass
        json.dumps(result.summary)

    def compressed(data: bytes) -> None:
        codec = sniff(data)
        if codec is not None:
            decompress(data, codec, "fuzz", 64 << 20)

    def perf_data(d: bytes) -> object:
        check_file_header(d, "fuzz")
        read_native(d)
        return load_input(d, "fuzz", None, options)

    targets: dict[str, Callable[[bytes], object]] = {
        "load": load,
        "convert": conv,
        "json": lambda d: parse_damo_json(d, "fuzz"),
        "perf_script": lambda d: parse_perf_script(d, "fuzz"),
        "trace_cmd": lambda d: parse_trace_cmd(d, "fuzz"),
        "recfmt": lambda d: parse_recfmt(d, "fuzz"),
        "detect": lambda d: detect(d, "fuzz"),
        "compressed": compressed,
        "vmas": lambda d: parse_vmas(d, "fuzz"),
        "perf_data": perf_data,
    }
    return targets[name]


class Recorder:
    """Runs one input; saves each distinct crash once; counts executions."""

    def __init__(self, target: str) -> None:
        from damon2speedscope.errors import Damon2SpeedscopeError

        self.expected = Damon2SpeedscopeError
        self.target = target
        self.fn = _target(target)
        self.execs = 0
        self.crashes: dict[str, Path] = {}

    def __call__(self, data: bytes) -> None:
        self.execs += 1
        try:
            self.fn(data)
        except self.expected:
            pass
        except RecursionError as exc:  # also a crash, but its traceback is thousands of frames
            self._save(data, exc, "RecursionError")
        except Exception as exc:
            self._save(data, exc, None)

    def _save(self, data: bytes, exc: BaseException, key: str | None) -> None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if "damon2speedscope" in f.filename]
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        signature = f"{type(exc).__name__} at {where}" if key is None else f"{key} at {where}"
        if signature in self.crashes:
            return
        CRASHES.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(data).hexdigest()[:12]
        path = CRASHES / f"{self.target}-{digest}.bin"
        path.write_bytes(data)
        text = "".join(traceback.format_exception(exc, limit=-12))
        path.with_suffix(".txt").write_text(f"{signature}\n\n{text}")
        self.crashes[signature] = path
        print(f"fuzz: {self.target}: CRASH {signature} -> {path.name}", file=sys.stderr,
              flush=True)


# -- the pure-Python mutator ------------------------------------------------------------------

_INTERESTING = [b"0", b"-1", b"4294967295", b"18446744073709551616", b"9" * 40, b"1e999",
                b"NaN", b"\x00", b"\xff", b"\n", b"\n\n", b":", b" ", b"[", b"{", b"}", b"]",
                b'"', b",", b"(", b")", b"nr_regions=", b"damon:damon_aggregated:", b"\t",
                b"PERFILE2", b"damon_recfmt_ver", b"\x1f\x8b", b"x\x9c", b"\xef\xbb\xbf"]


def mutate(rng: random.Random, data: bytes, seeds: list[bytes], max_len: int = MAX_LEN) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 4, 8))):
        op = rng.randrange(10)
        n = len(out)
        i = rng.randrange(n + 1)
        if op == 0 and n:
            out[min(i, n - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            out[min(i, n - 1)] = rng.randrange(256)
        elif op == 2:
            out[i:i] = rng.choice(_INTERESTING)
        elif op == 3:
            del out[i:i + rng.randint(1, 64)]
        elif op == 4:
            del out[i:]
        elif op == 5 and n:
            j = rng.randrange(n)
            out[i:i] = out[j:j + rng.randint(1, 256)]
        elif op == 6:
            other = rng.choice(seeds)
            j = rng.randrange(len(other) + 1)
            out[i:] = other[j:j + rng.randint(1, 4096)]
        elif op == 7 and n:  # a digit run made huge or negative
            m = re.search(rb"\d+", out[i:])
            if m is not None:
                a, b = i + m.start(), i + m.end()
                out[a:b] = rng.choice([b"9" * rng.randint(10, 30), b"-" + out[a:b], b"0"])
        elif op == 8 and n:
            lines = bytes(out).split(b"\n")
            k = rng.randrange(len(lines))
            lines.insert(rng.randrange(len(lines) + 1), lines[k])
            out = bytearray(b"\n".join(lines))
        elif op == 9 and n >= 8:  # a binary field: an aligned word set to an edge value
            width = rng.choice((2, 4, 8))
            at = rng.randrange(0, n - width + 1) // width * width
            value = rng.choice((0, 1, 7, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFF0,
                                0xFFFFFFFF, 1 << 63, (1 << 64) - 1, rng.getrandbits(64)))
            out[at:at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return bytes(out[:max_len])


def pure_loop(target: str, seconds: float, seed: int = 0) -> tuple[int, dict[str, Path]]:
    recorder = Recorder(target)
    seeds = _seeds(target) or [b""]
    rng = random.Random(seed)
    for s in seeds:
        recorder(s)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _ in range(20):
            recorder(mutate(rng, rng.choice(seeds), seeds, MAX_LENS.get(target, MAX_LEN)))
    return recorder.execs, recorder.crashes


# -- atheris ----------------------------------------------------------------------------------


def atheris_main(target: str, libfuzzer_args: list[str]) -> None:
    """Runs inside its own process: libFuzzer exits the process when it is done."""
    import atheris

    with atheris.instrument_imports(include=["damon2speedscope"]):
        recorder = Recorder(target)
    atheris.Setup([sys.argv[0], *libfuzzer_args], recorder)
    atheris.Fuzz()


_EXECUTED = re.compile(r"stat::number_of_executed_units:\s*(\d+)")


def run_atheris(target: str, seconds: float) -> tuple[int, dict[str, str]]:
    started = time.time()
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i, seed in enumerate(_seeds(target)):
            (corpus / f"seed{i:04d}").write_bytes(seed)
        cmd = [sys.executable, __file__, "_atheris", target, f"-max_total_time={int(seconds)}",
               f"-max_len={MAX_LENS.get(target, MAX_LEN)}", "-timeout=30", "-rss_limit_mb=6000",
               "-print_final_stats=1", str(corpus)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    executed = _EXECUTED.findall(proc.stderr)
    if not executed:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"fuzz: {target}: atheris run failed ({proc.returncode})")
    for line in proc.stderr.splitlines():
        if "CRASH" in line or "ERROR: libFuzzer" in line or "==ERROR" in line:
            print(line, file=sys.stderr)
    crashes = {}
    for path in sorted(CRASHES.glob(f"{target}-*.bin")) if CRASHES.is_dir() else []:
        if path.stat().st_mtime >= started:
            crashes[path.with_suffix(".txt").read_text().split("\n", 1)[0]] = str(path)
    return int(executed[-1]), crashes


def _have_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def run(targets: list[str], seconds: float, pure: bool) -> int:
    use_atheris = not pure and _have_atheris()
    engine = "atheris (coverage-guided)" if use_atheris else "pure-Python mutation"
    each = seconds / len(targets)
    print(f"fuzz: {engine}, {seconds:.0f} s over {len(targets)} targets ({each:.0f} s each)",
          flush=True)
    total_execs = 0
    total_crashes = 0
    for target in targets:
        start = time.monotonic()
        if use_atheris:
            execs, crashes = run_atheris(target, each)
            found = list(crashes.items())
        else:
            execs, paths = pure_loop(target, each)
            found = [(k, str(v)) for k, v in paths.items()]
        took = time.monotonic() - start
        total_execs += execs
        total_crashes += len(found)
        print(f"fuzz: {target:12s} {execs:9d} execs in {took:5.0f} s ({execs / took:7.0f}/s), "
              f"{len(found)} crashes", flush=True)
        for signature, path in found:
            print(f"        {signature}: {Path(path).name}")
    print(f"fuzz: total {total_execs} execs, {total_crashes} distinct crashes")
    return 1 if total_crashes else 0


def replay(paths: list[str]) -> int:
    """Re-run saved inputs on the target their name starts with; 1 if any still crashes."""
    bad = 0
    for name in paths:
        path = Path(name)
        target = next((t for t in sorted(TARGETS, key=len, reverse=True)
                       if path.name.startswith(t + "-")), "load")
        recorder = Recorder(target)
        recorder.crashes = {}
        try:
            recorder.fn(path.read_bytes())
            print(f"{path.name}: {target}: ok")
        except recorder.expected as exc:
            print(f"{path.name}: {target}: ok ({type(exc).__name__}: {exc})")
        except Exception as exc:
            bad += 1
            print(f"{path.name}: {target}: CRASH {type(exc).__name__}: {exc}")
    return 1 if bad else 0


def _iter_targets(text: str) -> Iterator[str]:
    for t in text.split(","):
        if t.strip() not in TARGETS:
            raise SystemExit(f"unknown target {t!r}; targets: {', '.join(TARGETS)}")
        yield t.strip()


def main(argv: list[str]) -> int:
    if argv[:1] == ["_atheris"]:
        atheris_main(argv[1], argv[2:])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="fuzz several targets, time split evenly")
    r.add_argument("--seconds", type=float, default=600)
    r.add_argument("--targets", default=",".join(TARGETS))
    r.add_argument("--pure", action="store_true", help="pure-Python mutation, even with atheris")
    o = sub.add_parser("one", help="fuzz one target")
    o.add_argument("target", choices=TARGETS)
    o.add_argument("--seconds", type=float, default=60)
    o.add_argument("--pure", action="store_true")
    rp = sub.add_parser("replay", help="re-run saved inputs")
    rp.add_argument("files", nargs="+")
    args = p.parse_args(argv)
    if args.cmd == "run":
        return run(list(_iter_targets(args.targets)), args.seconds, args.pure)
    if args.cmd == "one":
        return run([args.target], args.seconds, args.pure)
    return replay(args.files)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
