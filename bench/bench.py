"""Benchmark: damon2speedscope against speedscope's own importer and damo, at scale.

    /work/venv/bin/python bench/bench.py --sizes 15,150,1000

For each size (MB of ``perf script`` text) it writes, into a temporary folder, the bundled
real recording (``golden/<recording>/``) repeated with shifted times (see bench/gen.py): the
perf text, the DAMON record as ``perf script`` text, and the DAMON record as a perf.data.
Then, each in its own process (wall time and peak RSS of that process, ``wait4``):

* ``ours``: the conversion of DAMON text + perf text as the command line does it (inputs
  mapped, the file streamed to disk), with its per-stage times (read, align, analyse,
  write) reported by the conversion itself;
* ``cli``: the same through ``python -m damon2speedscope`` as it is installed;
* ``speedscope``: speedscope 1.25.0's importer (tests/speedscope_node/import_check.js, the
  real importer running in Node) on the same perf text, and on our output file;
* ``wss``: the working-set size of every DAMON snapshot from the DAMON perf.data and text,
  by us (DAMON input only, ``--summary``) and by ``damo report wss`` (checked equal).

Ratios are computed inside one run only (the machine is noisy; never compare runs).
This is a benchmark, not a test: it takes minutes for the 1 GB size.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen

REPO = Path(__file__).resolve().parent.parent
NODE_SCRIPT = REPO / "tests" / "speedscope_node" / "import_check.js"
MB = 1 << 20


@dataclass
class Run:
    """One measured process."""

    wall_s: float
    max_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    info: dict[str, Any] = field(default_factory=dict)


def median(runs: list[Run], key: Callable[[Run], float] = lambda r: r.wall_s) -> Run:
    """The run of median ``key`` (the lower middle one of an even count), with the largest
    peak RSS of all and ``info["spread"]`` = (min, max) of ``key``."""
    ordered = sorted(runs, key=key)
    mid = ordered[(len(ordered) - 1) // 2]
    out = Run(mid.wall_s, max(r.max_rss_mb for r in runs), mid.returncode, mid.stdout,
              mid.stderr, dict(mid.info))
    out.info["spread"] = (key(ordered[0]), key(ordered[-1]))
    return out


def spread(run: Run, n: int) -> str:
    lo, hi = run.info["spread"]
    return f"median of {n}: {lo:.2f}–{hi:.2f} s" if n > 1 else "1 run"


def measure(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``cmd``; wall time and peak RSS (ru_maxrss from wait4) of exactly this child."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(wall, usage.ru_maxrss / 1024, proc.returncode,
                   out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


# -- the conversion as the CLI would run it, in a child process ------------------------------

def child_convert(output: str, paths: list[str], summary: str | None) -> None:
    """Convert ``paths`` like the CLI: inputs mapped (not copied), the file streamed."""
    t0 = time.perf_counter()
    from damon2speedscope import ConvertOptions, InputBytes, convert
    t_import = time.perf_counter() - t0
    inputs = []
    for p in paths:
        with open(p, "rb") as fh:
            data: Any = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        inputs.append(InputBytes(p, data, p))
    timings: dict[str, float] = {}
    conv = convert(inputs, ConvertOptions(), timings=timings)
    with open(output, "wb") as out:
        size = conv.write_document(out)
    if summary:
        import orjson
        Path(summary).write_bytes(orjson.dumps(conv.summary))
    import resource
    info = {
        "rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_reader_child_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "import_s": t_import,
        "timings": timings,
        "output_bytes": size,
        "samples": len(conv.samples) if conv.samples is not None else 0,
        "snapshots": len(conv.damon) if conv.damon is not None else 0,
        "regions": int(conv.damon.region_offset[-1]) if conv.damon is not None else 0,
        "total_s": time.perf_counter() - t0,
    }
    print(json.dumps(info), flush=True)
    os._exit(0)  # as the CLI ends (cli.entry): no interpreter tear-down of the model


def ours(output: Path, paths: list[Path], summary: Path | None = None) -> Run:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-convert", str(output),
           *map(str, paths)]
    if summary is not None:
        cmd[2:2] = ["--child-summary", str(summary)]
    run = measure(cmd)
    if run.returncode != 0:
        raise RuntimeError(f"conversion failed: {run.stderr}")
    run.info = json.loads(run.stdout.strip().splitlines()[-1])
    return run


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc/PID/task/*/children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            pass
    return out


def tree_pss_peak(cmd: list[str]) -> float:
    """Peak of the process tree's summed PSS (MB), sampled every 10 ms: what the conversion
    and its forked reader hold together, each shared page counted once (RSS summed counts
    the pages they share twice). An extra, untimed run: sampling costs CPU."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_pss_kb(p) for p in _tree(proc.pid)))
        time.sleep(0.01)
    if proc.returncode != 0:
        raise RuntimeError(f"conversion failed under PSS sampling: {cmd}")
    return peak / 1024


