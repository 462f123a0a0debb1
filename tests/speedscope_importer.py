"""Run speedscope 1.25.0's own importer on profile files, from pytest.

speedscope (npm package ``speedscope@1.25.0``) ships only a browser bundle.
``tests/speedscope_node/import_check.js`` evaluates that bundle in a ``node:vm``
context, captures its lazily-loaded importer module and runs
``importProfilesFromArrayBuffer`` on each file; this module installs the npm
package when needed and runs that script.

Node.js and npm are REQUIRED: when either is missing the helpers raise
``RuntimeError`` so that the tests fail instead of being skipped.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TypedDict, cast

SPEEDSCOPE_VERSION = "1.25.0"
NODE_DIR = Path(__file__).resolve().parent / "speedscope_node"
SCRIPT_NAME = "import_check.js"

_INSTALL_TIMEOUT_S = 600.0
_IMPORT_TIMEOUT_S = 600.0


class _ProfileSummaryRequired(TypedDict):
    name: str
    unit: str
    totalWeight: float
    totalNonIdleWeight: float
    samples: int | None
    calls: int
    frames: int
    profileFrames: int
    maxDepth: int


class ProfileSummary(_ProfileSummaryRequired, total=False):
    """What ``import_check.js`` reports for one speedscope ``Profile``.

    ``frameNames`` is present only when asked for (``frame_names=True``).
    """

    frameNames: list[str]


class _ImportResultRequired(TypedDict):
    file: str
    ok: bool
    importedAs: str | None


class ImportResult(_ImportResultRequired, total=False):
    """One output line of ``import_check.js`` (one input file).

    ``error`` is set when ``ok`` is false; the other keys when it is true.
    """

    error: str
    speedscope: str
    name: str
    indexToView: int
    profiles: list[ProfileSummary]


def _require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"`{name}` was not found on PATH: Node.js and npm are required to run "
            f"speedscope {SPEEDSCOPE_VERSION}'s importer in the tests "
            "(install them, e.g. `apt-get install nodejs npm`)"
        )
    return path


def _installed_version(package_dir: Path) -> str | None:
    try:
        meta = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    version = meta.get("version")
    if not isinstance(version, str):
        return None
    if not (package_dir / "dist" / "release" / "index.html").is_file():
        return None
    return version


def _package_dir() -> Path:
    override = os.environ.get("SPEEDSCOPE_DIR")
    if override:
        path = Path(override).resolve()
        # accept either node_modules/speedscope or its dist/release directory
        if path.name == "release" and path.parent.name == "dist":
            return path.parent.parent
        return path
    return NODE_DIR / "node_modules" / "speedscope"


def _npm(npm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [npm, *args, "--no-audit", "--no-fund"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=_INSTALL_TIMEOUT_S,
        check=False,
    )


@functools.cache
def ensure_speedscope() -> Path:
    """Make sure speedscope 1.25.0 is installed; return the dir of import_check.js.

    Installs with ``npm ci`` (falling back to ``npm install --no-save``) in
    ``tests/speedscope_node`` when ``node_modules/speedscope`` is missing or
    not exactly version 1.25.0. With ``$SPEEDSCOPE_DIR`` set, that directory is
    used as is and only its version is checked. Raises ``RuntimeError`` when
    node/npm are missing or the installation fails.
    """
    _require_tool("node")
    package_dir = _package_dir()
    if os.environ.get("SPEEDSCOPE_DIR"):
        found = _installed_version(package_dir)
        if found != SPEEDSCOPE_VERSION:
            raise RuntimeError(
                f"$SPEEDSCOPE_DIR={os.environ['SPEEDSCOPE_DIR']} holds speedscope "
                f"{found or '(none)'}, expected {SPEEDSCOPE_VERSION}"
            )
        return NODE_DIR
    if _installed_version(package_dir) == SPEEDSCOPE_VERSION:
        return NODE_DIR
    npm = _require_tool("npm")
    # Serialise concurrent installs (e.g. pytest-xdist workers).
    with open(NODE_DIR / ".npm-install.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_version(package_dir) != SPEEDSCOPE_VERSION:
            attempts = [_npm(npm, "ci")]
            if attempts[-1].returncode != 0:
                attempts.append(_npm(npm, "install", "--no-save"))
            found = _installed_version(package_dir)
            if found != SPEEDSCOPE_VERSION:
                log = "\n".join(
                    f"$ {' '.join(map(str, p.args))} -> exit {p.returncode}\n{p.stdout}{p.stderr}"
                    for p in attempts
                )
                raise RuntimeError(
                    f"could not install speedscope {SPEEDSCOPE_VERSION} in {NODE_DIR} "
                    f"(found {found or 'nothing'}):\n{log}"
                )
    return NODE_DIR


def run_speedscope_import(
    *paths: str | os.PathLike[str], frame_names: bool = False
) -> list[ImportResult]:
    """Run speedscope's importer on ``paths``; return one result per file.

    Failed imports are reported (``ok`` false, ``error`` set), not raised.
    Raises ``RuntimeError`` if the harness itself cannot run.
    """
    if not paths:
        raise ValueError("no profile files given")
    node_dir = ensure_speedscope()
    node = _require_tool("node")
    cmd = [node, str(node_dir / SCRIPT_NAME)]
    if frame_names:
        cmd.append("--frame-names")
    cmd.extend(os.fspath(p) for p in paths)
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=_IMPORT_TIMEOUT_S,
        check=False,
    )
    if proc.returncode not in (0, 1):
        raise RuntimeError(
            f"{SCRIPT_NAME} exited with {proc.returncode}:\n{proc.stderr}{proc.stdout}"
        )
    results = [
        cast(ImportResult, json.loads(line)) for line in proc.stdout.splitlines() if line.strip()
    ]
    if len(results) != len(paths):
        raise RuntimeError(
            f"{SCRIPT_NAME} printed {len(results)} results for {len(paths)} files "
            f"(exit {proc.returncode}):\n{proc.stderr}{proc.stdout}"
        )
    if (proc.returncode == 0) != all(r["ok"] for r in results):
        raise RuntimeError(f"{SCRIPT_NAME} exit code {proc.returncode} disagrees with its results")
    return results


def import_with_speedscope(
    *paths: str | os.PathLike[str], frame_names: bool = False
) -> list[ImportResult]:
    """Import ``paths`` with speedscope 1.25.0's own importer.

    Returns one :class:`ImportResult` per file (in order). Raises
    ``AssertionError`` carrying speedscope's error message if any file is
    rejected (importer threw, returned null, or returned no profiles).
    """
    results = run_speedscope_import(*paths, frame_names=frame_names)
    failures = [r for r in results if not r["ok"]]
    if failures:
        raise AssertionError(
            "speedscope "
            + SPEEDSCOPE_VERSION
            + " rejected: "
            + "; ".join(f"{r['file']}: {r.get('error', '?')}" for r in failures)
        )
    return results
