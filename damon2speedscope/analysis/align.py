"""Puts the DAMON record on the perf recording's clock, and says how well that is known.

Supported mappings:

* same domain: identity, uncertainty 0;
* perf's default clock (``local_clock``) and CLOCK_MONOTONIC: treated as one domain within
  :data:`PERF_MONO_TOLERANCE_NS` (the two were measured 1.7–1.8 ms apart on our recording
  machine); the summary says so;
* CLOCK_MONOTONIC_COARSE (kernel-written legacy records) and CLOCK_MONOTONIC: the coarse clock
  is the monotonic clock read at the last tick, so it lags by less than one tick
  (:data:`COARSE_TOLERANCE_NS`);
* wall clock ↔ CLOCK_MONOTONIC: through perf.data's ``reference time`` pair (``-k mono``);
* anything else needs ``--damon-offset`` and ``--clock``: it is an error, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..clock import ClockDomain, ClockMapping
from ..errors import ClockError
from ..model import DamonRecord

PERF_MONO_TOLERANCE_NS = 2_000_000
COARSE_TOLERANCE_NS = 10_000_000  # one tick at HZ=100, the coarsest kernel setting
_PERF_LIKE = {ClockDomain.PERF, ClockDomain.MONOTONIC}


@dataclass(frozen=True)
class Span:
    start_ns: int
    end_ns: int

    def overlap(self, other: Span) -> int:
        return max(0, min(self.end_ns, other.end_ns) - max(self.start_ns, other.start_ns))

    def describe(self) -> str:
        return f"{self.start_ns / 1e9:.6f}–{self.end_ns / 1e9:.6f} s"


@dataclass(frozen=True)
class Alignment:
    mapping: ClockMapping
    damon_span: Span
    perf_span: Span
    overlap_ns: int
    warnings: tuple[str, ...] = ()


def choose_mapping(
    damon_clock: ClockDomain,
    perf_clock: ClockDomain,
    manual_offset_ns: int = 0,
    reference: tuple[int, int] | None = None,
) -> ClockMapping:
    """How DAMON times become perf times; ``reference`` is (wall ns, monotonic ns)."""
    if damon_clock is perf_clock:
        mapping = ClockMapping(damon_clock, perf_clock, 0, 0, "same clock")
    elif damon_clock in _PERF_LIKE and perf_clock in _PERF_LIKE:
        mapping = ClockMapping(
            damon_clock, perf_clock, 0, PERF_MONO_TOLERANCE_NS,
            "perf clock taken as CLOCK_MONOTONIC (documented tolerance ±2 ms)",
        )
    elif damon_clock is ClockDomain.MONOTONIC_COARSE and perf_clock in _PERF_LIKE:
        mapping = ClockMapping(
            damon_clock, perf_clock, 0, COARSE_TOLERANCE_NS,
            "CLOCK_MONOTONIC_COARSE taken as CLOCK_MONOTONIC (it lags by under one tick; "
            "tolerance ±10 ms)",
        )
    elif damon_clock is ClockDomain.WALL and perf_clock is ClockDomain.MONOTONIC \
            and reference is not None:
        wall, mono = reference
        mapping = ClockMapping(damon_clock, perf_clock, mono - wall, 1_000,
                               "perf.data reference time (TOD = monotonic)")
    else:
        raise ClockError(
            f"DAMON times are on the {damon_clock.value} clock and perf times on the "
            f"{perf_clock.value} clock, and no mapping between them is known: record both "
            "with `perf record -k mono`, or declare the clocks with --clock and shift with "
            "--damon-offset"
        )
    if manual_offset_ns:
        return ClockMapping(mapping.source, mapping.target, mapping.offset_ns + manual_offset_ns,
                            mapping.uncertainty_ns, mapping.method + " + --damon-offset")
    return mapping


def align(record: DamonRecord, mapping: ClockMapping, perf_span: Span) -> tuple[DamonRecord,
                                                                             Alignment]:
    """Shift ``record`` onto the perf clock and check that the two spans overlap."""
    shifted = record.shifted(mapping.offset_ns, mapping.target) if (
        mapping.offset_ns or record.clock is not mapping.target) else record
    mapping.apply(record.start_ns[:0], record.clock)
    damon_span = Span(int(shifted.start_ns.min()), int(shifted.end_ns.max()))
    overlap = damon_span.overlap(perf_span)
    if overlap == 0:
        raise ClockError(
            f"DAMON record ({damon_span.describe()}) and perf samples "
            f"({perf_span.describe()}) do not overlap in time on the {mapping.target.value} "
            "clock: wrong pair of files, or a clock offset (--damon-offset)"
        )
    warnings: list[str] = []
    perf_len = perf_span.end_ns - perf_span.start_ns
    if perf_len > 0 and overlap < perf_len:
        warnings.append(
            f"DAMON record covers {100 * overlap / perf_len:.1f}% of the perf samples' span "
            f"(DAMON {damon_span.describe()}, perf {perf_span.describe()})"
        )
    return shifted, Alignment(mapping, damon_span, perf_span, overlap, tuple(warnings))
