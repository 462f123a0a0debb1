"""Seen in a real browser: speedscope 1.25.0's own web app renders our file.

The bundled ``fftlike`` recording is converted, served from 127.0.0.1 together with the npm
package's ``dist/release/`` web app, and opened in headless Chromium as
``index.html#profileURL=…``. Driven over the DevTools protocol (``tests/browser/cdp.py``), the
test checks that the profile loads (title ``fftlike - speedscope``, no "Something went
wrong"), that the profile selector lists every profile and switches to the WSS curve, that
``n``/``p`` step through all profiles, that a click on ``butterfly`` in burst 1 shows our
stack (code over ``[WSS …]`` over ``[memory burst 1: …]``) in speedscope's detail panel, and
that the Sandwich table lists our frames. It screenshots Time Order and Left Heavy of every
profile into ``artifacts/browser/``, and the README's pictures into ``artifacts/browser/docs/``;
``tests/browser/update_docs_images.py`` copies those to ``docs/``.

Chromium (Debian package ``chromium``; ``$CHROMIUM`` overrides the path) is REQUIRED, like
Node.js for the importer harness: without it the test fails, it is not skipped.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from browser.cdp import Chromium, Page
from conftest import GOLDEN, REPO
from conversions import Replay, convert_files
from speedscope_importer import SPEEDSCOPE_VERSION, _package_dir, ensure_speedscope

from damon2speedscope import frames as names

ARTIFACTS = REPO / "artifacts" / "browser"
DOCS_SHOTS = ARTIFACTS / "docs"
WIDTH, HEIGHT = 1600, 900
NAME = "fftlike"
LOAD_TIMEOUT_S = 30.0
STEP_TIMEOUT_S = 10.0
ROW_PX = 20  # speedscope 1.25.0's flame chart row height (LOGICAL_VIEW_SPACE_FRAME_HEIGHT)

# speedscope's class names are minified, so elements are found by their text and shape.
# The toolbar's centre reads "<profile name> (<i>/<n>)".
_CENTRE_SPAN = r"""[...document.querySelectorAll('span')].find(
    e => e.children.length === 1 && /\(\d+\/\d+\)$/.test(e.textContent))"""
_CENTRE = f"(() => {{ const s = {_CENTRE_SPAN}; return s ? s.textContent : null; }})()"
_CENTRE_BOX = f"""(() => {{ const b = {_CENTRE_SPAN}.getBoundingClientRect();
    return {{x: b.x + b.width / 2, y: b.y + b.height / 2}}; }})()"""
# The active view's tab is the one toolbar tab whose background differs from the other two.
_ACTIVE_TAB = r"""(() => {
  const view = d => (/(Time Order|Left Heavy|Sandwich)$/.exec(d.textContent) || [])[1];
  const tabs = [...document.querySelectorAll('div')].filter(
      d => view(d) && !d.querySelector('div'));
  const bg = tabs.map(t => getComputedStyle(t).backgroundColor);
  const odd = tabs.filter((t, i) => bg.filter(b => b === bg[i]).length === 1);
  return tabs.length === 3 && odd.length === 1 ? view(odd[0]) : null;
})()"""
# Rows of the profile selector (a table that opens when the toolbar's centre is hovered).
_SELECTOR_ROWS = r"""[...document.querySelectorAll('tr[title]')].map(r => {
  const b = r.getBoundingClientRect();
  return {title: r.title, x: b.x + b.width / 2, y: b.y + b.height / 2,
          visible: b.width > 0 && b.height > 0};
})"""
# Top of the main flame chart: the tallest canvas with a class (the minimap's is 100 px).
_CHART_TOP = r"""Math.max(...[...document.querySelectorAll('canvas[class]')].map(
    c => c.getBoundingClientRect()).filter(b => b.height > 150).map(b => b.top))"""
_ERROR = "document.body.innerText.includes('Something went wrong')"
VIEW_KEYS = {"Time Order": "1", "Left Heavy": "2", "Sandwich": "3"}


def chromium_executable() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        raise RuntimeError(
            f"Chromium not found at {path}: the browser test needs it "
            "(`apt-get install chromium`, or set $CHROMIUM); .ci/run installs it")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    fft = GOLDEN / "fftlike"
    conv = convert_files(fft / "damon.json_compressed", fft / "perf.script.txt", name=NAME)
    return dict(conv.document)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory,
           document: dict[str, Any]) -> Iterator[str]:
    """speedscope's web app and our file on 127.0.0.1 (a free port), stopped afterwards."""
    ensure_speedscope()
    root = tmp_path_factory.mktemp("www")
    shutil.copytree(_package_dir() / "dist" / "release", root / "speedscope")
    release = (root / "speedscope" / "release.txt").read_text()
    assert SPEEDSCOPE_VERSION in release, release
    (root / f"{NAME}.speedscope.json").write_bytes(orjson.dumps(document))
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="speedscope-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """A fresh headless Chromium (own tmp profile), always shut down afterwards."""
    tmp = tmp_path_factory.mktemp("chromium")
    chromium = Chromium(chromium_executable(), tmp / "profile", width=WIDTH, height=HEIGHT,
                        log_path=tmp / "chromium.log")
    try:
        yield chromium
    finally:
        chromium.close()


def _slug(text: str) -> str:
    if text == names.WSS_PROFILE_NAME:
        return "wss"
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _max_depth(profile: dict[str, Any]) -> int:
    depth = deepest = 0
    for event in profile["events"]:
        depth += 1 if event["type"] == "O" else -1
        deepest = max(deepest, depth)
    return deepest


class _App:
    """speedscope's web app in one page, with the few interactions the test needs."""

    def __init__(self, page: Page, document: dict[str, Any]) -> None:
        self.page = page
        self.document = document
        self.profiles = [p["name"] for p in document["profiles"]]

    def expect_profile(self, index: int) -> None:
        expected = f"{self.profiles[index]} ({index + 1}/{len(self.profiles)})"
        self.page.wait_for(f"{_CENTRE} === {json.dumps(expected)}", timeout=STEP_TIMEOUT_S,
                           what=f"the profile selector to read {expected!r}")

    def view(self, view: str) -> None:
        self.page.press(VIEW_KEYS[view])
        self.page.wait_for(f"{_ACTIVE_TAB} === {json.dumps(view)}", timeout=STEP_TIMEOUT_S,
                           what=f"the {view} tab to become active")
        self.page.settle()

    def resize(self, height: int) -> None:
        self.page.call("Emulation.setDeviceMetricsOverride",
                       {"width": WIDTH, "height": height, "deviceScaleFactor": 1,
                        "mobile": False})
        self.page.wait_for(f"window.innerHeight === {height}", timeout=STEP_TIMEOUT_S,
                           what=f"the viewport to become {height} px tall")
        self.page.settle()

    def shot(self, path: Path, height: int | None = None) -> None:
        """A PNG of the top ``height`` pixels of the page (default: all of the viewport)."""
        self.page.mouse_move(WIDTH * 0.3, 8)  # between the tabs and the selector: no hover
        self.page.settle()
        viewport = int(self.page.evaluate("window.innerHeight"))
        path.parent.mkdir(parents=True, exist_ok=True)
        png = self.page.screenshot(path, clip=(0, 0, WIDTH, min(height or viewport, viewport)))
        assert png.startswith(b"\x89PNG") and len(png) > 5000, path

    def content_height(self, profile: dict[str, Any]) -> int:
        """Pixels from the top of the page to below the deepest row of ``profile``."""
        top = int(self.page.evaluate(_CHART_TOP))
        return top + ROW_PX * (_max_depth(profile) + 1) + ROW_PX // 2

    def select_in_time_order(self, profile: dict[str, Any], x: int, depth: int) -> list[str]:
        """Click the frame at pixel ``x``, row ``depth`` (0: root) of Time Order; the stack
        speedscope's detail panel then shows, root first, without file names."""
        top = float(self.page.evaluate(_CHART_TOP))
        y = top + ROW_PX * (depth + 1) + ROW_PX / 2  # + 1: the time axis row
        self.page.click(x + 0.5, y)
        text = self.page.wait_for(
            "(() => { const t = document.body.innerText; "
            "return t.includes('This Instance') ? t : null; })()",
            timeout=STEP_TIMEOUT_S, what="speedscope's detail panel")
        lines = text.split("All Instances", 1)[1].splitlines()
        stack = [re.sub(r" \([^()]*\)$", "", ln.removeprefix("> ")) for ln in lines
                 if ln.startswith("> ") or (ln and not re.match(r"^(Total|Self|[\d.<]+)", ln))]
        return stack[::-1]


