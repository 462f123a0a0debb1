"""Hostile and broken input: a clear error, nothing lost, never a traceback (issue 7).

The corpus (``tests/data/bad/``: made by ``make_bad_inputs.py``, plus the inputs the fuzzer
found in ``fuzz/``) runs through the real command line, ``python -m damon2speedscope``. Then:
``-o`` under SIGINT/SIGTERM, inputs never overwritten, and the error discipline of the package
(only ``cli`` prints or exits; the library raises the hierarchy of ``errors.py``).
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from conftest import DATA, REPO

sys.path.insert(0, str(DATA / "bad"))
import make_bad_inputs as corpus

BAD = DATA / "bad"
PROG = "damon2speedscope"


@dataclass(frozen=True)
class Run:
    returncode: int
    stderr: str
    files: frozenset[str]
    """Files in the case's directory after the run."""
    summary: dict[str, object] | None


def _run(case: corpus.Case, root: Path) -> Run:
    where = root / case.name
    where.mkdir()
    for name in [*corpus.COMMON, *case.files, *case.links, "a-directory"]:
        os.symlink(root / "files" / name, where / name)
    args = [a.replace("{repo}", str(REPO)) for a in case.args]
    if "-o" not in args:
        args += ["-o", "out.json"]
    args += ["--summary", "summary.json"]
    proc = subprocess.run([sys.executable, "-m", PROG, *args], cwd=where, capture_output=True,
                          check=False, timeout=300, stdin=subprocess.DEVNULL)
    summary = where / "summary.json"
    return Run(proc.returncode, proc.stderr.decode("utf-8", "replace"),
               frozenset(p.name for p in where.iterdir()),
               orjson.loads(summary.read_bytes()) if summary.exists() else None)


@pytest.fixture(scope="session")
def corpus_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every case, run concurrently once per session (each run is a fresh interpreter)."""
    root = tmp_path_factory.mktemp("bad")
    corpus.generate(root / "files")  # each case's directory links to these
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        runs = dict(zip([c.name for c in corpus.CASES],
                        pool.map(lambda c: _run(c, root), corpus.CASES), strict=True))
    return runs


def matches(expected: str, line: str) -> bool:
    """``expected`` with ``…`` standing for any text, against the whole ``line``."""
    parts = expected.split("…")
    if not line.startswith(parts[0]):
        return False
    pos = len(parts[0])
    for part in parts[1:-1]:
        found = line.find(part, pos)
        if found < 0:
            return False
        pos = found + len(part)
    return (len(parts) == 1 and pos == len(line)) or (
        len(parts) > 1 and line.endswith(parts[-1]) and len(line) - len(parts[-1]) >= pos)


def test_matches() -> None:
    assert matches("a…c", "abbbc") and matches("abc", "abc") and matches("a…", "a")
    assert not matches("abc", "abcd") and not matches("a…c", "ab") and not matches("a…b…b", "ab")


@pytest.mark.parametrize("case", corpus.CASES, ids=[c.name for c in corpus.CASES])
def test_bad_input(case: corpus.Case, corpus_runs: dict[str, Run]) -> None:
    run = corpus_runs[case.name]
    message = case.message.replace("{repo}", str(REPO))
    assert "Traceback" not in run.stderr
    assert run.returncode == case.exit_code, run.stderr
    if case.kind == "warning":
        lines = run.stderr.splitlines()
        assert any(matches(f"{PROG}: warning: {message}", line) for line in lines), run.stderr
        assert all(line.startswith(f"{PROG}: warning: ") for line in lines), run.stderr
        assert run.summary is not None
        assert run.summary["skipped"] == case.skipped
        assert "out.json" in run.files
    else:
        assert run.stderr.endswith("\n") and run.stderr.count("\n") == 1, run.stderr
        assert matches(f"{PROG}: error: {message}", run.stderr[:-1]), run.stderr
        # nothing written, not even a temp file
        assert not {"out.json", "summary.json"} & run.files
        assert not [name for name in run.files if name.endswith(".tmp")]


FUZZ_FINDS = sorted((BAD / "fuzz").glob("*.bin"))


def test_every_fuzzer_find_is_a_corpus_case() -> None:
    cases = {f"fuzz-{p.stem}" for p in FUZZ_FINDS}
    assert cases <= {c.name for c in corpus.CASES}
    assert all(p.with_suffix(".txt").exists() for p in FUZZ_FINDS)


@pytest.mark.parametrize("path", FUZZ_FINDS, ids=[p.stem for p in FUZZ_FINDS])
def test_fuzzer_finds_replay_on_their_target(path: Path) -> None:
    """Each input, on the harness target that crashed on it: only our errors now."""
    sys.path.insert(0, str(REPO / "fuzz"))
    import fuzz_readers

    target = path.name.split("-", 1)[0]
    recorder = fuzz_readers.Recorder(target)
    recorder(path.read_bytes())
    assert recorder.crashes == {}


def test_readme_lists_every_case() -> None:
    assert (BAD / "README.md").read_text() == corpus.readme(), \
        "regenerate: python tests/data/bad/make_bad_inputs.py --readme > tests/data/bad/README.md"


def test_every_case_is_unique_and_documented() -> None:
    names = [c.name for c in corpus.CASES]
    assert len(names) == len(set(names))
    for case in corpus.CASES:
        assert case.what and case.message and (case.kind != "warning" or case.skipped
                                               or "time goes backwards" in case.message)


# -- -o under signals, and inputs never overwritten -------------------------------------------

_SLOW_WRITER = textwrap.dedent("""
    import sys, time
    from damon2speedscope import cli, pipeline

    original = pipeline.Conversion.document_json

    def slow(self):  # the real document, then more bytes forever, slowly
        for part in original(self):
            yield part
            time.sleep(0.001)
        while True:
            yield b" "
            time.sleep(0.01)

    pipeline.Conversion.document_json = slow
    sys.exit(cli.main(sys.argv[1:]))