def cli(output: Path, paths: list[Path], extra: list[str] | None = None) -> Run:
    run = measure([sys.executable, "-m", "damon2speedscope", *map(str, paths), "-o",
                   str(output), *(extra or [])])
    if run.returncode != 0:
        raise RuntimeError(f"damon2speedscope failed: {run.stderr}")
    return run


_IMPORT_MS = re.compile(r"import\+demangle (\d+) ms")


def speedscope(path: Path) -> Run:
    run = measure(["node", str(NODE_SCRIPT), str(path)], env={"SPEEDSCOPE_VERBOSE": "1"})
    line = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "{}"
    result = json.loads(line)
    if not result.get("ok"):
        detail = result.get("error") or run.stderr.strip().splitlines()[-1:] or run.returncode
        raise RuntimeError(f"speedscope could not import {path.name}: {detail}")
    m = _IMPORT_MS.search(run.stderr)
    run.info = {"import_s": int(m[1]) / 1000 if m else float("nan"),
                "profiles": len(result.get("profiles", []))}
    return run


def damo_wss(path: Path, damo: str) -> Run:
    run = measure([damo, "report", "wss", "--input", str(path), "--raw_number", "--all_wss",
                   "--sortby", "time", "--exclude_samples", "0"])
    if run.returncode != 0:
        raise RuntimeError(f"damo failed: {run.stderr}")
    run.info = {"wss": [int(line.split()[1]) for line in run.stdout.splitlines()
                        if line and not line.startswith("#")]}
    return run


def our_wss(path: Path, work: Path) -> Run:
    summary = work / "wss.summary.json"
    run = ours(work / "wss.speedscope.json", [path], summary)
    run.info["wss"] = [s["wss_bytes"] for s in json.loads(summary.read_bytes())["snapshots"]]
    return run


# -- inputs ---------------------------------------------------------------------------------

@dataclass
class Inputs:
    perf_text: Path
    damon_text: Path
    damon_data: Path
    repetitions: int


def make_inputs(work: Path, recording: str, megabytes: float) -> Inputs:
    folder = REPO / "golden" / recording
    perf = gen.TextTemplate.load(folder / "perf.script.txt")
    damon = gen.TextTemplate.load(folder / "damon.perf_script.txt")
    period = gen.repeat_period_ns(perf, damon)
    one = len(perf.repetition(0))
    reps = max(1, round(megabytes * MB / one))
    tag = f"{recording}-{reps}x"
    paths = Inputs(work / f"perf.{tag}.txt", work / f"damon.{tag}.txt",
                   work / f"damon.{tag}.perf.data", reps)
    gen.write_repeated(perf, paths.perf_text, reps, period)
    gen.write_repeated(damon, paths.damon_text, reps, period)
    gen.write_repeated_perf_data(folder / "damon.perf.data", paths.damon_data, reps, period)
    return paths


# -- report ---------------------------------------------------------------------------------

def mb(path: Path) -> float:
    return path.stat().st_size / MB


