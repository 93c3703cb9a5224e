"""Hypothesis fuzzing of the HotSpot readers: any bytes give a result or one FormatError that
names the file (and a line when one is at fault) — never another exception."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flow.errors import FormatError
from flow.formats.hotspot import read_config, read_flp, read_ptrace, read_temperature_file

TOKENS = st.sampled_from(["a", "b", "-k_chip", "1e-3", "0", "-1", "nan", "inf", "1e400", "x", "#", "\t", " ",
                          "\n", "0.5e-3", "\xff", "\x00", "iface_a", "inode_3", "hsp_b", "-", "318.15"])
TEXT = st.lists(TOKENS, max_size=40).map(lambda toks: " ".join(toks).encode("utf-8", "surrogateescape"))
RAW = st.binary(max_size=200)
SEED_FLP = b"a 1e-3 1e-3 0 0\nb 1e-3 1e-3 1e-3 0\n"


def check(reader, path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        reader(path)
    except FormatError as exc:
        assert exc.path == path and str(path) in str(exc)
        if exc.line is not None:
            assert 1 <= exc.line <= data.count(b"\n") + 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(TEXT, RAW, st.binary(max_size=40).map(lambda b: SEED_FLP + b)))
def test_readers_raise_only_format_errors(tmp_path, data):
    fp = read_flp(_seed(tmp_path))
    check(read_flp, tmp_path / "f.flp", data)
    check(lambda p: read_ptrace(p, fp), tmp_path / "f.ptrace", b"a b\n" + data)
    check(read_config, tmp_path / "f.config", data)
    check(lambda p: read_temperature_file(p, ["a", "b"]), tmp_path / "f.steady", data)


def _seed(tmp_path):
    p = tmp_path / "seed.flp"
    p.write_bytes(SEED_FLP)
    return p


def test_truncated_and_overlapping_examples(tmp_path):
    """Fixed examples the fuzzer is meant to cover, so they are always run."""
    for data, line in ((SEED_FLP[:-9], 2), (b"a 1e-3 1e-3 0 0\nb 1e-3 1e-3 0.2e-3 0.2e-3\n", 2),
                       (b"a NaN 1e-3 0 0\n", 1), (b"a 1e-3 1e-3 0 0\n\x80\n", 2)):
        (tmp_path / "t.flp").write_bytes(data)
        try:
            read_flp(tmp_path / "t.flp")
        except FormatError as exc:
            assert exc.line == line, (data, exc)
        else:
            raise AssertionError(f"accepted {data!r}")
    names, rows = read_ptrace(_ptrace(tmp_path), read_flp(_seed(tmp_path)))
    assert names == ["a", "b"] and np.array_equal(rows, [[1.0, 2.0]])


def _ptrace(tmp_path):
    p = tmp_path / "ok.ptrace"
    p.write_text("a b\n1 2\n")
    return p
