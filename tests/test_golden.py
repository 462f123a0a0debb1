"""Golden outputs of the bundled real recordings.

A change in output fails with a readable diff (summary JSON lines, or the speedscope file
rendered as one line per frame and event). ``pytest --update-golden`` (or UPDATE_GOLDEN=1)
rewrites the files after a deliberate change; review the git diff before committing.
"""

from __future__ import annotations

import difflib
from typing import Any

import orjson
import pytest
from conftest import GOLDEN

from damon2speedscope import ConvertOptions, InputBytes, convert

CASES = {
    "fftlike": ("damon.json_compressed", "perf.script.txt"),
    "mtphases": ("damon.perf_script.txt", "perf.script.txt"),
}
MAX_DIFF_LINES = 60


def render(document: dict[str, Any]) -> list[str]:
    """The speedscope file as text a person can diff."""
    names = [f["name"] + (f"  ({f['file']})" if "file" in f else "")
             for f in document["shared"]["frames"]]
    lines = [f"name {document['name']}", f"exporter {document['exporter']}",
             f"activeProfileIndex {document['activeProfileIndex']}"]
    lines += [f"frame {i} {n}" for i, n in enumerate(names)]
    for p in document["profiles"]:
        lines.append(f"profile {p['name']} [{p['startValue']}, {p['endValue']}] {p['unit']}")
        if p["type"] == "evented":
            lines += [f"  {e['at']} {e['type']} {names[e['frame']]}" for e in p["events"]]
        else:
            lines += [f"  {w} " + ";".join(names[f] for f in stack)
                      for stack, w in zip(p["samples"], p["weights"], strict=True)]
    return lines


def _compare(expected: list[str], actual: list[str], what: str) -> None:
    if expected == actual:
        return
    diff = list(difflib.unified_diff(expected, actual, f"golden {what}", f"current {what}",
                                     lineterm="", n=2))
    more = f"\n... {len(diff) - MAX_DIFF_LINES} more diff lines" if len(
        diff) > MAX_DIFF_LINES else ""
    pytest.fail(f"{what} differs from golden (pytest --update-golden to accept):\n"
                + "\n".join(diff[:MAX_DIFF_LINES]) + more, pytrace=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, update_golden: bool) -> None:
    folder = GOLDEN / case
    damon, perf = CASES[case]
    # sources named relative to the repository, so the golden files do not depend on where
    # the clone lives
    inputs = [InputBytes(f"golden/{case}/{n}", (folder / n).read_bytes()) for n in (damon, perf)]
    conv = convert(inputs, ConvertOptions(name=case))
    document = orjson.dumps(conv.document)
    summary = orjson.dumps(conv.summary, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    doc_path = folder / "expected.speedscope.json"
    summary_path = folder / "expected.summary.json"
    if update_golden:
        doc_path.write_bytes(document)
        summary_path.write_bytes(summary + b"\n")
        return
    _compare(summary_path.read_text().splitlines(), (summary + b"\n").decode().splitlines(),
             f"{case}/expected.summary.json")
    expected_doc = orjson.loads(doc_path.read_bytes())
    _compare(render(expected_doc), render(conv.document), f"{case}/expected.speedscope.json")
    assert document == doc_path.read_bytes()  # and byte for byte


def test_golden_diff_is_readable() -> None:
    """A changed frame shows as a - / + pair naming the frame, not as a blob."""
    folder = GOLDEN / "fftlike"
    doc = orjson.loads((folder / "expected.speedscope.json").read_bytes())
    before = render(doc)
    doc["shared"]["frames"][0]["name"] = "renamed"
    with pytest.raises(pytest.fail.Exception) as info:
        _compare(before, render(doc), "x")
    text = str(info.value)
    assert "-frame 0 " in text and "+frame 0 renamed" in text
    assert len(text.splitlines()) <= MAX_DIFF_LINES + 3
