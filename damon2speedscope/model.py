"""The in-memory model every reader fills and every writer reads.

Frames and stacks are interned once; samples and DAMON regions live in numpy arrays; every
time array sits next to the :class:`ClockDomain` it was measured in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .clock import ClockDomain

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U64 = npt.NDArray[np.uint64]

TIME_LIMIT_NS = 1 << 62
"""Readers refuse timestamps at or beyond ±2^62 ns (146 years; epoch times are ~2^60.6): the
headroom keeps clock offsets and differences inside int64 arrays without overflow."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One function as the viewer shows it; ``file`` is the DSO or source file when known."""

    name: str
    file: str | None = None


class FrameTable:
    """Interns frames and root-first stacks so each is stored and written exactly once."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self._frame_index: dict[Frame, int] = {}
        self.stacks: list[tuple[int, ...]] = []
        self._stack_index: dict[tuple[int, ...], int] = {}
        # Optional: the perf script reader fills it with, for each stack, the raw callchain
        # lines it was first parsed from (root first, one per frame of the stack), so a writer
        # can reproduce another tool's text rules (writers/folded.py: stackcollapse-perf.pl).
        self.raw_stacks: list[tuple[bytes, ...]] | None = None

    def frame(self, frame: Frame) -> int:
        index = self._frame_index.get(frame)
        if index is None:
            index = len(self.frames)
            self.frames.append(frame)
            self._frame_index[frame] = index
        return index

    def stack(self, root_first: tuple[int, ...]) -> int:
        index = self._stack_index.get(root_first)
        if index is None:
            index = len(self.stacks)
            self.stacks.append(root_first)
            self._stack_index[root_first] = index
        return index


def root_first(leaf_first: list[int]) -> tuple[int, ...]:
    """The one place stacks are reversed: perf prints leaf first, the model keeps root first."""
    return tuple(reversed(leaf_first))


@dataclass(frozen=True, slots=True)
class Thread:
    """A thread as perf names it. ``pid`` is None when the text only showed the tid."""

    comm: str
    pid: int | None
    tid: int

    @property
    def label(self) -> str:
        ids = f"{self.pid}/{self.tid}" if self.pid is not None else f"{self.tid}"
        return f"{self.comm} {ids}"


@dataclass
class PerfSamples:
    """Callchain samples of one perf event, sorted by time."""

    clock: ClockDomain
    event: str
    table: FrameTable
    threads: list[Thread]
    time_ns: I64
    thread: I32
    stack: I32
    period: I64  # 0 where the text had no period column
    period_is_ns: bool  # cpu-clock / task-clock: the period is the sample's duration

    def __len__(self) -> int:
        return int(self.time_ns.shape[0])


@dataclass(frozen=True, slots=True)
class DamonTarget:
    """One monitoring target: ``kdamond``/``context`` when the source tells them apart."""

    kdamond: str
    context: int
    target_id: int

    @property
    def label(self) -> str:
        return f"{self.kdamond} ctx {self.context} target {self.target_id}"


@dataclass
class DamonRecord:
    """DAMON snapshots of one or more targets; regions in CSR layout (``region_offset``)."""

    clock: ClockDomain
    targets: list[DamonTarget]
    snapshot_target: I32
    start_ns: I64
    end_ns: I64
    region_offset: I64  # len = snapshots + 1
    region_start: U64
    region_end: U64
    nr_accesses: I32
    age: I32  # -1 where the format has no age
    sample_interval_ns: int | None = None
    aggr_interval_ns: int | None = None

    def __len__(self) -> int:
        return int(self.start_ns.shape[0])

    def shifted(self, offset_ns: int, clock: ClockDomain) -> DamonRecord:
        """The same record on another clock; only :mod:`analysis.align` calls this."""
        return DamonRecord(
            clock=clock,
            targets=self.targets,
            snapshot_target=self.snapshot_target,
            start_ns=self.start_ns + np.int64(offset_ns),
            end_ns=self.end_ns + np.int64(offset_ns),
            region_offset=self.region_offset,
            region_start=self.region_start,
            region_end=self.region_end,
            nr_accesses=self.nr_accesses,
            age=self.age,
            sample_interval_ns=self.sample_interval_ns,
            aggr_interval_ns=self.aggr_interval_ns,
        )


@dataclass
class SkipCounter:
    """Everything a reader passed over, by reason: reported, never silently dropped."""

    counts: dict[str, int] = field(default_factory=dict)
    first_at: dict[str, str] = field(default_factory=dict)

    def add(self, reason: str, where: str, n: int = 1) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + n
        self.first_at.setdefault(reason, where)

    def merge(self, other: SkipCounter) -> None:
        for reason, n in other.counts.items():
            self.add(reason, other.first_at[reason], n)

    def __bool__(self) -> bool:
        return bool(self.counts)
