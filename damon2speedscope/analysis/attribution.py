"""Which code goes with which memory burst: per-burst function shares and their lift.

For every burst and function, ``share`` is the fraction of the burst's CPU samples whose stack
holds the function (inclusive) or ends in it (leaf). ``lift`` compares that with the samples
outside every burst: ``share / outside_share``, where the outside share is Laplace-smoothed
(``(count + 1) / (n + 1)``) so a function never seen outside still gets a finite lift.
Functions are ranked by ``share × lift``: common to the burst AND special to it. Frames that
are in every stack (``main``, libc start-up) have lift ≈ 1 and sink.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import PerfSamples
from .bursts import Burst


@dataclass(frozen=True)
class FunctionScore:
    name: str
    share: float
    lift: float
    samples: int


@dataclass(frozen=True)
class BurstAttribution:
    burst: Burst
    samples: int
    inclusive: list[FunctionScore]
    leaf: list[FunctionScore]


def _counts(samples: PerfSamples, mask: np.ndarray, leaf: bool) -> dict[str, int]:
    frames = samples.table.frames
    stacks = samples.table.stacks
    per_stack = np.bincount(samples.stack[mask], minlength=len(stacks))
    counts: dict[str, int] = {}
    for stack_id in np.flatnonzero(per_stack).tolist():
        stack = stacks[stack_id]
        if not stack:
            continue
        names = {frames[stack[-1]].name} if leaf else {frames[f].name for f in stack}
        n = int(per_stack[stack_id])
        for name in names:
            counts[name] = counts.get(name, 0) + n
    return counts


def _scores(inside: dict[str, int], n_in: int, outside: dict[str, int], n_out: int,
            top: int) -> list[FunctionScore]:
    scored: list[tuple[float, str, FunctionScore]] = []
    for name, count in inside.items():
        share = count / n_in
        out_share = (outside.get(name, 0) + 1) / (n_out + 1)
        lift = share / out_share
        scored.append((-share * lift, name, FunctionScore(name, round(share, 4), round(lift, 3),
                                                           count)))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [s for _, _, s in scored[:top]]


def attribute(samples: PerfSamples, bursts: list[Burst], top: int = 5) -> list[BurstAttribution]:
    """Top ``top`` inclusive and leaf functions of every burst (all threads together)."""
    t = samples.time_ns
    in_any = np.zeros(len(samples), dtype=bool)
    masks = []
    for b in bursts:
        mask = (t >= b.start_ns) & (t < b.end_ns)
        masks.append(mask)
        in_any |= mask
    outside = ~in_any
    n_out = int(outside.sum())
    out_incl = _counts(samples, outside, leaf=False)
    out_leaf = _counts(samples, outside, leaf=True)
    result: list[BurstAttribution] = []
    for b, mask in zip(bursts, masks, strict=True):
        n_in = int(mask.sum())
        if n_in == 0:
            result.append(BurstAttribution(b, 0, [], []))
            continue
        result.append(BurstAttribution(
            b, n_in,
            _scores(_counts(samples, mask, leaf=False), n_in, out_incl, n_out, top),
            _scores(_counts(samples, mask, leaf=True), n_in, out_leaf, n_out, top),
        ))
    return result
