"""perf.data → ``perf script`` text, through the installed ``perf`` (never a shell).

We ask for explicit fields so the text does not depend on perf's per-version defaults, and
nanosecond times (``--ns``) so no precision is lost. The header (``--header-only``) tells the
clock the recording used.
"""

from __future__ import annotations

import mmap
import os
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass

from ..clock import ClockDomain
from ..errors import InputError, ToolError

PERF_MAGIC = b"PERFILE2"
_EVENT_LINE = re.compile(r"^# event : name = ([^,]*),.*?sample_type = ([A-Z_|]+)", re.MULTILINE)
_IGNORED_STDERR = re.compile(r"^'trace' not valid for .* events\. Ignoring\.$")
_FAILED_AT = re.compile(r"^(0x[0-9a-fA-F]+) \[(?:0x)?[0-9a-fA-F]+\]: failed to process")
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


_FILE_HEADER = struct.Struct("<8sQQ" + "QQ" * 3)


def check_file_header(data: bytes | mmap.mmap, source: str) -> None:
    """Catch truncated or damaged perf.data before perf does, with a precise message.

    perf's file header gives the offset and size of the attribute and data sections; a file
    cut short (perf killed, half-copied) ends before the data section does, and perf then
    reports confusing follow-on errors or silently stops early.
    """
    if len(data) < 104:  # magic, sizes, three sections, feature bitmap
        raise InputError(f"truncated perf.data: {len(data)} bytes, shorter than its header",
                         source, offset=len(data))
    _, header_size, attr_size, attr_off, attr_len, data_off, data_len, _, _ = \
        _FILE_HEADER.unpack_from(data)
    if header_size != 104:
        raise InputError(f"perf.data header of {header_size} bytes: not a format this perf "
                         "reads (written by a much newer or older perf?)", source, offset=8)
    if attr_size == 0 or attr_len % attr_size or attr_off + attr_len > len(data):
        raise InputError("damaged perf.data: event attribute section out of bounds", source,
                         offset=attr_off)
    if data_off + data_len > len(data):
        raise InputError(
            f"truncated perf.data: its data section ends at byte {data_off + data_len} but the "
            f"file has {len(data)} bytes (perf killed, or copied half-way?)", source,
            offset=len(data))


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
        if proc.returncode < 0:
            detail = f"perf died of signal {-proc.returncode}" + (f" ({detail})" if lines else "")
        if "incompatible file format" in detail:
            detail += " (recorded by a newer perf than this one?)"
        at = _FAILED_AT.match(detail)  # perf names the file offset of the event it choked on
        raise InputError(f"perf could not read this perf.data: {detail}", source,
                         offset=int(at[1], 16) if at else None)
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
    if not types and "# event :" not in text:
        types = (frozenset({"TID", "TIME", "IP"}),)  # perf printed no event list: ask little
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