def _select_from_selector(app: _App, index: int) -> None:
    """Hover the toolbar's centre; the selector lists every profile; click one."""
    page = app.page
    box = page.evaluate(_CENTRE_BOX)
    page.mouse_move(box["x"], box["y"])
    rows = page.wait_for(f"(() => {{ const r = {_SELECTOR_ROWS}; "
                         "return r.length && r.every(x => x.visible) ? r : null; })()",
                         timeout=STEP_TIMEOUT_S, what="the profile selector to open")
    assert [r["title"] for r in rows] == app.profiles
    page.click(rows[index]["x"], rows[index]["y"])
    app.expect_profile(index)
    page.mouse_move(WIDTH * 0.3, 8)  # off the selector (it closes) and off the flame chart
    page.wait_for(f"{_SELECTOR_ROWS}.every(x => !x.visible)", timeout=STEP_TIMEOUT_S,
                  what="the profile selector to close")


def _sandwich_rows(page: Page) -> list[str]:
    """Symbol names in the Sandwich table as drawn (it renders only the rows in view)."""
    text: str = page.evaluate("document.body.innerText")
    head = "Total\tSelf\tSymbol Name\n"
    assert head in text, text[:500]
    rows = text.split(head, 1)[1].split("\n")
    # each row is "total", "\tself", "\tname"
    return [rows[i].lstrip("\t") for i in range(2, len(rows), 3) if rows[i].startswith("\t")]


