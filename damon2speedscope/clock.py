"""Clock domains: every timestamp in the model belongs to exactly one.

Times are integer nanoseconds. A value of one domain can only be compared with a value of
another after an explicit :class:`ClockMapping` converted it, so clocks cannot mix silently.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .errors import ClockError


class ClockDomain(enum.Enum):
    """Where a nanosecond count comes from."""

    PERF = "perf"  # perf's default clock (local_clock / sched_clock), also DAMON tracepoints
    MONOTONIC = "monotonic"  # CLOCK_MONOTONIC, e.g. ``perf record -k mono``
    MONOTONIC_COARSE = "monotonic_coarse"  # kernel-written legacy DAMON records
    WALL = "wall"  # CLOCK_REALTIME, nanoseconds since the epoch

    @classmethod
    def parse(cls, text: str) -> ClockDomain:
        aliases = {
            "perf": cls.PERF,
            "local": cls.PERF,
            "mono": cls.MONOTONIC,
            "monotonic": cls.MONOTONIC,
            "monotonic_coarse": cls.MONOTONIC_COARSE,
            "wall": cls.WALL,
            "realtime": cls.WALL,
            "tod": cls.WALL,
        }
        try:
            return aliases[text.strip().lower()]
        except KeyError:
            known = ", ".join(sorted(aliases))
            raise ClockError(f"unknown clock {text!r}; known: {known}") from None


@dataclass(frozen=True)
class ClockedNs:
    """One instant: integer nanoseconds in a named clock domain."""

    ns: int
    clock: ClockDomain

    def minus(self, other: ClockedNs) -> int:
        """Nanoseconds between two instants of the same clock."""
        require_same_clock(self.clock, other.clock)
        return self.ns - other.ns


@dataclass(frozen=True)
class ClockMapping:
    """``target = source + offset_ns`` within ``uncertainty_ns``; says how it was found."""

    source: ClockDomain
    target: ClockDomain
    offset_ns: int
    uncertainty_ns: int
    method: str

    def apply(
        self, ns: npt.NDArray[np.int64], clock: ClockDomain
    ) -> npt.NDArray[np.int64]:
        require_same_clock(clock, self.source)
        shifted: npt.NDArray[np.int64] = ns + np.int64(self.offset_ns)
        return shifted


def require_same_clock(a: ClockDomain, b: ClockDomain) -> None:
    """Refuse to combine times of two domains: the only guard, called wherever times meet."""
    if a is not b:
        raise ClockError(
            f"cannot combine {a.value} and {b.value} clock times without a clock mapping"
        )
