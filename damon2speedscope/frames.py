"""Reserved names of the synthetic frames we put into profiles.

They are bracketed like perf's own ``[unknown]`` so no real symbol can collide with them.
"""

from __future__ import annotations

from .units import format_bytes, format_seconds

NO_BURST = "[no memory burst]"
NO_SNAPSHOT = "[no DAMON snapshot]"
WSS_PROFILE_NAME = "DAMON working set size"


def burst_name(number: int, start_ns: int, end_ns: int, peak_wss: int) -> str:
    """``[memory burst 2: 12.1–22.3 s, peak WSS 1.0 GiB]``; times from the profile start."""
    return (f"[memory burst {number}: {format_seconds(start_ns)}–{format_seconds(end_ns)} s, "
            f"peak WSS {format_bytes(peak_wss)}]")


def wss_name(wss: int) -> str:
    return f"[WSS {format_bytes(wss)}]"


_EXACT_UNITS = ((1 << 50, "PiB"), (1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"),
                (1 << 10, "KiB"), (1, "B"))


def wss_level_name(threshold: int) -> str:
    """One step of the WSS curve: every interval whose WSS reaches ``threshold`` stacks it.

    Exact, in the largest unit that divides it: ``[WSS ≥ 50 MiB]`` … ``[WSS ≥ 1050 MiB]``.
    The steps are round numbers of one unit (``writers.speedscope._nice_step``), so a curve
    counts up evenly in one unit instead of ``1000 MiB``, ``1.03 GiB``, ``1.07 GiB``.
    """
    for size, unit in _EXACT_UNITS:
        if threshold >= size and threshold % size == 0:
            return f"[WSS ≥ {threshold // size} {unit}]"
    return f"[WSS ≥ {format_bytes(threshold)}]"


HEAT_PROFILE_NAME = "DAMON hottest address ranges"
NO_HOT_RANGE = "[no accessed region]"
MEMORY_PROFILE_NAMES = {"wss": "Memory-weighted CPU (WSS bytes)",
                        "access": "Memory-weighted CPU (access bytes)"}


def hot_range_name(start: int, end: int, rate: float, mapping: str | None = None) -> str:
    """``[hot 0x10f000000–0x12f000000 512 MiB 90%]``: where, how much, how often; with a
    ``.vmas`` side file also which mapping (``[hot 0x7f…–0x7f… 2.00 MiB 40% libc.so.6]``)."""
    where = f" {mapping}" if mapping else ""
    return f"[hot {start:#x}–{end:#x} {format_bytes(end - start)} {rate * 100:.0f}%{where}]"


def thread_frame_name(label: str) -> str:
    return f"[thread {label}]"