""")


def _wait_for(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.mark.parametrize("signum, code, said", [
    (signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_signal_while_writing_leaves_no_file(tmp_path: Path, signum: int, code: int,
                                             said: str) -> None:
    corpus.generate(tmp_path, set())
    out = tmp_path / "out.json"
    out.write_bytes(b"previous")
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, "damon.txt", "perf.txt", "-o",
                             "out.json"], cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: any(p.name.startswith(".out.json.") and p.stat().st_size > 0
                              for p in tmp_path.iterdir()))
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code
    assert stderr.decode() == f"{PROG}: {said}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no temp file left
    assert out.read_bytes() == b"previous"


def test_sigint_on_a_large_conversion(tmp_path: Path) -> None:
    """A real large input (fftlike's samples 24 times over, as 24 threads at shifted times):
    Ctrl-C at whatever moment (starting, reading, writing) leaves the complete output or
    nothing, never a temp file, never a traceback. (A signal after the output was renamed into
    place may still report "interrupted"; one during Python's own exit kills it with SIGINT.)"""
    text = (REPO / "golden" / "fftlike" / "perf.script.txt").read_bytes()
    big = tmp_path / "big.perf.txt"
    with big.open("wb") as fh:
        for k in range(24):
            copy = text.replace(b" 19", f" {19 + k * 10}".encode()) if k else text
            fh.write(copy.replace(b"fftlike 11464 ", f"fftlike {11464 + k} ".encode()))
    interrupted = 0
    for delay in (0.2, 0.4, 0.6, 0.8, 1.0):
        proc = subprocess.Popen([sys.executable, "-m", PROG, str(big), "-o", "out.json"],
                                cwd=tmp_path, stderr=subprocess.PIPE)
        try:
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proc.returncode in (0, 130, -signal.SIGINT), stderr
        assert stderr in (b"", f"{PROG}: interrupted\n".encode())
        left = sorted(p.name for p in tmp_path.iterdir())
        if left == ["big.perf.txt", "out.json"]:
            assert orjson.loads((tmp_path / "out.json").read_bytes())["profiles"]
            (tmp_path / "out.json").unlink()
        else:
            assert left == ["big.perf.txt"] and proc.returncode == 130
            interrupted += 1
    assert interrupted


@pytest.mark.parametrize("target", ["perf.txt", "./perf.txt", "link.txt", "hard.txt"])
@pytest.mark.parametrize("option", ["-o", "--summary"])
def test_never_overwrites_an_input(tmp_path: Path, target: str, option: str) -> None:
    corpus.generate(tmp_path, set())
    os.symlink("perf.txt", tmp_path / "link.txt")
    os.link(tmp_path / "perf.txt", tmp_path / "hard.txt")
    original = (tmp_path / "perf.txt").read_bytes()
    args = ["damon.txt", "perf.txt", option, target]
    if option == "--summary":
        args += ["-o", "out.json"]
    proc = subprocess.run([sys.executable, "-m", PROG, *args], cwd=tmp_path,
                          capture_output=True, check=False, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == f"{PROG}: error: refusing to overwrite input perf.txt with the " \
        "output\n".encode()
    assert (tmp_path / "perf.txt").read_bytes() == original
    assert not (tmp_path / "out.json").exists()


def test_output_to_a_full_device_is_one_line() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    damon = REPO / "golden" / "fftlike" / "damon.json_compressed"
    perf = REPO / "golden" / "fftlike" / "perf.script.txt"
    for args in (["-o", "/dev/full"], []):
        with open("/dev/full", "wb") as full:
            proc = subprocess.run([sys.executable, "-m", PROG, str(damon), str(perf), *args],
                                  stdout=full, stderr=subprocess.PIPE, check=False, timeout=120)
        where = "/dev/full" if args else "<stdout>"
        assert proc.returncode == 1
        assert proc.stderr.decode() == f"{PROG}: error: {where}: cannot write: No space left " \
            "on device\n"


def test_broken_pipe_is_quiet() -> None:
    damon = REPO / "golden" / "fftlike" / "damon.json_compressed"
    perf = REPO / "golden" / "fftlike" / "perf.script.txt"
    proc = subprocess.Popen([sys.executable, "-m", PROG, str(damon), str(perf)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(100)
    proc.stdout.close()
    stderr = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 1 and stderr == b""


def test_internal_errors_are_one_line_exit_70(tmp_path: Path) -> None:
    corpus.generate(tmp_path, set())
    script = textwrap.dedent("""
        import sys
        from damon2speedscope import cli, pipeline
        def boom(*args, **kwargs):
            raise KeyError("a bug")
        pipeline.find_bursts = boom
        sys.exit(cli.main(sys.argv[1:]))
    """)
    proc = subprocess.run([sys.executable, "-c", script, "damon.txt", "perf.txt"], cwd=tmp_path,
                          capture_output=True, check=False, timeout=120)
    assert proc.returncode == 70
    assert proc.stderr.decode() == (
        f"{PROG}: error: internal error (a bug; please report it with the input; "
        "DAMON2SPEEDSCOPE_DEBUG=1 shows the traceback): KeyError: 'a bug'\n")
    env = {**os.environ, "DAMON2SPEEDSCOPE_DEBUG": "1"}
    proc = subprocess.run([sys.executable, "-c", script, "damon.txt", "perf.txt"], cwd=tmp_path,
                          capture_output=True, check=False, timeout=120, env=env)
    assert proc.returncode == 70 and b"Traceback" in proc.stderr


# -- the error discipline of the package -------------------------------------------------------

PACKAGE = REPO / "damon2speedscope"
ENTRY_POINTS = {"cli.py", "__main__.py"}
# Invalid arguments to library functions are programming errors and raise ValueError, as
# Python functions do (errors.py says so); a module __getattr__ raises AttributeError by
# protocol. Everything about inputs raises the hierarchy.
BUILTIN_RAISES = {
    ("writers/folded.py", "_thread_frame", "ValueError"),
    ("writers/folded.py", "render_collapsed", "ValueError"),
    ("writers/folded.py", "render_folded", "ValueError"),
    ("readers/compression.py", "_new", "ValueError"),
    ("__init__.py", "__getattr__", "AttributeError"),
}


def _error_classes() -> set[str]:
    """The hierarchy of errors.py and every subclass of it defined in the package."""
    names = {"Damon2SpeedscopeError"}
    grew = True
    trees = [ast.parse(p.read_text()) for p in PACKAGE.rglob("*.py")]
    while grew:
        grew = False
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names and any(
                        isinstance(b, ast.Name) and b.id in names for b in node.bases):
                    names.add(node.name)
                    grew = True
    return names


def test_only_the_cli_prints_and_exits() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in ENTRY_POINTS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else (
                    f"{f.value.id}.{f.attr}" if isinstance(f, ast.Attribute)
                    and isinstance(f.value, ast.Name) else "")
                if name in {"print", "exit", "quit", "sys.exit", "os._exit", "os.abort"}:
                    offenders.append(f"{rel}:{node.lineno}: {name}()")
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id == "sys" and node.attr in {"stderr", "stdout", "exit"}:
                offenders.append(f"{rel}:{node.lineno}: sys.{node.attr}")
    assert offenders == []


def _caught_package_classes() -> set[str]:
    """Exception classes defined in the package AND caught in it: internal control flow (a
    fast path declining, recfmt's _Invalid), never escaping to callers."""
    defined: set[str] = set()
    caught: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                defined.add(node.name)
            elif isinstance(node, ast.ExceptHandler) and node.type is not None:
                types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
                caught |= {t.id if isinstance(t, ast.Name) else getattr(t, "attr", "")
                           for t in types}
    return defined & caught


def _raised_name(exc: ast.expr) -> str:
    """``raise X(...)`` / ``raise X`` / ``raise mod.X(...)`` / ``raise type(e)(...)`` → name."""
    target = exc.func if isinstance(exc, ast.Call) else exc
    if isinstance(target, ast.Call) and isinstance(target.func, ast.Name):
        return f"{target.func.id}()"  # type(exc)(...): the caught error's own class
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ast.dump(target)


def test_the_library_raises_only_its_hierarchy() -> None:
    allowed = _error_classes() | _caught_package_classes() | {
        "exc", "type()",  # re-raised with more context, same class
        "_Terminated",  # cli: SIGTERM as KeyboardInterrupt
        "error", "_bad", "at",  # helpers that build InputErrors
    }
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for func in ast.walk(ast.parse(path.read_text())):
            if not isinstance(func, ast.FunctionDef):
                continue
            for node in ast.walk(func):
                if not isinstance(node, ast.Raise) or node.exc is None:
                    continue
                name = _raised_name(node.exc)
                if name in allowed or (rel, func.name, name) in BUILTIN_RAISES:
                    continue
                offenders.append(f"{rel}:{node.lineno}: raise {name} in {func.name}")
    assert sorted(set(offenders)) == []


def test_errors_docstring_documents_every_class() -> None:
    import damon2speedscope.errors as errors

    doc = errors.__doc__ or ""
    for name in ("Damon2SpeedscopeError", "InputError", "FormatError", "SkipLimitError",
                 "ClockError", "ToolError", "OutputError", "UsageError", "ValidationError"):
        assert name in doc, name


def test_fuzz_harness_is_there() -> None:
    """fuzz/ is a development tool (not run here); tests/test_lint.py keeps it ruff-clean."""
    assert (REPO / "fuzz" / "README.md").exists() and (REPO / "fuzz" / "fuzz_readers.py").exists()
