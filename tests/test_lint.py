"""The code stays `mypy --strict` and `ruff` clean: checked by the test suite, so CI enforces it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                          text=True, check=False, timeout=600)


def test_mypy_strict() -> None:
    proc = _run("mypy", "--strict", "damon2speedscope")
    assert proc.returncode == 0, proc.stdout + proc.stderr


TOOL_PATHS = ("tests", "tests/data/bad", "tests/data/damon", "fuzz", "bench")
"""Where the tests and tools import their helpers from (as pytest and the scripts set up)."""


def test_mypy_strict_tests_and_tools() -> None:
    """The tests, the benchmark and the fuzzing harness are held to the same standard."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--explicit-package-bases",
                           "tests", "bench", "fuzz"], cwd=REPO, capture_output=True, text=True,
                          check=False, timeout=900,
                          env={**os.environ, "MYPYPATH": os.pathsep.join(TOOL_PATHS)})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff() -> None:
    proc = _run("ruff", "check", "damon2speedscope", "tests", "bench", "fuzz")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_py_typed_and_schema_ship_in_the_wheel(tmp_path: Path) -> None:
    """The wheel carries py.typed and speedscope's schema (read at run time by --validate)."""
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(tmp_path), str(REPO)], capture_output=True, text=True,
                          check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = list(tmp_path.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "damon2speedscope/py.typed" in names
    assert "damon2speedscope/schemas/speedscope-file-format-schema-1.25.0.json" in names
    assert not any(n.startswith(("tests/", "golden/")) for n in names)
