"""damo's ``.vmas`` side file: the memory mappings of each monitored process.

``damo record`` writes ``<record>.vmas`` next to a virtual-address record: a list of
``{"time", "procvmas": [{"pid", "vmas": [{"start", "end", "name"}]}]}`` snapshots. We keep the
LAST snapshot of each pid (mappings only grow more complete as a program runs) so hot address
ranges can be named after the file they map (``libc.so.6``) or ``[anon]``.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import InputError


@dataclass(frozen=True)
class Mappings:
    """One process's mappings, sorted by start, for lookups by address."""

    pid: int
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    names: tuple[str, ...]

    def name_at(self, address: int) -> str | None:
        i = bisect.bisect_right(self.starts, address) - 1
        if i >= 0 and address < self.ends[i]:
            return self.names[i]
        return None


def _int(value: Any, what: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InputError(f".vmas: {what} is not a number: {value!r}", source)
    try:
        return int(str(value).replace(",", ""))
    except ValueError:
        raise InputError(f".vmas: {what} is not a number: {value!r}", source) from None


def parse_vmas(data: bytes, source: str) -> list[Mappings]:
    """Per pid, in first-seen order: the mappings of its last snapshot in the file."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f".vmas side file is not valid JSON: {exc}", source) from None
    if not isinstance(doc, list):
        raise InputError(".vmas side file: expected a list of snapshots", source)
    latest: dict[int, list[tuple[int, int, str]]] = {}
    for snapshot in doc:
        procs = snapshot.get("procvmas") if isinstance(snapshot, dict) else None
        if not isinstance(procs, list):
            raise InputError(".vmas side file: snapshot without 'procvmas'", source)
        for proc in procs:
            if not isinstance(proc, dict) or not isinstance(proc.get("vmas"), list):
                raise InputError(".vmas side file: process without 'vmas'", source)
            pid = _int(proc.get("pid"), "pid", source)
            rows = []
            for vma in proc["vmas"]:
                if not isinstance(vma, dict):
                    raise InputError(".vmas side file: mapping is not an object", source)
                name = vma.get("name")
                label = os.path.basename(name) if isinstance(name, str) and name else "[anon]"
                if isinstance(name, str) and name.startswith("["):
                    label = name
                rows.append((_int(vma.get("start"), "start", source),
                             _int(vma.get("end"), "end", source), label))
            latest[pid] = sorted(rows)
    return [Mappings(pid, tuple(r[0] for r in rows), tuple(r[1] for r in rows),
                     tuple(r[2] for r in rows)) for pid, rows in latest.items()]
