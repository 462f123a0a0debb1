"""The command line as users and CI pipelines meet it: exit codes, messages, files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import GOLDEN

from damon2speedscope.cli import main

FFT = GOLDEN / "fftlike"
DAMON = str(FFT / "damon.json_compressed")
PERF = str(FFT / "perf.script.txt")


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "damon2speedscope", *args], input=stdin,
                          capture_output=True, check=False, timeout=300)


def test_main_writes_output_and_summary(tmp_path: Path) -> None:
    out, summary = tmp_path / "out.json", tmp_path / "summary.json"
    assert main([DAMON, PERF, "-o", str(out), "--summary", str(summary), "--validate"]) == 0
    doc = orjson.loads(out.read_bytes())
    assert doc["exporter"].startswith("damon2speedscope@")
    s = orjson.loads(summary.read_bytes())
    assert set(s) >= {"snapshots", "bursts", "threads", "clock", "skipped"}
    assert len(s["snapshots"]) == 14 and len(s["bursts"]) == 3
    assert s["threads"] == [{"comm": "fftlike", "tid": 11464, "samples": 15232}]
    assert s["clock"] == "perf"
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_stdout_and_stdin(tmp_path: Path) -> None:
    via_file = tmp_path / "a.json"
    assert main([DAMON, PERF, "-o", str(via_file)]) == 0
    proc = run_cli(DAMON, "-", stdin=Path(PERF).read_bytes())
    assert proc.returncode == 0, proc.stderr
    piped = orjson.loads(proc.stdout)
    expected = orjson.loads(via_file.read_bytes())
    assert piped["profiles"] == expected["profiles"]
    assert piped["name"] == f"{DAMON} + <stdin>"


def test_python_dash_m_and_console_script_agree() -> None:
    exe = Path(sys.executable).with_name("damon2speedscope")
    assert exe.exists()
    a = subprocess.run([str(exe), "--version"], capture_output=True, check=True).stdout
    assert a == run_cli("--version").stdout and a.startswith(b"damon2speedscope ")


@pytest.mark.parametrize("args, message", [
    ([], b"the following arguments are required"),
    ([DAMON, PERF, PERF], b"at most two inputs"),
    ([DAMON, "--burst-enter", "2"], b"--burst-enter must be between 0 and 1"),
    ([DAMON, "--damon-offset", "soon"], b"bad duration 'soon'"),
    ([DAMON, "--no-such-flag"], b"unrecognized arguments"),
    (["-", "-"], b"only one input can be read from stdin"),
])
def test_usage_errors_exit_2(args: list[str], message: bytes) -> None:
    proc = run_cli(*args, stdin=b"")
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stderr.startswith(b"damon2speedscope: error: ")
    assert b"Traceback" not in proc.stderr


def test_bad_input_is_one_line_exit_1_and_no_output_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.data"
    empty.write_bytes(b"")
    out = tmp_path / "out.json"
    proc = run_cli(str(empty), PERF, "-o", str(out))
    assert proc.returncode == 1
    assert proc.stderr == f"damon2speedscope: error: {empty}: empty input\n".encode()
    assert not out.exists() and list(tmp_path.iterdir()) == [empty]


def test_failure_leaves_an_existing_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_bytes(b"previous")
    missing = tmp_path / "missing.data"
    proc = run_cli(str(missing), PERF, "-o", str(out))
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"damon2speedscope: error: {missing}: cannot read".encode())
    assert out.read_bytes() == b"previous"


def test_refuses_to_overwrite_an_input(tmp_path: Path) -> None:
    copy = tmp_path / "perf.txt"
    copy.write_bytes(Path(PERF).read_bytes())
    proc = run_cli(DAMON, str(copy), "-o", str(copy))
    assert proc.returncode == 2 and b"refusing to overwrite input" in proc.stderr
    assert copy.read_bytes() == Path(PERF).read_bytes()


def test_directory_input_is_an_error(tmp_path: Path) -> None:
    proc = run_cli(str(tmp_path), PERF)
    assert proc.returncode == 1
    assert proc.stderr == f"damon2speedscope: error: {tmp_path}: is a directory, not a " \
        "recording\n".encode()


def test_skips_are_reported_and_strict_makes_them_fatal(tmp_path: Path) -> None:
    damon = GOLDEN / "mtphases" / "damon.perf_script.txt"
    perf = GOLDEN / "mtphases" / "perf.script.txt"
    proc = run_cli(str(damon), str(perf), "-o", str(tmp_path / "a.json"))
    assert proc.returncode == 0
    assert b"warning: skipped 1: 1 duplicate DAMON event (first at " in proc.stderr
    proc = run_cli(str(damon), str(perf), "--strict", "-o", str(tmp_path / "b.json"))
    assert proc.returncode == 1
    assert b"--strict: skipped 1: 1 duplicate DAMON event" in proc.stderr
    assert not (tmp_path / "b.json").exists()


def test_perf_missing_is_a_clear_error(tmp_path: Path) -> None:
    proc = run_cli(str(FFT / "perf.data"), DAMON, "--perf", "no-such-perf-binary")
    assert proc.returncode == 1
    assert b"'perf' not found on PATH" in proc.stderr


def test_damon_offset_shifts_damon_times(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main([DAMON, PERF, "-o", str(tmp_path / "x"), "--summary", str(a)]) == 0
    assert main([DAMON, PERF, "-o", str(tmp_path / "y"), "--summary", str(b),
                 "--damon-offset", "-1.5ms"]) == 0
    sa, sb = orjson.loads(a.read_bytes()), orjson.loads(b.read_bytes())
    assert [s["end_ns"] - 1_500_000 for s in sa["snapshots"]] == [
        s["end_ns"] for s in sb["snapshots"]]
    assert sb["alignment"]["offset_ns"] == -1_500_000


def test_output_to_a_device_is_written_in_place_not_replaced() -> None:
    """-o /dev/null must not rename a temp file over the device (as root that would work)."""
    before = os.stat("/dev/null")
    assert main([DAMON, PERF, "-o", "/dev/null"]) == 0
    after = os.stat("/dev/null")
    assert (after.st_ino, after.st_rdev, after.st_mode) == (before.st_ino, before.st_rdev,
                                                            before.st_mode)
    import stat
    assert stat.S_ISCHR(after.st_mode)


def test_format_collapsed_puts_the_burst_after_the_comm() -> None:
    proc = run_cli(DAMON, PERF, "--format", "collapsed")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    counts: dict[str, int] = {}
    for line in lines:
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        assert frames[0] == "fftlike"
        counts[frames[1]] = counts.get(frames[1], 0) + int(count)
    assert sum(counts.values()) == 15232
    assert sum(1 for k in counts if k.startswith("[memory burst ")) == 3
    assert lines == sorted(lines)


def test_format_folded_without_damon_matches_stackcollapse_rules(tmp_path: Path) -> None:
    out = tmp_path / "out.folded"
    assert main([PERF, "--format", "folded", "--folded-annotate", "kernel", "-o", str(out)]) == 0
    text = out.read_text()
    assert "fftlike;__libc_start_call_main;__memset_avx512_unaligned_erms;asm_exc_page_fault_[k]" \
        in text
    assert "[memory burst" not in text
    assert run_cli(DAMON, "--format", "folded").returncode == 2  # no perf samples


# -- perf archive: symbols for a perf.data recorded on another machine -----------------------

def _functions(out: Path) -> set[str]:
    return {f["name"] for f in orjson.loads(out.read_bytes())["shared"]["frames"]}


def test_perf_archive_beside_perf_data_is_used(tmp_path: Path,
                                               buildid_dirs: dict[str, str]) -> None:
    """fftlike's binary is not on this machine: without its perf archive perf names no
    function of it; the archive next to perf.data (as ``perf archive`` leaves it), or given as
    --buildid-dir, gives the same file as the unpacked folder."""
    pair = [str(FFT / "damon.perf.data"), str(FFT / "perf.data")]
    folder, beside, given = (tmp_path / n for n in ("folder.json", "beside.json", "given.json"))
    assert main([*pair, "--buildid-dir", buildid_dirs["fftlike"], "-o", str(folder)]) == 0
    assert {"butterfly", "Transpose"} <= _functions(folder)
    proc = run_cli(*pair, "-o", str(beside))
    assert proc.returncode == 0, proc.stderr
    assert (b"damon2speedscope: symbolizing with the perf archive "
            + str(FFT / "perf.data.tar.bz2").encode()) in proc.stderr
    assert beside.read_bytes() == folder.read_bytes()
    assert main([*pair, "--buildid-dir", str(FFT / "perf.data.tar.bz2"), "-o", str(given)]) == 0
    assert given.read_bytes() == folder.read_bytes()
    # the recording alone, copied where there is no archive: perf cannot name fftlike's code
    alone = tmp_path / "perf.data"
    alone.write_bytes((FFT / "perf.data").read_bytes())
    bare = tmp_path / "bare.json"
    proc = run_cli(pair[0], str(alone), "-o", str(bare))
    assert proc.returncode == 0, proc.stderr
    assert not {"butterfly", "Transpose"} & _functions(bare)
    assert (f"damon2speedscope: warning: {alone}: 100% of the samples end in an [unknown] "
            "function (in /opt/app/fftlike, [kernel.kallsyms]): perf had no symbols for them; "
            "convert where the program was recorded, or give its perf archive (--buildid-dir)\n"
            ).encode() in proc.stderr
    assert b"[unknown]" not in run_cli(*pair, "-o", str(beside)).stderr


def _tar(path: Path, *members: tuple[str, bytes | str | None]) -> Path:
    """A tar.bz2 of (name, bytes: a file | str: a symlink to it | None: a fifo)."""
    import io
    import tarfile

    with tarfile.open(path, "w:bz2") as tar:
        for name, what in members:
            info = tarfile.TarInfo(name)
            if isinstance(what, bytes):
                info.size = len(what)
                tar.addfile(info, io.BytesIO(what))
            elif isinstance(what, str):
                info.type, info.linkname = tarfile.SYMTYPE, what
                tar.addfile(info)
            else:
                info.type = tarfile.FIFOTYPE
                tar.addfile(info)
    return path


@pytest.mark.parametrize(("members", "reason"), [
    ([("../escaped", b"x")], "perf archive member '../escaped' would land outside its folder"),
    ([("/tmp/escaped", b"x")], "perf archive member '/tmp/escaped' would land outside its "
                               "folder"),
    ([(".build-id/ab/cd", "/etc/passwd")], "perf archive link '.build-id/ab/cd' points outside "
                                           "its folder"),
    ([("up", "../.."), ("up/escaped", b"x")], "perf archive link 'up' points outside its "
                                              "folder"),
    ([("dir", "."), ("dir/escaped", b"x")], "perf archive member 'dir/escaped' lies under the "
                                             "link 'dir'"),
    ([("pipe", None)], "perf archive member 'pipe' is neither a file, a folder nor a link"),
])
def test_hostile_perf_archive_is_refused(tmp_path: Path, members: list[tuple[str, Any]],
                                         reason: str) -> None:
    archive = _tar(tmp_path / "evil.tar.bz2", *members)
    out = tmp_path / "out.json"
    proc = run_cli(str(FFT / "damon.perf.data"), str(FFT / "perf.data"),
                   "--buildid-dir", str(archive), "-o", str(out))
    assert proc.stderr.decode() == f"damon2speedscope: error: {archive}: {reason}\n"
    assert proc.returncode == 1
    assert not out.exists() and not (tmp_path / "escaped").exists()


def test_corrupt_perf_archive_is_an_error(tmp_path: Path) -> None:
    archive = tmp_path / "perf.data.tar.bz2"
    archive.write_bytes((FFT / "perf.data.tar.bz2").read_bytes()[:5000])
    (tmp_path / "perf.data").write_bytes((FFT / "perf.data").read_bytes())
    proc = run_cli(str(FFT / "damon.perf.data"), str(tmp_path / "perf.data"))
    assert proc.returncode == 1
    last = proc.stderr.decode().splitlines()[-1]
    assert last.startswith(f"damon2speedscope: error: {archive}: "), last


@pytest.mark.parametrize("after", ["write", "commit"])
def test_interrupt_just_after_a_staged_step_leaves_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: str) -> None:
    """Ctrl-C landing right after an output's temp file is written (or one output is
    renamed) but before the next step: the clean-up knows every temp file, so none is left
    (before the fix, a signal between writing the temp file and listing it leaked the file,
    once in the suite's real-SIGINT test). Real signals are also held while the outputs are
    renamed, so -o and --summary appear together; this raises past that on purpose."""
    from damon2speedscope import cli

    original = getattr(cli._Staged, after)

    def then_interrupted(self: Any, *args: Any) -> None:
        original(self, *args)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli._Staged, after, then_interrupted)
    out, summary = tmp_path / "out.json", tmp_path / "s.json"
    with pytest.raises(KeyboardInterrupt):
        cli.run([DAMON, PERF, "-o", str(out), "--summary", str(summary)], sys.stdin.buffer,
                sys.stdout.buffer)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert not [name for name in left if name.endswith(".tmp")], left
    if after == "write":
        assert left == []