def _sandwich_lists_our_frames(app: _App) -> None:
    """Sandwich is a DOM table: our frames, by name, as speedscope imported them."""
    page = app.page
    app.view("Sandwich")
    rows = _sandwich_rows(page)
    # most self time: the FFT passes (butterfly), then the transposes
    assert rows[:2] == ["butterfly", "Transpose"], rows[:10]
    frame_names = [f["name"] for f in app.document["shared"]["frames"]]
    bursts = sorted(n for n in frame_names if n.startswith("[memory burst "))
    assert len(bursts) == 3, bursts
    page.press("f", ctrl=True)  # speedscope's search box filters the table
    page.wait_for("document.activeElement && document.activeElement.tagName === 'INPUT'",
                  timeout=STEP_TIMEOUT_S, what="the search box")
    page.type_text("memory burst")
    found = page.wait_for(
        f"(() => {{ const t = document.body.innerText; return {json.dumps(bursts)}.every("
        "b => t.includes(b)) ? t : null; })()", timeout=STEP_TIMEOUT_S,
        what="the Sandwich search to list the bursts")
    assert names.NO_BURST in found
    page.press("Escape")  # clears the search (it would highlight matches in later pictures)
    page.wait_for("!document.body.innerText.includes('[memory burst 1')",
                  timeout=STEP_TIMEOUT_S, what="the search to clear")
    app.view("Time Order")


def _thread_readme_shots(app: _App, profile: dict[str, Any]) -> None:
    """Time Order with butterfly selected in burst 1 (its stack in the detail panel),
    and Left Heavy cropped to the flame graph."""
    page = app.page
    frame_names = [f["name"] for f in app.document["shared"]["frames"]]
    burst1 = next(n for n in frame_names if n.startswith("[memory burst 1:"))
    replay = Replay(app.document, profile)
    spans = [(b - a, a, b) for a, b in zip(replay.times, replay.times[1:], strict=False)
             if "butterfly" in replay.at(a) and replay.at(a)[0] == burst1]
    assert spans, "burst 1 should hold the first FFT pass (butterfly)"
    _, a, b = max(spans)  # the widest butterfly bar of burst 1: click its middle
    t = (a + b) // 2
    start, span = profile["startValue"], profile["endValue"] - profile["startValue"]
    x = int((t - start) / span * WIDTH)
    depth = replay.at(t).index("butterfly")
    height = app.content_height(profile)
    app.resize(min(HEIGHT, height + 170))  # room for the detail panel under the chart
    shown = app.select_in_time_order(profile, x, depth)
    # what the clicked pixel column can hold (speedscope hit-tests in its own float maths)
    column = {replay.at(start + round(span * (x + f) / WIDTH)) for f in (0, 0.25, 0.5, 0.75, 1)}
    assert tuple(shown) in column, (shown, column)
    assert shown[0] == burst1 and shown[1].startswith("[WSS ") and shown[-1] == "butterfly"
    app.shot(DOCS_SHOTS / f"{NAME}-thread-time-order.png")
    page.press("Escape")  # deselect
    page.wait_for("!document.body.innerText.includes('This Instance')",
                  timeout=STEP_TIMEOUT_S, what="the detail panel to close")
    app.resize(HEIGHT)
    app.view("Left Heavy")
    app.shot(DOCS_SHOTS / f"{NAME}-thread-left-heavy.png", height=app.content_height(profile))
    app.view("Time Order")


