"""Shared fixtures: the real recordings, their unpacked perf archives, golden switch."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden/ files from the current output instead of comparing")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden")) or \
        os.environ.get("UPDATE_GOLDEN") == "1"


DATA = REPO / "tests" / "data"


def shared_dir() -> Path:
    """``shared/`` beside the repository (CI lays a copy there), or $DAMON2SPEEDSCOPE_SHARED.

    Only for cross-checks against the team's shared folder; every test input the suite needs
    is committed under ``tests/data/`` and ``golden/``.
    """
    env = os.environ.get("DAMON2SPEEDSCOPE_SHARED")
    path = Path(env) if env else REPO.parent / "shared"
    if not (path / "recordings").is_dir():
        raise RuntimeError(f"shared folder not found at {path}; set DAMON2SPEEDSCOPE_SHARED")
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    return shared_dir()


@pytest.fixture(scope="session")
def recordings() -> Path:
    """Committed copies of shared/recordings (fftlike itself lives in golden/fftlike)."""
    return DATA / "recordings"


class _BuildidDirs(dict[str, str]):
    """Unpacks a recording's ``perf archive`` on first use, once per test session."""

    def __init__(self, root: Path, recordings: Path) -> None:
        super().__init__()
        self.root = root
        self.archives = {
            "fftlike": GOLDEN / "fftlike" / "perf.data.tar.bz2",
            "fftlike-mono": recordings / "fftlike-mono" / "perf.mono.data.tar.bz2",
            "fftlike-combined": recordings / "fftlike-combined" / "combined.perf.data.tar.bz2",
            "mtphases": GOLDEN / "mtphases" / "perf.data.tar.bz2",
        }

    def __missing__(self, name: str) -> str:
        target = self.root / name
        target.mkdir()
        with tarfile.open(self.archives[name], "r:bz2") as tar:
            tar.extractall(target, filter="tar")
        self[name] = str(target)
        return str(target)


@pytest.fixture(scope="session")
def buildid_dirs(tmp_path_factory: pytest.TempPathFactory, recordings: Path) -> dict[str, str]:
    """Each recording's ``perf archive`` unpacked, so perf.data symbolizes as on the recorder."""
    return _BuildidDirs(tmp_path_factory.mktemp("buildid"), recordings)
