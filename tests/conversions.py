"""Helpers for tests: run conversions on files, check outputs, replay evented profiles."""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

import orjson
from speedscope_importer import import_with_speedscope

from damon2speedscope import Conversion, ConvertOptions, InputBytes, convert
from damon2speedscope.readers import ReadOptions
from damon2speedscope.validate import schema_errors, semantic_errors


def convert_files(*paths: Path | str, buildid_dir: str | None = None,
                  **options: Any) -> Conversion:
    inputs = [InputBytes(str(p), Path(p).read_bytes(), str(p)) for p in paths]
    read = ReadOptions(buildid_dir=buildid_dir, **options.pop("read", {}))
    return convert(inputs, ConvertOptions(read=read, **options))


def check_document(document: dict[str, Any], tmp_path: Path, name: str = "out") -> dict[str, Any]:
    """Schema, semantic checker AND speedscope's own importer; returns the importer's view."""
    assert schema_errors(document) == []
    assert semantic_errors(document) == []
    path = tmp_path / f"{name}.speedscope.json"
    path.write_bytes(orjson.dumps(document))
    (result,) = import_with_speedscope(path, frame_names=True)
    assert result["ok"], result
    assert len(result["profiles"]) == len(document["profiles"])
    return dict(result)


class Replay:
    """The stack open at any instant of one evented profile, by frame name (root first)."""

    def __init__(self, document: dict[str, Any], profile: dict[str, Any]) -> None:
        names = [f["name"] for f in document["shared"]["frames"]]
        self.times: list[int] = []
        self.stacks: list[tuple[str, ...]] = []
        stack: list[str] = []
        for event in profile["events"]:
            if event["type"] == "O":
                stack.append(names[event["frame"]])
            else:
                assert stack and stack[-1] == names[event["frame"]]
                stack.pop()
            if self.times and self.times[-1] == event["at"]:
                self.stacks[-1] = tuple(stack)
            else:
                self.times.append(event["at"])
                self.stacks.append(tuple(stack))

    def at(self, t: int) -> tuple[str, ...]:
        i = bisect.bisect_right(self.times, t) - 1
        return self.stacks[i] if i >= 0 else ()


def profile_named(document: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [p for p in document["profiles"] if p["name"] == name]
    assert len(matches) == 1, [p["name"] for p in document["profiles"]]
    profile: dict[str, Any] = matches[0]
    return profile


def damo_reference_wss(path: Path) -> list[int]:
    """``damo report wss --all_wss --sortby time --raw_number`` output: WSS per snapshot."""
    values: list[int] = []
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        _, wss = line.split()
        values.append(int(wss))
    return values
