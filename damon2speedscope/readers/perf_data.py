"""perf.data → ``perf script`` text, through the installed ``perf`` (never a shell).

We ask for explicit fields so the text does not depend on perf's per-version defaults, and
nanosecond times (``--ns``) so no precision is lost. The header (``--header-only``) tells the
clock the recording used.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from ..clock import ClockDomain
from ..errors import InputError, ToolError

PERF_MAGIC = b"PERFILE2"
_EVENT_LINE = re.compile(r"^# event : name = ([^,]*),.*?sample_type = ([A-Z_|]+)", re.MULTILINE)
_IGNORED_STDERR = re.compile(r"^'trace' not valid for .* events\. Ignoring\.$")
_CLOCKID = re.compile(r"^# clockid: (\S+)", re.MULTILINE)
_REFERENCE = re.compile(
    r"^# reference time: .* = (\d+)\.(\d+) \(TOD\) = (\d+)\.(\d+) \((\w+)\)", re.MULTILINE
)
_CLOCK_NAMES = {
    "monotonic": ClockDomain.MONOTONIC,
    "realtime": ClockDomain.WALL,
    "monotonic_coarse": ClockDomain.MONOTONIC_COARSE,
}


@dataclass(frozen=True)
class PerfDataHeader:
    """Clock facts a perf.data carries."""

    clock: ClockDomain
    clock_name: str
    reference_wall_ns: int | None = None
    reference_clock_ns: int | None = None
    sample_types: tuple[frozenset[str], ...] = ()

    def script_fields(self) -> str:
        """``perf script -F`` fields every sampling event has: perf refuses a missing one."""
        common = frozenset.intersection(*self.sample_types) if self.sample_types else frozenset(
            {"TID", "TIME", "IP", "CPU", "PERIOD"})
        fields = ["comm", "pid", "tid"]
        if "CPU" in common:
            fields.append("cpu")
        if "TIME" in common:
            fields.append("time")
        if "PERIOD" in common:
            fields.append("period")
        fields += ["event", "ip", "sym", "symoff", "dso", "trace"]
        return ",".join(fields)


@dataclass(frozen=True)
class PerfScriptOutput:
    text: bytes
    warnings: list[str]


def find_perf(perf: str | None = None) -> str:
    exe = shutil.which(perf or os.environ.get("DAMON2SPEEDSCOPE_PERF", "perf"))
    if exe is None:
        raise ToolError(
            "'perf' not found on PATH: reading perf.data needs perf (Debian/Ubuntu: "
            "apt-get install linux-perf); or pass `perf script` text instead"
        )
    return exe


def _run(args: list[str], source: str, buildid_dir: str | None) -> tuple[bytes, str]:
    env = dict(os.environ)
    env.setdefault("PAGER", "cat")
    cmd = list(args)
    if buildid_dir is not None:
        cmd[1:1] = ["--buildid-dir", buildid_dir]
    try:
        proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
    except OSError as exc:
        raise ToolError(f"cannot run {cmd[0]}: {exc}") from exc
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        lines = [ln for ln in stderr.splitlines() if ln.strip() and not _IGNORED_STDERR.match(ln)]
        detail = lines[-1] if lines else f"exit status {proc.returncode}"
        raise InputError(f"perf could not read this perf.data: {detail}", source)
    return proc.stdout, stderr


def read_header(path: str, source: str, perf: str | None = None) -> PerfDataHeader:
    exe = find_perf(perf)
    out, _ = _run([exe, "script", "--header-only", "-i", path], source, None)
    text = out.decode("utf-8", "replace")
    return parse_header(text)


def parse_header(text: str) -> PerfDataHeader:
    """The clock of a recording from ``perf script --header-only`` text."""
    clock = ClockDomain.PERF
    name = "perf (local_clock)"
    m = _CLOCKID.search(text)
    if m is not None:
        name = m[1]
        mapped = _CLOCK_NAMES.get(name)
        if mapped is None:
            raise ToolError(f"perf.data uses clock {name!r}, which damon2speedscope cannot align")
        clock = mapped
    types = tuple(
        frozenset(m[2].split("|")) for m in _EVENT_LINE.finditer(text)
        if not m[1].strip().startswith("dummy")
    )
    ref = _REFERENCE.search(text)
    if ref is None:
        return PerfDataHeader(clock, name, sample_types=types)
    wall = int(ref[1]) * 1_000_000_000 + int(ref[2].ljust(9, "0")[:9])
    mono = int(ref[3]) * 1_000_000_000 + int(ref[4].ljust(9, "0")[:9])
    return PerfDataHeader(clock, name, wall, mono, types)


def run_perf_script(
    path: str,
    source: str,
    header: PerfDataHeader,
    perf: str | None = None,
    buildid_dir: str | None = None,
) -> PerfScriptOutput:
    """Run ``perf script`` with explicit fields; perf's own warnings come back as text."""
    exe = find_perf(perf)
    out, stderr = _run(
        [exe, "script", "-i", path, "--ns", "-F", header.script_fields()], source, buildid_dir
    )
    warnings = [
        ln.strip() for ln in stderr.splitlines()
        if ln.strip() and not _IGNORED_STDERR.match(ln.strip())
    ]
    return PerfScriptOutput(out, warnings)
