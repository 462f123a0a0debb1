"""Human-readable sizes and durations for frame names, and duration parsing for flags."""

from __future__ import annotations

import re

from .errors import UsageError

_SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(n: int) -> str:
    """``654 MiB``, ``1.67 GiB``: three significant digits, binary units."""
    value = float(n)
    unit = 0
    while abs(value) >= 1024 and unit < len(_SIZE_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return f"{n} B"
    if abs(value) >= 100:
        return f"{value:.0f} {_SIZE_UNITS[unit]}"
    if abs(value) >= 10:
        return f"{value:.1f} {_SIZE_UNITS[unit]}"
    return f"{value:.2f} {_SIZE_UNITS[unit]}"


def format_seconds(ns: int) -> str:
    """Seconds with one decimal (``12.1``): enough to find a place on a timeline."""
    return f"{ns / 1e9:.1f}"


_DURATION = re.compile(r"^\s*([+-]?)(\d+)(?:\.(\d+))?\s*(ns|us|µs|ms|s|m|min)?\s*$")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "min": 60_000_000_000}


def parse_duration_ns(text: str) -> int:
    """``-1.8ms`` → -1800000; integer arithmetic only, default unit seconds."""
    m = _DURATION.match(text)
    if not m:
        raise UsageError(f"bad duration {text!r} (examples: 500ms, -1.8ms, +3s, 250us)")
    sign, whole, frac, unit = m.groups()
    scale = _UNIT_NS[unit or "s"]
    frac = frac or ""
    ns = int(whole) * scale
    if frac:
        ns += int(frac) * scale // 10 ** len(frac)
    return -ns if sign == "-" else ns


def parse_time_field_ns(secs: bytes, frac: bytes) -> int:
    """``1952.210475`` split at the dot → integer ns without passing through float."""
    if len(frac) >= 9:
        return int(secs) * 1_000_000_000 + int(frac[:9])
    scale: int = 10 ** (9 - len(frac))
    return int(secs) * 1_000_000_000 + int(frac) * scale