def bench_size(work: Path, recording: str, megabytes: float, args: argparse.Namespace,
               rows: list[dict[str, Any]]) -> None:
    t0 = time.perf_counter()
    inp = make_inputs(work, recording, megabytes)
    perf_mb, damon_mb, data_mb = mb(inp.perf_text), mb(inp.damon_text), mb(inp.damon_data)
    print(f"\n== {recording} × {inp.repetitions}: perf text {perf_mb:.1f} MB, DAMON text "
          f"{damon_mb:.1f} MB, DAMON perf.data {data_mb:.1f} MB (made in "
          f"{time.perf_counter() - t0:.1f} s)", flush=True)
    out = work / "out.speedscope.json"
    row: dict[str, Any] = {"size": f"{perf_mb:.0f} MB", "perf_mb": perf_mb,
                           "damon_mb": damon_mb}
    # ours and speedscope's importer alternate, ``--repeat`` times: the medians are compared,
    # so a noisy moment of the machine does not decide a ratio
    n = args.repeat
    run_ss = not args.skip_speedscope and perf_mb <= args.speedscope_max_mb
    conv_runs: list[Run] = []
    txt_runs: list[Run] = []
    out_runs: list[Run] = []
    ss_error = None
    for _ in range(n):
        conv_runs.append(ours(out, [inp.damon_text, inp.perf_text]))
        if run_ss and ss_error is None:
            try:
                txt_runs.append(speedscope(inp.perf_text))
            except RuntimeError as exc:
                ss_error = exc
        if run_ss:
            out_runs.append(speedscope(out))
    conv = median(conv_runs)
    info = conv.info
    in_mb = perf_mb + damon_mb
    t = info["timings"]
    print(f"ours        {conv.wall_s:7.2f} s  peak RSS {conv.max_rss_mb:7.0f} MB  "
          f"({spread(conv, n)}; {conv.max_rss_mb / in_mb:.2f}× the {in_mb:.0f} MB input, "
          f"{conv.max_rss_mb / perf_mb:.2f}× the perf text)  "
          f"{in_mb / conv.wall_s:6.1f} MB/s  {info['samples'] / conv.wall_s:9.0f} samples/s",
          flush=True)
    both = info["rss_self_mb"] + info["rss_reader_child_mb"]
    pss = tree_pss_peak([sys.executable, str(Path(__file__).resolve()), "--child-convert",
                         str(work / "pss.speedscope.json"), str(inp.damon_text),
                         str(inp.perf_text)])
    print(f"            peak RSS of the process {info['rss_self_mb']:.0f} MB, of the forked "
          f"reader {info['rss_reader_child_mb']:.0f} MB (summed {both:.0f} MB, "
          f"{both / in_mb:.2f}× the input); peak PSS of both together {pss:.0f} MB "
          f"({pss / in_mb:.2f}× the input, sampled every 10 ms in an extra run)", flush=True)
    print(f"            stages: start-up {info['import_s']:.2f} s, " + ", ".join(
        f"{k} {t.get(k, 0.0):.2f} s" for k in ("read", "align", "analyse", "write"))
        + f"; {info['samples']} samples, {info['snapshots']} snapshots, "
        f"{info['regions']} regions; output {info['output_bytes'] / MB:.1f} MB", flush=True)
    row.update(ours_s=conv.wall_s, ours_rss=conv.max_rss_mb, out_mb=info["output_bytes"] / MB,
               rss_both=both, pss_tree=pss, in_mb=in_mb,
               samples=info["samples"], stages=t, startup=info["import_s"])
    if args.cli:
        c = cli(work / "cli.speedscope.json", [inp.damon_text, inp.perf_text])
        same = (work / "cli.speedscope.json").read_bytes() == out.read_bytes()
        print(f"cli         {c.wall_s:7.2f} s  peak RSS {c.max_rss_mb:7.0f} MB  "
              f"(python -m damon2speedscope as installed; same bytes: {same})", flush=True)
        row.update(cli_s=c.wall_s, cli_rss=c.max_rss_mb)
    if not args.skip_speedscope and not run_ss:
        print(f"speedscope  skipped (perf text over --speedscope-max-mb {args.speedscope_max_mb})")
    elif run_ss:
        s_out = median(out_runs, lambda r: float(r.info["import_s"]))
        if ss_error is not None or not txt_runs:
            print(f"speedscope  failed on the perf text: {str(ss_error)[:300]}", flush=True)
            print(f"speedscope  {s_out.wall_s:7.2f} s  peak RSS {s_out.max_rss_mb:7.0f} MB  "
                  f"(importer alone {s_out.info['import_s']:.2f} s) on our output", flush=True)
            rows.append(row)
            return
        s_txt = median(txt_runs, lambda r: float(r.info["import_s"]))
        print(f"speedscope  {s_txt.wall_s:7.2f} s  peak RSS {s_txt.max_rss_mb:7.0f} MB  "
              f"(node process; importer alone {s_txt.info['import_s']:.2f} s, "
              f"{spread(s_txt, n)}) on the perf text", flush=True)
        print(f"speedscope  {s_out.wall_s:7.2f} s  peak RSS {s_out.max_rss_mb:7.0f} MB  "
              f"(importer alone {s_out.info['import_s']:.2f} s, {spread(s_out, n)}) on our "
              f"output ({s_out.info['profiles']} profiles)", flush=True)
        best = min(float(r.info["import_s"]) for r in txt_runs) / min(
            r.wall_s for r in conv_runs)
        print(f"  → end to end {s_txt.info['import_s'] / conv.wall_s:.2f}× faster than "
              f"speedscope's importer alone (medians; bests of {n}: {best:.2f}×; "
              f"{s_txt.wall_s / conv.wall_s:.2f}× its process); our file imports "
              f"{s_txt.info['import_s'] / s_out.info['import_s']:.2f}× faster than the perf "
              "text", flush=True)
        row.update(ss_s=s_txt.wall_s, ss_import=s_txt.info["import_s"], ss_best=best,
                   ss_rss=s_txt.max_rss_mb, ss_out_import=s_out.info["import_s"])
    if not args.skip_damo:
        damo = shutil.which("damo") or str(Path(sys.executable).parent / "damo")
        for label, path in (("perf.data", inp.damon_data), ("text", inp.damon_text)):
            w = our_wss(path, work)
            if mb(path) > args.damo_max_mb:
                print(f"WSS {label:9s} ours {w.wall_s:6.2f} s ({w.max_rss_mb:5.0f} MB); damo "
                      f"skipped (over --damo-max-mb {args.damo_max_mb})", flush=True)
                continue
            d = damo_wss(path, damo)
            equal = w.info["wss"] == d.info["wss"]
            print(f"WSS {label:9s} ours {w.wall_s:6.2f} s ({w.max_rss_mb:5.0f} MB)  damo "
                  f"{d.wall_s:7.2f} s ({d.max_rss_mb:5.0f} MB)  → {d.wall_s / w.wall_s:5.1f}× "
                  f"faster; {len(w.info['wss'])} snapshots, WSS equal to damo's: {equal}",
                  flush=True)
            row[f"wss_{label}"] = (w.wall_s, d.wall_s, equal)
    rows.append(row)
    if not args.keep:
        for p in (inp.perf_text, inp.damon_text, inp.damon_data):
            p.unlink()


