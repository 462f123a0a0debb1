"""Checks a speedscope document: speedscope's JSON schema, then what the schema cannot see.

The schema accepts files speedscope cannot draw (a close event for a frame that is not on top,
events out of order, frame indices out of range), so the semantic checker walks every profile.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from .errors import Damon2SpeedscopeError

SCHEMA_FILE = "speedscope-file-format-schema-1.25.0.json"


class ValidationError(Damon2SpeedscopeError):
    """Our own output broke the format: a bug, reported with the first problem found."""


@cache
def load_schema() -> dict[str, Any]:
    """speedscope's schema, packaged with the wheel (falls back to the source tree's copy)."""
    packaged = resources.files("damon2speedscope") / "schemas" / SCHEMA_FILE
    if packaged.is_file():
        text = packaged.read_text(encoding="utf-8")
    else:
        text = (Path(__file__).resolve().parent.parent / "schemas" / SCHEMA_FILE).read_text(
            encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _event_signature(event: Any) -> tuple[Any, ...]:
    if not isinstance(event, dict):
        return ("not an object", type(event).__name__)
    return tuple(sorted(
        (k, type(v).__name__, v if k == "type" else None) for k, v in event.items()
    ))


def _representative(document: Any) -> Any:
    """The document with each ``events`` array cut to one event per distinct shape.

    The schema constrains an event only through its keys, the JSON types of its values and
    the constant ``type`` ("O"/"C"), so one event of each (keys, value types, ``type``) shape
    passes or fails exactly as all of them do: millions of events validate in milliseconds.
    """
    if not isinstance(document, dict) or not isinstance(document.get("profiles"), list):
        return document
    profiles: list[Any] = []
    for profile in document["profiles"]:
        if isinstance(profile, dict) and isinstance(profile.get("events"), list):
            seen: dict[tuple[Any, ...], Any] = {}
            for event in profile["events"]:
                seen.setdefault(_event_signature(event), event)
            profile = {**profile, "events": list(seen.values())}
        profiles.append(profile)
    return {**document, "profiles": profiles}


def schema_errors(document: Any, limit: int = 5, exhaustive: bool = False) -> list[str]:
    """speedscope schema violations; ``exhaustive`` validates every event one by one."""
    validator = jsonschema.Draft7Validator(load_schema())
    out: list[str] = []
    subject = document if exhaustive else _representative(document)
    for error in validator.iter_errors(subject):
        path = "/".join(str(p) for p in error.absolute_path)
        out.append(f"schema: /{path}: {error.message[:200]}")
        if len(out) >= limit:
            break
    return out


def _nulls(value: Any, path: str, out: list[str]) -> None:
    stack = [(value, path)]
    while stack and len(out) < 5:
        item, where = stack.pop()
        if item is None:
            out.append(f"null at {where}")
        elif isinstance(item, dict):
            stack.extend((v, f"{where}/{k}") for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{where}/{i}") for i, v in enumerate(item))


def semantic_errors(document: dict[str, Any]) -> list[str]:
    """Problems speedscope would choke on or draw wrongly; empty when the file is sound."""
    out: list[str] = []
    _nulls(document, "", out)
    frames = document.get("shared", {}).get("frames", [])
    n_frames = len(frames)
    profiles = document.get("profiles", [])
    active = document.get("activeProfileIndex", 0)
    if profiles and not 0 <= active < len(profiles):
        out.append(f"activeProfileIndex {active} out of range")
    for p, profile in enumerate(profiles):
        where = f"profile {p} ({profile.get('name')!r})"
        start, end = profile.get("startValue"), profile.get("endValue")
        if start > end:
            out.append(f"{where}: startValue > endValue")
        if profile.get("type") == "evented":
            out.extend(_evented_errors(profile["events"], n_frames, start, end, where))
        else:
            samples, weights = profile.get("samples", []), profile.get("weights", [])
            if len(samples) != len(weights):
                out.append(f"{where}: {len(samples)} samples but {len(weights)} weights")
            for s in samples:
                if any(not 0 <= f < n_frames for f in s):
                    out.append(f"{where}: frame index out of range in a sample")
                    break
            if any(w < 0 for w in weights):
                out.append(f"{where}: negative weight")
        if len(out) > 20:
            break
    return out


def _evented_errors(events: list[dict[str, Any]], n_frames: int, start: float, end: float,
                    where: str) -> list[str]:
    out: list[str] = []
    stack: list[int] = []
    last = start
    for i, ev in enumerate(events):
        at, frame = ev["at"], ev["frame"]
        if not 0 <= frame < n_frames:
            return [f"{where}: event {i}: frame {frame} out of range"]
        if at < last:
            return [f"{where}: event {i}: time goes backwards ({at} < {last})"]
        if at > end:
            return [f"{where}: event {i}: after endValue"]
        last = at
        if ev["type"] == "O":
            stack.append(frame)
        else:
            if not stack or stack[-1] != frame:
                top = stack[-1] if stack else None
                return [f"{where}: event {i}: closes frame {frame} while {top} is on top"]
            stack.pop()
    if stack:
        out.append(f"{where}: {len(stack)} frames never closed")
    return out[:5]


def validate(document: dict[str, Any]) -> None:
    """Raise :class:`ValidationError` with the first problems when the file is not sound."""
    problems = schema_errors(document) + semantic_errors(document)
    if problems:
        raise ValidationError("output failed validation: " + "; ".join(problems[:5]))
