"""A tiny Chrome DevTools Protocol client for headless Chromium, standard library only.

Chromium is started with ``--remote-debugging-pipe``: it reads CDP commands from its file
descriptor 3 and writes replies and events to its descriptor 4, each message one JSON text
ended by a NUL byte. No port, no WebSocket, no third-party package. Commands to a page go
through a flat session (``Target.attachToTarget`` with ``flatten``), so one pipe carries all.

Every wait has a deadline. :meth:`Chromium.close` always ends the browser: ``Browser.close``
first, then SIGTERM and SIGKILL to the process group of the one process this module started
(Chromium runs in a session of its own, so that group holds only Chromium and its helpers).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_S = 15.0

#: The flags the tests run Chromium with (plus the user-data dir, window size and the pipe).
#: ``--enable-unsafe-swiftshader``: speedscope draws with WebGL; without a GPU Chromium falls
#: back to SwiftShader only when asked (the automatic fallback is deprecated). The page is our
#: own localhost content. ``--disable-dev-shm-usage``: containers often have a tiny /dev/shm.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--enable-unsafe-swiftshader",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)


class CDPError(RuntimeError):
    """A CDP command failed, the browser went away, or a wait ran out of time."""


def _high_fd(fd: int) -> int:
    """``fd`` moved to a number ≥ 10, so the shell's ``3<&N 4>&M`` cannot clobber it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Chromium:
    """One headless Chromium driven over ``--remote-debugging-pipe``."""

    def __init__(self, executable: str, user_data_dir: Path, *, width: int, height: int,
                 log_path: Path, extra_flags: Sequence[str] = ()) -> None:
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        to_chrome_r, from_chrome_w = _high_fd(to_chrome_r), _high_fd(from_chrome_w)
        args = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}",
                f"--window-size={width},{height}", "--remote-debugging-pipe", *extra_flags,
                "about:blank"]
        # bash puts the pipe ends on 3 and 4 and execs Chromium (same PID); Python's
        # subprocess cannot renumber descriptors without a (thread-unsafe) preexec_fn.
        script = f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w} {to_chrome_r}<&- ' \
                 f'{from_chrome_w}>&-'
        self._log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        try:
            self.proc = subprocess.Popen(
                ["/bin/bash", "-c", script, *args], pass_fds=(to_chrome_r, from_chrome_w),
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                start_new_session=True)
        except BaseException:
            self._log.close()
            raise
        finally:
            os.close(to_chrome_r)
            os.close(from_chrome_w)
        self._w: int | None = to_chrome_w
        self._r: int | None = from_chrome_r
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    # -- protocol ---------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None, *,
             session: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
        """Send one command and wait for its reply; events that arrive meanwhile are kept."""
        if self._w is None:
            raise CDPError("browser is closed")
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._w, data):]
        except BrokenPipeError as e:
            raise CDPError(f"{method}: Chromium closed its pipe ({self.exit_note()})") from e
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        assert self._r is not None
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError(f"{waiting_for}: no reply from Chromium in time")
            readable, _, _ = select.select([self._r], [], [], left)
            if readable:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise CDPError(f"{waiting_for}: Chromium closed its pipe "
                                   f"({self.exit_note()})")
                self._buffer += chunk
        text, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(text)
        return message

    def exit_note(self) -> str:
        """Whether Chromium still runs, and the end of its log (why it stopped, usually)."""
        code = self.proc.poll()
        state = "still running" if code is None else f"exit status {code}"
        try:
            tail = self._log_path.read_text(errors="replace").splitlines()[-15:]
        except OSError:
            tail = []
        return state + "".join(f"\n  chromium: {line}" for line in tail)

    def open_page(self, width: int, height: int) -> Page:
        """Attach to the start page (about:blank) with a fixed CSS viewport."""
        targets = self.call("Target.getTargets")["targetInfos"]
        pages = [t for t in targets if t["type"] == "page"]
        if pages:
            target = pages[0]["targetId"]
        else:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        page.call("Emulation.setFocusEmulationEnabled", {"enabled": True})
        return page

    # -- shutdown ---------------------------------------------------------------------------

    def close(self) -> None:
        """End Chromium for sure: politely, then by signal to its own process group."""
        if self._w is not None:
            with contextlib.suppress(CDPError, OSError):
                self.call("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # helpers left behind in Chromium's own session (normally none)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for fd in (self._w, self._r):
            if fd is not None:
                os.close(fd)
        self._w = self._r = None
        self._log.close()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One page (tab) of :class:`Chromium`, reached through a flat CDP session."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, params: dict[str, Any] | None = None, *,
             timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
        return self.browser.call(method, params, session=self.session, timeout=timeout)

    def navigate(self, url: str) -> None:
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CDPError(f"navigating to {url}: {result['errorText']}")

    def evaluate(self, expression: str, *, await_promise: bool = False,
                 timeout: float = DEFAULT_TIMEOUT_S) -> Any:
        """The JSON value of ``expression`` in the page; a JavaScript exception raises."""
        result = self.call("Runtime.evaluate",
                           {"expression": expression, "returnByValue": True,
                            "awaitPromise": await_promise}, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"JavaScript error in {expression[:80]!r}: {text}")
        return result["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float, what: str) -> Any:
        """Poll ``expression`` until it is truthy; its value, or CDPError naming ``what``."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            last = self.evaluate(expression)
            if last:
                return last
            if time.monotonic() >= deadline:
                raise CDPError(f"timed out after {timeout:.0f} s waiting for {what} "
                               f"(last value {last!r})\n{self.console_text()}")
            time.sleep(0.05)

    def settle(self) -> None:
        """Let the page draw: two animation frames (speedscope renders in rAF callbacks)."""
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))",
                      await_promise=True)

    def press(self, key: str, *, ctrl: bool = False) -> None:
        """One key: a printable character (as keyDown, with its keypress, and keyUp), or a
        named key such as ``Escape``; ``ctrl`` holds Control."""
        named = {"Escape": ("Escape", 27), "Enter": ("Enter", 13)}
        if key in named:
            code, vk = named[key]
            text = ""
        else:
            code = f"Key{key.upper()}" if key.isalpha() else f"Digit{key}" if key.isdigit() else ""
            vk = ord(key.upper())
            text = "" if ctrl else key
        common = {"key": key, "code": code, "windowsVirtualKeyCode": vk,
                  "modifiers": 2 if ctrl else 0}
        self.call("Input.dispatchKeyEvent", {"type": "keyDown", "text": text, **common})
        self.call("Input.dispatchKeyEvent", {"type": "keyUp", **common})

    def type_text(self, text: str) -> None:
        self.call("Input.insertText", {"text": text})

    def mouse_move(self, x: float, y: float) -> None:
        self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})

    def click(self, x: float, y: float) -> None:
        self.mouse_move(x, y)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent",
                      {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def screenshot(self, path: Path, clip: tuple[float, float, float, float] | None = None
                   ) -> bytes:
        """A PNG of the viewport, or of ``clip`` = (x, y, width, height) in CSS pixels."""
        params: dict[str, Any] = {"format": "png"}
        if clip is not None:
            x, y, width, height = clip
            params["clip"] = {"x": x, "y": y, "width": width, "height": height, "scale": 1}
        data = base64.b64decode(self.call("Page.captureScreenshot", params,
                                          timeout=30)["data"])
        path.write_bytes(data)
        return data

    def console_text(self) -> str:
        """The page's console messages and uncaught exceptions so far, one per line."""
        lines = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled":
                args = " ".join(str(a.get("value", a.get("description", "")))
                                for a in params.get("args", []))
                lines.append(f"console.{params.get('type')}: {args}")
            elif event["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                text = details.get("exception", {}).get("description") or details.get("text")
                lines.append(f"exception: {text}")
        return "\n".join(lines)
