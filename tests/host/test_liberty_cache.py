"""The parsed-Liberty cache (flow.formats.parsed_cache): a hit gives what parsing gives, and any
change to the file, the reader or the entry is parsed again — never an old result."""

from __future__ import annotations

import numpy as np
import pytest

from flow.errors import FormatError
from flow.formats import liberty, parsed_cache
from flow.formats.liberty import read_liberty

LIB = """library (tiny) {
  time_unit : "1ns" ;
  capacitive_load_unit (1, pf) ;
  nom_voltage : 1.1 ;
  lu_table_template (t2) { variable_1 : input_net_transition ; variable_2 : total_output_net_capacitance ;
    index_1 ("0.01, 0.1") ; index_2 ("0.001, 0.01") ; }
  cell (INV) {
    area : 1.0 ;
    pin (A) { direction : input ; capacitance : CAP ; }
    pin (Y) { direction : output ; function : "!A" ;
      timing () { related_pin : "A" ; timing_sense : negative_unate ;
        cell_rise (t2) { values ("0.01, 0.02", "0.03, 0.04") ; }
        cell_fall (t2) { values ("0.01, 0.02", "0.03, 0.05") ; }
        rise_transition (scalar) { values ("0.01") ; }
        fall_transition (scalar) { values ("0.01") ; }
      }
    }
  }
}
"""


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("VHFLOW_CACHE_DIR", str(d))
    monkeypatch.delenv("VHFLOW_NO_CACHE", raising=False)
    return d


@pytest.fixture
def parses(monkeypatch):
    """Count the real parses."""
    calls = []
    real = liberty._parse

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(liberty, "_parse", counting)
    return calls


def _write(path, cap="0.001"):
    path.write_text(LIB.replace("CAP", cap))
    return path


def _same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    return a == b


def _entries(d):
    return sorted((d / "liberty").glob("*.pickle"))


def test_hit_is_what_parsing_gives(tmp_path, cache_dir, parses):
    p = _write(tmp_path / "a.lib")
    first = read_liberty(p)
    second = read_liberty(p)
    assert len(parses) == 1 and len(_entries(cache_dir)) == 1
    assert _same(first, second)
    assert _same(second, read_liberty(p, cache=False))
    assert second["cells"]["INV"]["pins"]["A"]["capacitance"] == pytest.approx(1e-15)
    assert second["cells"]["INV"]["timing_arcs"][0]["tables"]["cell_fall"]["values"][1, 1] == pytest.approx(0.05e-9)


def test_changed_file_is_parsed_again(tmp_path, cache_dir, parses):
    p = _write(tmp_path / "a.lib")
    assert read_liberty(p)["cells"]["INV"]["pins"]["A"]["capacitance"] == pytest.approx(1e-15)
    _write(p, cap="0.002")  # same name, same size, new content
    assert read_liberty(p)["cells"]["INV"]["pins"]["A"]["capacitance"] == pytest.approx(2e-15)
    assert len(parses) == 2


def test_same_bytes_elsewhere_name_their_own_path(tmp_path, cache_dir, parses):
    a = _write(tmp_path / "a.lib")
    b = _write(tmp_path / "b.lib")
    assert read_liberty(a)["path"] == str(a)
    assert read_liberty(b)["path"] == str(b)
    assert len(parses) == 1


def test_new_reader_version_misses(tmp_path, cache_dir, monkeypatch, parses):
    p = _write(tmp_path / "a.lib")
    read_liberty(p)
    monkeypatch.setattr(parsed_cache, "source_version", lambda modules: b"another reader")
    read_liberty(p)
    assert len(parses) == 2 and len(_entries(cache_dir)) == 2


def test_reader_version_follows_its_source(tmp_path):
    mod = tmp_path / "fake_reader_mod.py"
    mod.write_text("X = 1\n")
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("fake_reader_mod", mod)
    m = importlib.util.module_from_spec(spec)
    sys.modules["fake_reader_mod"] = m
    try:
        v1 = parsed_cache.source_version(["fake_reader_mod"])
        mod.write_text("X = 2\n")
        assert parsed_cache.source_version(["fake_reader_mod"]) != v1
    finally:
        del sys.modules["fake_reader_mod"]


def test_corrupt_entry_is_parsed_again_and_rewritten(tmp_path, cache_dir, parses):
    p = _write(tmp_path / "a.lib")
    read_liberty(p)
    (entry,) = _entries(cache_dir)
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    lib = read_liberty(p)
    assert lib["cells"]["INV"]["pins"]["A"]["capacitance"] == pytest.approx(1e-15)
    assert len(parses) == 2
    read_liberty(p)
    assert len(parses) == 2  # the rewritten entry is used


def test_bad_file_is_an_error_every_time_and_not_kept(tmp_path, cache_dir):
    p = _write(tmp_path / "bad.lib", cap="6-nan")
    for _ in range(2):
        with pytest.raises(FormatError) as err:
            read_liberty(p)
        assert err.value.path == p and err.value.line == 9
    assert not _entries(cache_dir)


def test_missing_file_is_the_readers_error(tmp_path, cache_dir):
    with pytest.raises(FormatError):
        read_liberty(tmp_path / "none.lib")


def test_no_cache_switch(tmp_path, cache_dir, monkeypatch, parses):
    monkeypatch.setenv("VHFLOW_NO_CACHE", "1")
    p = _write(tmp_path / "a.lib")
    read_liberty(p)
    read_liberty(p)
    assert len(parses) == 2 and not cache_dir.exists()


def test_unwritable_cache_only_slower(tmp_path, monkeypatch, parses):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("VHFLOW_CACHE_DIR", str(blocker / "below-a-file"))
    p = _write(tmp_path / "a.lib")
    assert read_liberty(p)["cells"]["INV"]["area"] == pytest.approx(1e-12)
    assert read_liberty(p)["cells"]["INV"]["area"] == pytest.approx(1e-12)
    assert len(parses) == 2


def test_least_recently_used_entries_pruned(tmp_path, cache_dir, monkeypatch, parses):
    import os

    monkeypatch.setattr(parsed_cache, "MAX_ENTRIES", 2)
    paths = [_write(tmp_path / f"l{k}.lib", cap=f"0.00{k + 1}") for k in range(3)]
    read_liberty(paths[0])
    read_liberty(paths[1])
    old, new = sorted(_entries(cache_dir), key=lambda e: e.stat().st_mtime)
    for e, age in ((old, 200), (new, 100)):
        os.utime(e, (e.stat().st_mtime - age,) * 2)
    read_liberty(paths[0])  # a hit makes it the most recently used
    read_liberty(paths[2])  # a third entry: the least recently used one (l1) goes
    assert len(_entries(cache_dir)) == 2 and len(parses) == 3
    read_liberty(paths[0])
    read_liberty(paths[2])
    assert len(parses) == 3
    read_liberty(paths[1])
    assert len(parses) == 4
