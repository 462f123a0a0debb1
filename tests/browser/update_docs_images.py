#!/usr/bin/env python3
"""Refresh the README's pictures: run the browser test, copy its README shots to docs/.

    python tests/browser/update_docs_images.py            # runs tests/test_browser.py first
    python tests/browser/update_docs_images.py --no-run   # copies what the last run left

The pictures are made ONLY by ``tests/test_browser.py`` (speedscope 1.25.0's web app in
headless Chromium, on the bundled ``fftlike`` recording); it writes them to
``artifacts/browser/docs/`` and this script copies them, checked, to ``docs/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "artifacts" / "browser" / "docs"
REPORT = REPO / "artifacts" / "browser" / "report.json"
DOCS = REPO / "docs"
MAX_BYTES = 300_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true",
                        help="do not run the browser test; copy its last pictures")
    args = parser.parse_args(argv)
    if not args.no_run:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_browser.py"],
                              cwd=REPO, check=False, timeout=600)
        if proc.returncode != 0:
            print("update_docs_images: the browser test failed; docs/ left as it was",
                  file=sys.stderr)
            return 1
    try:
        names = json.loads(REPORT.read_text())["readme"]
    except (OSError, ValueError, KeyError) as e:
        print(f"update_docs_images: no test report at {REPORT} ({e}); run without --no-run",
              file=sys.stderr)
        return 1
    if not names:
        print("update_docs_images: the test made no README pictures", file=sys.stderr)
        return 1
    for name in names:
        data = (SHOTS / name).read_bytes()
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            print(f"update_docs_images: {name} is not a PNG", file=sys.stderr)
            return 1
        if len(data) > MAX_BYTES:
            print(f"update_docs_images: {name} is {len(data)} bytes (> {MAX_BYTES})",
                  file=sys.stderr)
            return 1
    DOCS.mkdir(exist_ok=True)
    for name in names:
        shutil.copyfile(SHOTS / name, DOCS / name)
        print(f"docs/{name}  {(DOCS / name).stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