def test_speedscope_web_app_renders_fftlike(document: dict[str, Any], server: str,
                                            browser: Chromium) -> None:
    started = time.monotonic()
    timings: dict[str, float] = {}
    profiles = [p["name"] for p in document["profiles"]]
    count = len(profiles)
    wss = profiles.index(names.WSS_PROFILE_NAME)
    active = document["activeProfileIndex"]
    thread = document["profiles"][active]
    assert thread["type"] == "evented" and active != wss

    page = browser.open_page(WIDTH, HEIGHT)
    app = _App(page, document)
    profile_url = f"{server}/{NAME}.speedscope.json"
    page.navigate(f"{server}/speedscope/index.html#profileURL={quote(profile_url, safe='')}")
    page.wait_for(f"document.title === {json.dumps(NAME + ' - speedscope')}",
                  timeout=LOAD_TIMEOUT_S, what="speedscope to load the profile")
    app.expect_profile(active)  # speedscope opens our activeProfileIndex: the busiest thread
    assert not page.evaluate(_ERROR), page.console_text()
    assert "WebGL initialized" in page.console_text()
    timings["loaded"] = time.monotonic() - started

    for old in [*ARTIFACTS.glob("*.png"), *DOCS_SHOTS.glob("*.png")]:
        old.unlink()
    shots: dict[str, list[str]] = {}

    def capture(index: int) -> None:
        app.expect_profile(index)
        files = []
        for view in ("Time Order", "Left Heavy"):
            app.view(view)
            path = ARTIFACTS / f"{NAME}-{_slug(profiles[index])}-{_slug(view)}.png"
            app.shot(path)
            files.append(path.name)
        app.view("Time Order")
        shots[profiles[index]] = files

    capture(active)
    _sandwich_lists_our_frames(app)
    _thread_readme_shots(app, thread)
    timings["thread"] = time.monotonic() - started

    _select_from_selector(app, wss)
    capture(wss)
    app.view("Time Order")
    app.shot(DOCS_SHOTS / f"{NAME}-wss-time-order.png")
    app.view("Left Heavy")
    app.shot(DOCS_SHOTS / f"{NAME}-wss-left-heavy.png")
    app.view("Time Order")
    timings["wss"] = time.monotonic() - started

    # keyboard: n / p step to the next / previous profile; every profile is reachable
    index = wss
    for _ in range(count - 1 - wss):
        page.press("n")
        index += 1
        app.expect_profile(index)
        if profiles[index] not in shots:
            capture(index)
    for _ in range(count - 1):
        page.press("p")
        index -= 1
        app.expect_profile(index)
        if profiles[index] not in shots:
            capture(index)
    assert set(shots) == set(profiles)
    assert page.evaluate("document.title") == f"{NAME} - speedscope"
    assert not page.evaluate(_ERROR), page.console_text()
    timings["all"] = time.monotonic() - started
    (ARTIFACTS / "report.json").write_text(json.dumps(
        {"speedscope": SPEEDSCOPE_VERSION, "viewport": [WIDTH, HEIGHT], "profiles": profiles,
         "screenshots": shots, "readme": sorted(p.name for p in DOCS_SHOTS.glob("*.png")),
         "seconds": {k: round(v, 2) for k, v in timings.items()},
         "console": page.console_text().splitlines()}, indent=2) + "\n")