def compile_package() -> None:
    """Compile the package's bytecode once, as pip does when it installs a wheel: with an
    editable install and PYTHONDONTWRITEBYTECODE set (as on this machine), every timed run
    would otherwise compile the package from source (~0.1 s of start-up)."""
    import compileall

    import damon2speedscope

    compileall.compile_dir(str(Path(damon2speedscope.__file__).parent), quiet=1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="15,150",
                   help="comma-separated sizes of the perf text in MB (default 15,150)")
    p.add_argument("--recording", default="fftlike", choices=["fftlike", "mtphases"])
    p.add_argument("--workdir", help="where to write the inputs (default: a temporary dir)")
    p.add_argument("--keep", action="store_true", help="keep the generated inputs")
    p.add_argument("--cli", action="store_true",
                   help="also time `python -m damon2speedscope` as installed")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of ours and of speedscope's importer per size, alternating; "
                   "medians are compared (default 3)")
    p.add_argument("--skip-speedscope", action="store_true")
    p.add_argument("--skip-damo", action="store_true")
    p.add_argument("--damo-max-mb", type=float, default=200,
                   help="run damo only on DAMON inputs up to this size (it takes minutes per "
                   "100 MB; default 200)")
    p.add_argument("--speedscope-max-mb", type=float, default=float("inf"),
                   help="run speedscope's importer only on perf texts up to this size")
    p.add_argument("--child-convert", nargs="+", metavar=("OUTPUT", "INPUT"),
                   help=argparse.SUPPRESS)
    p.add_argument("--child-summary", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_convert:
        child_convert(args.child_convert[0], args.child_convert[1:], args.child_summary)
        return 0
    compile_package()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="d2s-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"damon2speedscope benchmark: {args.recording}, sizes {args.sizes} MB, in {work}; "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
    rows: list[dict[str, Any]] = []
    try:
        for size in args.sizes.split(","):
            bench_size(work, args.recording, float(size), args, rows)
    finally:
        if not args.workdir and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\ntargets (each within its own run above):")
    for r in rows:
        parts = [f"{r['size']}:"]
        if "ss_import" in r:
            parts.append(f"end to end {r['ss_import'] / r['ours_s']:.2f}× faster than "
                         f"speedscope's importer (medians; bests {r['ss_best']:.2f}×; "
                         "target ≥ 4)")
            parts.append(f"our file imports {r['ss_import'] / r['ss_out_import']:.1f}× faster "
                         "than the perf text (target > 1)")
        parts.append(f"peak RSS {r['ours_rss'] / r['in_mb']:.2f}× the input (target ≤ 1; the "
                     f"two processes' PSS together {r['pss_tree'] / r['in_mb']:.2f}×, their RSS "
                     f"summed {r['rss_both'] / r['in_mb']:.2f}×)")
        for label in ("perf.data", "text"):
            if f"wss_{label}" in r:
                ours_s, damo_s, equal = r[f"wss_{label}"]
                parts.append(f"WSS from DAMON {label} {damo_s / ours_s:.1f}× faster than damo "
                             f"(target ≥ 10; equal {equal})")
        print("  " + "\n    ".join(parts))
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        scale = last["perf_mb"] / first["perf_mb"]
        print(f"\nscaling {first['size']} → {last['size']} ({scale:.1f}× the input): time "
              f"{last['ours_s'] / first['ours_s']:.1f}×, per sample "
              f"{(last['ours_s'] / last['samples']) / (first['ours_s'] / first['samples']):.2f}×"
              f" the small run's cost; peak RSS {last['ours_rss'] / first['ours_rss']:.1f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
