"""Small pages for large arrays while converting.

numpy advises the kernel to back every array of 4 MB or more with transparent huge pages.
Where a huge-page fault is slow (virtual machines, fragmented memory), the conversion's large
temporary arrays then cost several times more than with ordinary pages; measured on the
benchmark machine: assembling 0.8 M DAMON regions 0.26 s instead of 0.11 s. The advice is
off while reading and writing, and restored after (it is numpy's process-wide setting).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    core = getattr(np, "_core", None)
    toggle = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if toggle is None:
        yield
        return
    previous = toggle(False)
    try:
        yield
    finally:
        toggle(previous)
