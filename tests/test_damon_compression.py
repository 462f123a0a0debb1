"""Compressed inputs read transparently (magic → decompress → detect again), bombs refused."""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from test_damon_formats import EXPECTED, FORMATS, load, snaps, without_age

from damon2speedscope.errors import InputError
from damon2speedscope.readers import InputKind, compression
from damon2speedscope.readers.detect import detect

TRACE_CMD = Path(__file__).resolve().parent / "data" / "damon" / "trace_cmd"
GOLDEN = Path(__file__).resolve().parent.parent / "golden"

CODECS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress, "xz": lzma.compress, "bzip2": bz2.compress, "zlib": zlib.compress,
}
INNER = {
    "damo-3.4.3.json": (InputKind.DAMO_JSON, EXPECTED),
    "damo-3.4.3.perf_script": (InputKind.PERF_SCRIPT, EXPECTED),
    "damo-v2.0.1.record": (InputKind.DAMON_RECFMT, without_age(EXPECTED)),
}


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("name", sorted(INNER))
def test_compressed_inputs_are_read_transparently(codec: str, name: str) -> None:
    kind, expected = INNER[name]
    packed = CODECS[codec]((FORMATS / name).read_bytes())
    assert compression.sniff(packed) == codec
    loaded = load(packed)
    assert snaps(loaded.damon) == expected  # type: ignore[arg-type]
    assert loaded.compression == codec
    if codec == "zlib" and kind is InputKind.DAMO_JSON:
        assert loaded.kind is InputKind.DAMO_JSON_COMPRESSED  # damo's json_compressed
    else:
        assert loaded.kind is kind


def test_trace_cmd_and_nested_layers() -> None:
    text = (TRACE_CMD / "report.flags.txt").read_bytes()
    loaded = load(gzip.compress(lzma.compress(text)))
    assert loaded.kind is InputKind.TRACE_CMD and loaded.compression == "gzip+xz"
    assert snaps(loaded.damon) == EXPECTED  # type: ignore[arg-type]
    doc = (FORMATS / "damo-3.4.3.json_compressed").read_bytes()  # zlib inside bzip2
    nested = load(bz2.compress(doc))
    assert nested.compression == "bzip2+zlib" and snaps(nested.damon) == EXPECTED  # type: ignore


def test_multi_member_files_and_zero_padding() -> None:
    doc = (FORMATS / "damo-3.4.3.json").read_bytes()
    half = len(doc) // 2
    for codec in ("gzip", "xz", "bzip2"):
        compress = CODECS[codec]
        joined = compress(doc[:half]) + compress(doc[half:]) + b"\x00" * 8
        assert snaps(load(joined).damon) == EXPECTED  # type: ignore[arg-type]


@pytest.mark.parametrize("codec", ["gzip", "xz", "bzip2", "zlib"])
def test_truncated_and_corrupt_and_trailing_garbage(codec: str) -> None:
    packed = CODECS[codec]((FORMATS / "damo-3.4.3.perf_script").read_bytes())
    with pytest.raises(InputError, match=f"truncated {codec} data") as err:
        load(packed[:-9])
    assert err.value.offset == len(packed) - 9
    corrupt = bytearray(packed)
    corrupt[len(corrupt) // 2: len(corrupt) // 2 + 40] = b"\xa5" * 40
    with pytest.raises(InputError, match=f"(corrupt|truncated) {codec} data"):
        load(bytes(corrupt))
    if codec != "zlib":  # zlib.decompress (so damo) ignores trailing bytes; so do we
        with pytest.raises(InputError, match="unexpected bytes after the end") as err:
            load(packed + b"junk")
        assert err.value.offset == len(packed)


def test_zstd_only_where_the_stdlib_has_it() -> None:
    frame = bytes.fromhex("28b52ffd") + b"\x00" * 12
    assert detect(frame, "x") is InputKind.ZSTD
    if compression.zstd_available():  # Python 3.14+
        module = compression._zstd_module()
        packed = module.compress((FORMATS / "damo-3.4.3.json").read_bytes())
        assert snaps(load(packed).damon) == EXPECTED  # type: ignore[arg-type]
    else:
        with pytest.raises(InputError, match=r"zstd -d"):
            load(frame)


def test_bomb_refused_with_the_real_limits() -> None:
    """1.5 KiB of bzip2 streams expanding to 1.25 GiB of zeros: refused once past 1 GiB."""
    bomb = bz2.compress(b"\x00" * (64 << 20)) * 20
    assert len(bomb) < 2048
    produced = 0
    with pytest.raises(InputError, match="decompression bomb") as err:
        for chunk in compression.iter_decompress(bomb, "bzip2", "bomb"):
            produced += len(chunk)
            assert len(chunk) <= compression.CHUNK
    assert produced == compression.MAX_OUTPUT_BYTES  # stopped at the limit, not after
    assert err.value.offset == 0


def test_limits_need_both_ratio_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "MAX_OUTPUT_BYTES", 4096)
    monkeypatch.setattr(compression, "CHUNK", 1024)
    text = (FORMATS / "perf_script.no_age.30snapshots.txt").read_bytes()  # 10,950 bytes
    packed = gzip.compress(text)
    assert len(text) > 4096 and len(text) < 100 * len(packed)
    assert len(load(packed).damon) == 60  # type: ignore[arg-type]  # big, but ratio < 100
    bomb = gzip.compress(b" " * (1 << 20))
    assert len(bomb) * 100 < (1 << 20)
    with pytest.raises(InputError, match="decompression bomb"):
        load(bomb)
    monkeypatch.setattr(compression, "MAX_OUTPUT_BYTES", 2 << 20)
    blank = load(bomb)  # within 2 MiB: read (it is just blank text), not refused as a bomb
    assert blank.kind is InputKind.PERF_SCRIPT and blank.damon is None


def test_nested_layers_count_against_the_original_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "MAX_OUTPUT_BYTES", 64 << 10)
    inner = gzip.compress(b"[" + b" " * (1 << 20) + b"]")  # ~1 KiB
    outer = gzip.compress(inner)
    with pytest.raises(InputError, match="decompression bomb"):
        load(outer)


def test_text_starting_like_zlib_is_not_zlib() -> None:
    text = b"x^ not compressed\n"
    assert compression.is_zlib(text)
    assert compression.sniff(text) is None
    assert detect(text, "x") is InputKind.PERF_SCRIPT


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf is needed to read perf.data")
def test_compressed_perf_data_goes_to_perf() -> None:
    raw = (GOLDEN / "fftlike" / "damon.perf.data").read_bytes()
    loaded = load(gzip.compress(raw, 1))
    assert loaded.kind is InputKind.PERF_DATA and loaded.compression == "gzip"
    assert snaps(loaded.damon) == snaps(load(raw).damon)  # type: ignore[arg-type]
