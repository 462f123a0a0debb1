"""``python -m damon2speedscope``: the command line (see :mod:`damon2speedscope.cli`)."""

import os
import signal
from collections.abc import Callable
from types import FrameType
from typing import NoReturn


def _interrupted_while_starting(signum: int, frame: FrameType | None) -> None:
    # Nothing is written yet; exit at once rather than leave a half-imported numpy to a
    # KeyboardInterrupt (that can end in a traceback, or worse, at interpreter exit).
    os.write(2, b"damon2speedscope: " + (b"interrupted\n" if signum == signal.SIGINT
                                         else b"terminated\n"))
    os._exit(128 + signum)


def _entry() -> Callable[[], NoReturn]:
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, _interrupted_while_starting) for s in held}
    from .cli import entry  # numpy and the rest

    for s, handler in previous.items():
        signal.signal(s, handler)
    return entry


_entry()()
