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


def wss_level_name(threshold: int) -> str:
    """One step of the WSS curve: every interval whose WSS reaches ``threshold`` stacks it."""
    return f"[WSS ≥ {format_bytes(threshold)}]"
